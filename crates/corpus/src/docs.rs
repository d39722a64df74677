//! Labelled documents: cleaning, exact dedup, per-domain caps, the held-out split, and the
//! readers of users' own corpora (JSONL, one folder per domain, unlabelled text).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mixagent_core::seed::{derive, mix64};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::sources::common::squeeze_blank_lines;
use crate::CorpusError;

/// A cleaned document with its field and domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledDoc {
    /// Field name.
    pub field: String,
    /// Domain name.
    pub domain: String,
    /// The source it came from (for the manifest).
    pub source: String,
    /// The text.
    pub text: String,
}

/// Normalises whitespace so the same text always tokenizes the same: `\r\n` → `\n`, trailing
/// spaces dropped, control characters (but tab and newline) removed, at most one blank line
/// in a row, no leading or trailing blank lines.
pub fn clean_text(text: &str) -> String {
    let normalised: String = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\t' || *c == '\n')
        .collect();
    squeeze_blank_lines(&normalised)
}

/// A 64-bit content hash of a text (first 8 bytes of SHA-256).
pub fn text_hash(text: &str) -> u64 {
    let d = Sha256::digest(text.as_bytes());
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Cleans, drops short documents and exact duplicates (within a domain), and caps each domain
/// at `max_bytes` by keeping documents in a seeded order that does not depend on input order.
/// The result is sorted by (domain, seeded order), so it is deterministic.
pub fn clean_and_cap(
    docs: Vec<LabelledDoc>,
    min_chars: usize,
    max_bytes: u64,
    seed: u64,
) -> Vec<LabelledDoc> {
    let mut seen: HashSet<(String, u64)> = HashSet::new();
    let mut keyed: Vec<(String, u64, LabelledDoc)> = Vec::with_capacity(docs.len());
    for mut d in docs {
        d.text = clean_text(&d.text);
        if d.text.chars().count() < min_chars {
            continue;
        }
        let h = text_hash(&d.text);
        if !seen.insert((d.domain.clone(), h)) {
            continue;
        }
        keyed.push((d.domain.clone(), mix64(h ^ derive(seed, "corpus.order", 0)), d));
    }
    keyed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut out = Vec::with_capacity(keyed.len());
    let (mut domain, mut bytes) = (String::new(), 0u64);
    for (dom, _, d) in keyed {
        if dom != domain {
            domain = dom;
            bytes = 0;
        }
        if bytes >= max_bytes {
            continue;
        }
        bytes += d.text.len() as u64;
        out.push(d);
    }
    out
}

/// Whether a document is held out: a seeded hash of its content below `fraction`, so the split
/// does not depend on reading order and a document never moves between splits across runs.
pub fn is_heldout(text: &str, fraction: f64, seed: u64) -> bool {
    let u = (mix64(text_hash(text) ^ derive(seed, "corpus.split", 0)) >> 11) as f64
        / (1u64 << 53) as f64;
    u < fraction
}

#[derive(Deserialize)]
struct JsonlLine {
    text: String,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    field: Option<String>,
}

/// Reads a JSONL corpus; every line needs `text`, and `domain`/`field` unless defaults are
/// given. A bad line is an error naming the file and line.
pub fn read_jsonl(
    path: &Path,
    field: Option<&str>,
    domain: Option<&str>,
) -> Result<Vec<LabelledDoc>, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: JsonlLine = serde_json::from_str(line).map_err(|e| {
            CorpusError::malformed(
                path,
                format!(
                    "line {}: {e} (each line needs a JSON object with `text`, `domain`, `field`)",
                    i + 1
                ),
            )
        })?;
        let missing = |what: &str| {
            CorpusError::malformed(
                path,
                format!("line {}: no `{what}` and no default `{what}` in the config", i + 1),
            )
        };
        let domain = l.domain.or(domain.map(str::to_string)).ok_or_else(|| missing("domain"))?;
        let field = l.field.or(field.map(str::to_string)).ok_or_else(|| missing("field"))?;
        out.push(LabelledDoc {
            field,
            domain,
            source: format!("jsonl:{}", path.display()),
            text: l.text,
        });
    }
    Ok(out)
}

