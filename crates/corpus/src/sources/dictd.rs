//! dictd dictionaries: GCIDE (Debian `dict-gcide`) and FOLDOC (Debian `dict-foldoc`).
//!
//! Layout: `raw/<name>/<name>.index` and `raw/<name>/<name>.dict.dz`. The `.dict.dz` is
//! dictzip, which is gzip with an extra header field, so a plain gzip decoder reads it whole.
//! Each index line is `headword \t offset \t length`, the numbers in dictd's own base64
//! (digits `A-Za-z0-9+/` = 0..63, most significant first) pointing into the decompressed text.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::common::{push_grouped, read_text, source_dir, source_file, squeeze_blank_lines};
use super::RawDoc;
use crate::CorpusError;

/// Entries per document: one entry is often a single line, too short to be a document.
const ENTRIES_PER_DOC: usize = 20;

/// Which dictionary, since each has its own markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dict {
    /// GNU Collaborative International Dictionary of English → domain `dictionary`.
    Gcide,
    /// Free On-line Dictionary of Computing → domain `foldoc`.
    Foldoc,
}

impl Dict {
    fn name(self) -> &'static str {
        match self {
            Dict::Gcide => "gcide",
            Dict::Foldoc => "foldoc",
        }
    }

    fn domain(self) -> &'static str {
        match self {
            Dict::Gcide => "dictionary",
            Dict::Foldoc => "foldoc",
        }
    }
}

/// Reads one dictionary into documents of ~20 consecutive entries.
pub(crate) fn read(raw_root: &Path, dict: Dict) -> Result<Vec<RawDoc>, CorpusError> {
    let name = dict.name();
    let dir = source_dir(raw_root, name, name)?;
    let index_path = source_file(&dir, &format!("{name}.index"), name)?;
    let data_path = source_file(&dir, &format!("{name}.dict.dz"), name)?;

    let spans = entry_spans(&read_text(&index_path)?)
        .map_err(|msg| CorpusError::malformed(&index_path, msg))?;
    let mut data = Vec::new();
    std::fs::File::open(&data_path)
        .and_then(|f| MultiGzDecoder::new(f).read_to_end(&mut data))
        .map_err(|e| CorpusError::io(&data_path, e))?;

    let mut entries = Vec::with_capacity(spans.len());
    for (offset, length) in spans {
        let bytes = usize::try_from(offset + length)
            .ok()
            .and_then(|end| data.get(offset as usize..end))
            .ok_or_else(|| {
                CorpusError::malformed(
                    &index_path,
                    format!(
                        "entry at {offset}+{length} runs past the {} bytes of {name}.dict.dz; \
                         the index and data do not match: re-run scripts/setup.sh",
                        data.len()
                    ),
                )
            })?;
        let raw = String::from_utf8_lossy(bytes).replace('\u{FFFD}', "");
        let text = match dict {
            Dict::Gcide => clean_gcide(&raw),
            Dict::Foldoc => clean_foldoc(&raw),
        };
        if !text.is_empty() {
            entries.push(text);
        }
    }
    let mut docs = Vec::new();
    push_grouped(&mut docs, dict.domain(), &entries, ENTRIES_PER_DOC, "\n\n");
    Ok(docs)
}

/// The distinct `(offset, length)` spans of the index in text order, without the
/// `00-database-*` meta entries. Several headwords share one entry (synonyms, spellings),
/// hence the dedup.
fn entry_spans(index: &str) -> Result<Vec<(u64, u64)>, String> {
    let mut spans = BTreeSet::new();
    let mut meta = BTreeSet::new();
    for (number, line) in index.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(headword), Some(off), Some(len)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("line {}: expected `headword\\toffset\\tlength`", number + 1));
        };
        let (Some(off), Some(len)) = (decode_number(off), decode_number(len)) else {
            return Err(format!("line {}: offset or length is not dictd base64", number + 1));
        };
        if headword.starts_with("00-database-") || headword.starts_with("00database") {
            meta.insert((off, len));
        } else {
            spans.insert((off, len));
        }
    }
    // GCIDE repeats the meta entries under other names (00-gcide-long, ...): drop those too.
    Ok(spans.difference(&meta).copied().collect())
}

/// Decodes one dictd base64 number; `None` on an empty string, a bad digit or overflow.
fn decode_number(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, c| {
        let digit = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc.checked_mul(64)?.checked_add(u64::from(digit))
    })
}

