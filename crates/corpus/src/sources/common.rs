//! Helpers shared by the readers: locating raw folders, listing files in a fixed order,
//! reading text, and packing small items into documents.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::RawDoc;
use crate::CorpusError;

/// What to do when a raw source is missing.
pub(crate) const SETUP_HINT: &str = "run scripts/setup.sh";

/// The raw folder `raw_root/sub`, or `MissingSource` naming `source_name` when it is absent.
pub(crate) fn source_dir(
    raw_root: &Path,
    sub: &str,
    source_name: &str,
) -> Result<PathBuf, CorpusError> {
    let dir = raw_root.join(sub);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(missing(source_name, dir))
    }
}

/// The raw file `dir/name`, or `MissingSource` when it is absent.
pub(crate) fn source_file(
    dir: &Path,
    name: &str,
    source_name: &str,
) -> Result<PathBuf, CorpusError> {
    let file = dir.join(name);
    if file.is_file() {
        Ok(file)
    } else {
        Err(missing(source_name, file))
    }
}

fn missing(source_name: &str, path: PathBuf) -> CorpusError {
    CorpusError::MissingSource {
        source_name: source_name.to_string(),
        path,
        hint: SETUP_HINT.to_string(),
    }
}

/// All files under `dir` (recursively) whose name satisfies `keep`, sorted by path so that
/// readers are deterministic whatever order the file system lists them in.
pub(crate) fn list_files(
    dir: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, CorpusError> {
    let mut files = Vec::new();
    for entry in WalkDir::new(dir) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            CorpusError::io(path, e.into())
        })?;
        if entry.file_type().is_file() && entry.file_name().to_str().is_some_and(&keep) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a file as text. Invalid UTF-8 (a handful of stray cp1252 bytes in some sources) is
/// dropped rather than failing the whole source.
pub(crate) fn read_text(path: &Path) -> Result<String, CorpusError> {
    let bytes = std::fs::read(path).map_err(|e| CorpusError::io(path, e))?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).replace('\u{FFFD}', ""),
    })
}

/// Packs `items` into documents of `per_doc` consecutive items joined by `sep`, because many
/// sources (dictionary entries, synsets, Q/A pairs) are too short to be documents alone.
pub(crate) fn push_grouped(
    out: &mut Vec<RawDoc>,
    domain: &str,
    items: &[String],
    per_doc: usize,
    sep: &str,
) {
    for chunk in items.chunks(per_doc.max(1)) {
        let text = chunk.join(sep);
        if !text.trim().is_empty() {
            out.push(RawDoc::new(domain.to_string(), text));
        }
    }
}

/// Collapses runs of blank lines into one and trims the ends.
pub(crate) fn squeeze_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_items_into_documents() {
        let items: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let mut docs = Vec::new();
        push_grouped(&mut docs, "d", &items, 2, "\n");
        let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, ["0\n1", "2\n3", "4"]);
    }

    #[test]
    fn squeezes_blank_lines() {
        assert_eq!(squeeze_blank_lines("\n\na  \n\n\n\nb\nc\n\n"), "a\n\nb\nc");
    }

    #[test]
    fn missing_dir_is_missing_source() {
        let tmp = tempfile::tempdir().unwrap();
        let err = source_dir(tmp.path(), "nope", "nope").unwrap_err();
        assert!(matches!(err, CorpusError::MissingSource { ref hint, .. } if hint == SETUP_HINT));
    }

    #[test]
    fn lists_files_sorted_and_filtered() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("b")).unwrap();
        std::fs::write(tmp.path().join("b/z.py"), "").unwrap();
        std::fs::write(tmp.path().join("a.py"), "").unwrap();
        std::fs::write(tmp.path().join("c.txt"), "").unwrap();
        let files = list_files(tmp.path(), |n| n.ends_with(".py")).unwrap();
        let rel: Vec<_> = files.iter().map(|f| f.strip_prefix(tmp.path()).unwrap()).collect();
        assert_eq!(rel, [Path::new("a.py"), Path::new("b/z.py")]);
    }
}
