//! WordNet 3.0 glosses (Debian `wordnet-base`).
//!
//! Layout: `raw/wordnet/data.{noun,verb,adj,adv}`. After a license header (lines starting
//! with two spaces), each line is one synset:
//! `offset lex_filenum ss_type w_cnt word lex_id [word lex_id ...] p_cnt [pointers] [frames] | gloss`
//! with `w_cnt` in hexadecimal. Each synset becomes `word1, word2: gloss`; 50 per document.

use std::path::Path;

use super::common::{push_grouped, read_text, source_dir, source_file};
use super::RawDoc;
use crate::CorpusError;

/// Synsets per document.
const SYNSETS_PER_DOC: usize = 50;
const DATA_FILES: [&str; 4] = ["data.noun", "data.verb", "data.adj", "data.adv"];

/// Reads `raw_root/wordnet` into documents of synset glosses.
pub(crate) fn read(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = source_dir(raw_root, "wordnet", "wordnet")?;
    let mut docs = Vec::new();
    for name in DATA_FILES {
        let path = source_file(&dir, name, "wordnet")?;
        let mut synsets = Vec::new();
        for (number, line) in read_text(&path)?.lines().enumerate() {
            if line.starts_with("  ") || line.trim().is_empty() {
                continue; // license header
            }
            let synset = parse_synset(line).ok_or_else(|| {
                CorpusError::malformed(&path, format!("line {}: not a WordNet synset", number + 1))
            })?;
            synsets.push(synset);
        }
        push_grouped(&mut docs, "wordnet", &synsets, SYNSETS_PER_DOC, "\n");
    }
    Ok(docs)
}

/// One synset line → `word1, word2: gloss`, or `None` when the line does not parse.
fn parse_synset(line: &str) -> Option<String> {
    let (fields, gloss) = line.split_once(" | ").unwrap_or((line, ""));
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let count = usize::from_str_radix(fields.get(3)?, 16).ok()?;
    if count == 0 {
        return None;
    }
    let words: Vec<String> =
        (0..count).map(|i| fields.get(4 + 2 * i).map(|w| clean_word(w))).collect::<Option<_>>()?;
    let gloss = gloss.trim();
    Some(if gloss.is_empty() { words.join(", ") } else { format!("{}: {gloss}", words.join(", ")) })
}

/// `ice_cream` → `ice cream`; drops the adjective position markers `(a)`, `(p)`, `(ip)`.
fn clean_word(word: &str) -> String {
    let word = word.split_once('(').map_or(word, |(w, _)| w);
    word.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_synset_lines() {
        let noun = "00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 \
                    ~ 00023100 n 0000 | a general concept formed by extracting features  ";
        assert_eq!(
            parse_synset(noun).unwrap(),
            "abstraction, abstract entity: a general concept formed by extracting features"
        );
        let adj = "00003552 00 s 0a galore(ip) 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 h 0 i 0 000 | many";
        assert_eq!(parse_synset(adj).unwrap(), "galore, a, b, c, d, e, f, g, h, i: many");
        assert_eq!(parse_synset("garbage"), None);
        assert_eq!(parse_synset("1 2 n 03 only_one 0 | too few words"), None);
    }

    #[test]
    fn reads_a_folder_and_skips_the_header() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wordnet");
        std::fs::create_dir(&dir).unwrap();
        for name in DATA_FILES {
            std::fs::write(dir.join(name), "  1 license line  \n").unwrap();
        }
        std::fs::write(
            dir.join("data.verb"),
            "  1 license\n00001740 29 v 01 breathe 0 000 | draw air\n",
        )
        .unwrap();
        let docs = read(tmp.path()).unwrap();
        assert_eq!(docs, [RawDoc::new("wordnet", "breathe: draw air")]);

        std::fs::write(dir.join("data.adv"), "oops\n").unwrap();
        assert!(matches!(
            read(tmp.path()),
            Err(CorpusError::File(mixagent_core::FileError::Malformed { .. }))
        ));
    }

    #[test]
    fn missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(read(tmp.path()), Err(CorpusError::MissingSource { .. })));
    }
}
