//! Source code: the Python standard library (Debian `libpython3.11-minimal` and
//! `-stdlib`), Rust crates from the cargo registry (the workspace's `Cargo.lock`), and C headers
//! (Debian `libc6-dev` and `linux-libc-dev`), one document per file. Every one is pinned to a
//! package, never read from the machine's own installation.
//!
//! Layouts (copied by `scripts/setup.sh`, tests and oversized files already left out):
//! `raw/python3.11-stdlib/**/*.py`, `raw/rust-crates/<crate-version>/**/*.rs`,
//! `raw/libc-headers/**/*.h`.

use std::path::Path;

use super::common::{list_files, read_text, source_dir};
use super::RawDoc;
use crate::CorpusError;

/// The raw folders of the two Debian-pinned code sources.
pub(crate) const PYTHON_STDLIB: &str = "python3.11-stdlib";
pub(crate) const C_HEADERS: &str = "libc-headers";

/// Which code source to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// `raw/python3.11-stdlib`: `code_python` (top-level modules) and `code_python_packages`.
    PythonStdlib,
    /// `raw/rust-crates`: `code_rust`.
    RustCrates,
    /// `raw/libc-headers`: `code_c`.
    CHeaders,
}

/// Reads one code source into one document per (non-empty) file.
pub(crate) fn read(raw_root: &Path, code: Code) -> Result<Vec<RawDoc>, CorpusError> {
    let (sub, extension) = match code {
        Code::PythonStdlib => (PYTHON_STDLIB, ".py"),
        Code::RustCrates => ("rust-crates", ".rs"),
        Code::CHeaders => (C_HEADERS, ".h"),
    };
    let dir = source_dir(raw_root, sub, sub)?;
    let mut docs = Vec::new();
    for path in list_files(&dir, |name| name.ends_with(extension))? {
        let text = read_text(&path)?;
        if text.trim().is_empty() {
            continue; // e.g. empty `__init__.py`
        }
        let domain = match code {
            // Packages (json/, email/, asyncio/...) are larger, more structured code than
            // single-file modules; splitting gives the code field a fourth domain.
            Code::PythonStdlib => {
                let depth = path.strip_prefix(&dir).map_or(1, |rel| rel.components().count());
                if depth >= 2 {
                    "code_python_packages"
                } else {
                    "code_python"
                }
            }
            Code::RustCrates => "code_rust",
            Code::CHeaders => "code_c",
        };
        docs.push(RawDoc::new(domain.to_string(), text));
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn splits_python_modules_from_packages() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "python3.11-stdlib/os.py", "import sys\n");
        write(tmp.path(), "python3.11-stdlib/json/decoder.py", "class JSONDecoder: pass\n");
        write(tmp.path(), "python3.11-stdlib/json/__init__.py", "");
        write(tmp.path(), "python3.11-stdlib/README.txt", "not code");
        let docs = read(tmp.path(), Code::PythonStdlib).unwrap();
        let got: Vec<(&str, &str)> =
            docs.iter().map(|d| (d.domain.as_str(), d.text.as_str())).collect();
        assert_eq!(
            got,
            [
                ("code_python_packages", "class JSONDecoder: pass\n"),
                ("code_python", "import sys\n")
            ]
        );
    }

    #[test]
    fn reads_rust_and_c() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "rust-crates/foo-1.0.0/src/lib.rs", "pub fn f() {}\n");
        write(tmp.path(), "libc-headers/sys/types.h", "typedef int x;\n");
        assert_eq!(read(tmp.path(), Code::RustCrates).unwrap()[0].domain, "code_rust");
        assert_eq!(read(tmp.path(), Code::CHeaders).unwrap()[0].domain, "code_c");
    }

    #[test]
    fn missing_folders_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        for code in [Code::PythonStdlib, Code::RustCrates, Code::CHeaders] {
            assert!(matches!(read(tmp.path(), code), Err(CorpusError::MissingSource { .. })));
        }
    }
}