/// GCIDE entry → plain text: drops source attributions (`[1913 Webster]`), pronunciations
/// (`\A*buse"\`), cross-reference braces and any XML-ish tags or entities (`<ae/>` → `ae`).
fn clean_gcide(entry: &str) -> String {
    let mut out = String::with_capacity(entry.len());
    for line in entry.lines() {
        if is_attribution(line.trim()) {
            continue;
        }
        let line = strip_tags(&strip_pronunciations(line)).replace(['{', '}'], "");
        out.push_str(&line.replace(" ,", ","));
        out.push('\n');
    }
    squeeze_blank_lines(&out)
}

/// FOLDOC entry → plain text: only the cross-reference braces are markup; the `<language>`
/// category labels are kept as informative text.
fn clean_foldoc(entry: &str) -> String {
    squeeze_blank_lines(&entry.replace(['{', '}'], ""))
}

/// A line that only credits a source or editor: `[1913 Webster]`, `[WordNet 1.5 +PJC]`,
/// `[RDH]`. Usage labels such as `[Obs.]` stay, they carry meaning.
fn is_attribution(line: &str) -> bool {
    let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
        return false;
    };
    let initials = (2..=4).contains(&inner.len()) && inner.bytes().all(|b| b.is_ascii_uppercase());
    initials || ["Webster", "WordNet", "PJC", "Century Dict"].iter().any(|s| inner.contains(s))
}

/// Removes `\...\` pronunciation segments within a line.
fn strip_pronunciations(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('\\') {
        let Some(len) = rest[start + 1..].find('\\') else { break };
        out.push_str(rest[..start].trim_end());
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Removes `<tag>` markup, keeping the name of empty-element entities (`<ae/>` → `ae`).
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('<') {
        let tail = &rest[start + 1..];
        let end = tail.find('>').filter(|&e| e <= 40);
        let is_tag = tail.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
        let (Some(end), true) = (end, is_tag) else {
            out.push_str(&rest[..=start]);
            rest = tail;
            continue;
        };
        out.push_str(&rest[..start]);
        if let Some(entity) = tail[..end].strip_suffix('/') {
            out.push_str(entity);
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    #[test]
    fn decodes_dictd_base64() {
        assert_eq!(decode_number("A"), Some(0));
        assert_eq!(decode_number("B"), Some(1));
        assert_eq!(decode_number("/"), Some(63));
        assert_eq!(decode_number("BA"), Some(64));
        assert_eq!(decode_number("Kj"), Some(10 * 64 + 35)); // from gcide.index: 675
        assert_eq!(decode_number("a0"), Some(26 * 64 + 52));
        assert_eq!(decode_number(""), None);
        assert_eq!(decode_number("A=B"), None);
        assert_eq!(decode_number("//////////////"), None); // overflows u64
    }

    #[test]
    fn index_spans_are_deduped_sorted_and_skip_meta() {
        let index =
            "00-database-info\tA\tC\nb\tE\tB\na\tC\tC\nalias-of-a\tC\tC\n00-gcide-info\tA\tC\n";
        assert_eq!(entry_spans(index).unwrap(), [(2, 2), (4, 1)]);
        assert!(entry_spans("headword-only\n").is_err());
        assert!(entry_spans("a\t!!\tB\n").is_err());
    }

    #[test]
    fn cleans_gcide_markup() {
        let entry = "Abuse \\A*buse\"\\, v. t. See {Use}, <ae/>on.\n   [1913 Webster]\n\n\n   \
                     To deceive. [Obs.]\n   [WordNet 1.5 +PJC]\n";
        assert_eq!(clean_gcide(entry), "Abuse, v. t. See Use, aeon.\n\n   To deceive. [Obs.]");
        assert_eq!(strip_tags("a < b and <i>c</i>"), "a < b and c");
    }

    #[test]
    fn reads_a_dictionary_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("foldoc");
        std::fs::create_dir(&dir).unwrap();
        let text = "meta\nfoo\n   <language> A {bar}.\n";
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.join("foldoc.dict.dz"), gz.finish().unwrap()).unwrap();
        // meta at 0+5, foo at 5+27 (F = 5, b = 27)
        std::fs::write(dir.join("foldoc.index"), "00-database-short\tA\tF\nfoo\tF\tb\n").unwrap();
        let docs = read(tmp.path(), Dict::Foldoc).unwrap();
        assert_eq!(docs, [RawDoc::new("foldoc", "foo\n   <language> A bar.")]);

        std::fs::write(dir.join("foldoc.index"), "foo\tF\tZZ\n").unwrap();
        assert!(matches!(
            read(tmp.path(), Dict::Foldoc),
            Err(CorpusError::File(mixagent_core::FileError::Malformed { .. }))
        ));
    }

    #[test]
    fn missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(read(tmp.path(), Dict::Gcide), Err(CorpusError::MissingSource { .. })));
    }
}
