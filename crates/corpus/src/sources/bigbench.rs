//! BIG-bench JSON tasks used as training text: `vitaminc_fact_verification` (Wikipedia
//! evidence sentences) and `unit_conversion` (all sub-tasks, as Q/A pairs).
//!
//! Layout: `raw/bigbench/<task>/[<subtask>/]task.json`, each with
//! `examples: [{input, target_scores: {choice: score}} | {input, target}]`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::common::{list_files, push_grouped, read_text, source_file};
use super::detok::detokenize;
use super::RawDoc;
use crate::CorpusError;

/// Sentences or Q/A pairs per document.
const ITEMS_PER_DOC: usize = 20;

#[derive(Deserialize)]
struct Task {
    #[serde(default)]
    examples: Vec<Example>,
}

#[derive(Deserialize)]
struct Example {
    input: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    target_scores: BTreeMap<String, f64>,
}

/// BIG-bench allows one target string or a list of acceptable ones.
#[derive(Deserialize)]
#[serde(untagged)]
enum Target {
    One(String),
    Many(Vec<String>),
}

/// What a missing BIG-bench folder says: the registry stopped serving the package (2026-12-05).
const GONE_HINT: &str =
    "the package registry no longer serves bigbench 1.0.0, so scripts/setup.sh \
    installs it only from a cache that already holds it; the default corpus (configs/default.toml) \
    does not read it";

/// `raw/bigbench/<sub>`, or `MissingSource` saying why it may be absent.
fn bigbench_dir(raw_root: &Path, sub: &str, source_name: &str) -> Result<PathBuf, CorpusError> {
    let dir = raw_root.join("bigbench").join(sub);
    if dir.is_dir() {
        return Ok(dir);
    }
    Err(CorpusError::MissingSource {
        source_name: source_name.to_string(),
        path: dir,
        hint: GONE_HINT.to_string(),
    })
}

fn load_task(path: &Path) -> Result<Task, CorpusError> {
    serde_json::from_str(&read_text(path)?).map_err(|e| {
        CorpusError::malformed(
            path,
            format!("not a BIG-bench task.json ({e}): re-run scripts/setup.sh"),
        )
    })
}

/// VitaminC evidence → domain `encyclopedic`. Each input is `Title: evidence\nClaim: ...`;
/// the first line (title kept, it gives the sentence its topic) is the Wikipedia text. The
/// task pairs each evidence with several claims, so evidence lines are deduplicated.
pub(crate) fn read_vitaminc(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = bigbench_dir(raw_root, "vitaminc_fact_verification", "vitaminc")?;
    let path = source_file(&dir, "task.json", "vitaminc")?;
    let mut seen = HashSet::new();
    let mut sentences = Vec::new();
    for example in load_task(&path)?.examples {
        let evidence = example.input.lines().next().unwrap_or_default();
        let sentence = clean_evidence(evidence);
        if !sentence.is_empty() && seen.insert(sentence.clone()) {
            sentences.push(sentence);
        }
    }
    let mut docs = Vec::new();
    push_grouped(&mut docs, "encyclopedic", &sentences, ITEMS_PER_DOC, "\n");
    Ok(docs)
}

/// Undoes the tokenisation of the evidence (`( BPI ) ,` → `(BPI),`, `-LRB-` → `(`).
fn clean_evidence(line: &str) -> String {
    let line = line
        .replace("-LRB-", " ( ")
        .replace("-RRB-", " ) ")
        .replace("-LSB-", " [ ")
        .replace("-RSB-", " ] ")
        .replace("-LCB-", " { ")
        .replace("-RCB-", " } ")
        .replace("-COLON-", ":")
        .replace('\u{FFFD}', " "); // a lost non-breaking space in the source
    detokenize(line.split_whitespace())
}