/// Reads `path/<domain>/**` where every file is one UTF-8 document.
pub fn read_folders(path: &Path, field: &str) -> Result<Vec<LabelledDoc>, CorpusError> {
    let mut out = Vec::new();
    for dir in sorted_entries(path)? {
        if !dir.is_dir() {
            continue;
        }
        let domain = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for file in sorted_files(&dir)? {
            let text = std::fs::read(&file).map_err(|e| CorpusError::io(&file, e))?;
            let text = String::from_utf8(text)
                .map_err(|_| CorpusError::malformed(&file, "not UTF-8 text"))?;
            out.push(LabelledDoc {
                field: field.into(),
                domain: domain.clone(),
                source: format!("folders:{}", path.display()),
                text,
            });
        }
    }
    Ok(out)
}

/// Reads unlabelled text: every file under a folder, or every line's `text` of a `.jsonl`.
pub fn read_unlabelled(path: &Path) -> Result<Vec<String>, CorpusError> {
    if path.extension().is_some_and(|e| e == "jsonl") {
        return Ok(read_jsonl(path, Some("x"), Some("x"))?.into_iter().map(|d| d.text).collect());
    }
    sorted_files(path)?
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).map_err(|e| CorpusError::io(&f, e))?;
            String::from_utf8(bytes).map_err(|_| CorpusError::malformed(&f, "not UTF-8 text"))
        })
        .collect()
}

fn sorted_entries(path: &Path) -> Result<Vec<PathBuf>, CorpusError> {
    let rd = std::fs::read_dir(path).map_err(|e| CorpusError::io(path, e))?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

fn sorted_files(path: &Path) -> Result<Vec<PathBuf>, CorpusError> {
    if !path.is_dir() {
        return Err(CorpusError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "folder not found"),
        ));
    }
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(domain: &str, text: &str) -> LabelledDoc {
        LabelledDoc {
            field: "general".into(),
            domain: domain.into(),
            source: "t".into(),
            text: text.into(),
        }
    }

    #[test]
    fn cleaning_normalises_whitespace() {
        assert_eq!(clean_text("\n\n a  \r\nb\t \n\n\n\nc\u{7}d\n"), " a\nb\n\ncd");
    }

    #[test]
    fn dedup_min_length_and_cap() {
        let docs = vec![
            doc("a", "same text here"),
            doc("a", "same text here"),
            doc("b", "same text here"),
            doc("a", "x"),
            doc("a", "another document"),
        ];
        let out = clean_and_cap(docs.clone(), 5, u64::MAX, 1);
        assert_eq!(out.iter().filter(|d| d.domain == "a").count(), 2);
        assert_eq!(out.iter().filter(|d| d.domain == "b").count(), 1);
        let capped = clean_and_cap(docs, 5, 1, 1);
        assert_eq!(capped.iter().filter(|d| d.domain == "a").count(), 1);
        // Order of the input does not matter.
        let mut rev = vec![doc("a", "another document"), doc("a", "same text here")];
        let fwd = clean_and_cap(rev.clone(), 1, u64::MAX, 3);
        rev.reverse();
        assert_eq!(clean_and_cap(rev, 1, u64::MAX, 3), fwd);
    }

    #[test]
    fn heldout_fraction_is_respected() {
        let n = 20_000;
        let held = (0..n).filter(|i| is_heldout(&format!("doc {i}"), 0.1, 5)).count();
        assert!((held as f64 / n as f64 - 0.1).abs() < 0.01, "{held}");
        assert_eq!(is_heldout("x", 0.5, 1), is_heldout("x", 0.5, 1));
    }

    #[test]
    fn jsonl_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        std::fs::write(&p, "{\"text\":\"a\",\"domain\":\"d\",\"field\":\"f\"}\n{\"text\": 3}\n")
            .unwrap();
        let e = read_jsonl(&p, None, None).unwrap_err().to_string();
        assert!(e.contains("c.jsonl") && e.contains("line 2"), "{e}");
        std::fs::write(&p, "{\"text\":\"a\"}\n").unwrap();
        assert!(read_jsonl(&p, None, None).unwrap_err().to_string().contains("no `domain`"));
        assert_eq!(read_jsonl(&p, Some("f"), Some("d")).unwrap()[0].domain, "d");
    }
}