/// Every `unit_conversion` sub-task → domain `math_unit_conversion`, as
/// `Question: ...\nAnswer: ...` with the correct answer.
pub(crate) fn read_unit_conversion(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = bigbench_dir(raw_root, "unit_conversion", "unit_conversion")?;
    let mut docs = Vec::new();
    for path in list_files(&dir, |name| name == "task.json")? {
        let pairs: Vec<String> = load_task(&path)?
            .examples
            .iter()
            .filter_map(|ex| {
                let answer = correct_answer(ex)?;
                Some(format!("Question: {}\nAnswer: {}", ex.input.trim(), answer.trim()))
            })
            .collect();
        push_grouped(&mut docs, "math_unit_conversion", &pairs, ITEMS_PER_DOC, "\n\n");
    }
    Ok(docs)
}

/// The highest-scoring choice (first on ties, in key order), else the first `target`.
fn correct_answer(example: &Example) -> Option<&str> {
    let best =
        example.target_scores.iter().fold(None::<(&String, f64)>, |best, (choice, &score)| {
            match best {
                Some((_, s)) if s >= score => best,
                _ => Some((choice, score)),
            }
        });
    if let Some((choice, _)) = best {
        return Some(choice);
    }
    match example.target.as_ref()? {
        Target::One(t) => Some(t),
        Target::Many(ts) => ts.first().map(String::as_str),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_task(root: &Path, rel: &str, json: &str) {
        let path = root.join("bigbench").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, json).unwrap();
    }

    #[test]
    fn cleans_evidence_tokens() {
        assert_eq!(
            clean_evidence(
                "Psycho -LRB-film-RRB-: It sold 9.8\u{FFFD}million copies ( BPI ) , in 1960 ."
            ),
            "Psycho (film): It sold 9.8 million copies (BPI), in 1960."
        );
    }

    #[test]
    fn vitaminc_dedupes_evidence() {
        let tmp = tempfile::tempdir().unwrap();
        write_task(
            tmp.path(),
            "vitaminc_fact_verification/task.json",
            r#"{"examples": [
                {"input": "A: x , y .\nClaim: c1", "target_scores": {"True": 1}},
                {"input": "A: x , y .\nClaim: c2", "target_scores": {"False": 1}},
                {"input": "B: z .\nClaim: c3", "target_scores": {"True": 1}}]}"#,
        );
        let docs = read_vitaminc(tmp.path()).unwrap();
        assert_eq!(docs, [RawDoc::new("encyclopedic", "A: x, y.\nB: z.")]);
    }

    #[test]
    fn unit_conversion_takes_the_correct_answer() {
        let tmp = tempfile::tempdir().unwrap();
        write_task(tmp.path(), "unit_conversion/task.json", r#"{"name": "unit_conversion"}"#);
        write_task(
            tmp.path(),
            "unit_conversion/a/task.json",
            r#"{"examples": [{"input": "20 km is ", "target_scores": {"2 m.": 0, "20000 m.": 1}}]}"#,
        );
        write_task(
            tmp.path(),
            "unit_conversion/b/task.json",
            r#"{"examples": [{"input": "1 kg = ____ g", "target": "1000"},
                             {"input": "2 kg = ____ g", "target": ["2000", "2e3"]}]}"#,
        );
        let docs = read_unit_conversion(tmp.path()).unwrap();
        let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Question: 20 km is\nAnswer: 20000 m.",
                "Question: 1 kg = ____ g\nAnswer: 1000\n\nQuestion: 2 kg = ____ g\nAnswer: 2000"
            ]
        );
        assert!(docs.iter().all(|d| d.domain == "math_unit_conversion"));
    }

    #[test]
    fn bad_json_is_malformed() {
        let tmp = tempfile::tempdir().unwrap();
        write_task(tmp.path(), "vitaminc_fact_verification/task.json", "{not json");
        assert!(matches!(
            read_vitaminc(tmp.path()),
            Err(CorpusError::File(mixagent_core::FileError::Malformed { .. }))
        ));
    }

    #[test]
    fn missing_folders_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        for err in [read_vitaminc(tmp.path()), read_unit_conversion(tmp.path())] {
            assert!(
                matches!(err, Err(CorpusError::MissingSource { ref hint, .. }) if hint == GONE_HINT),
                "{err:?}"
            );
        }
    }
}
