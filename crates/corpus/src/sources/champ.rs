//! CHAMP competition math problems (PyPI `champ-dataset`).
//!
//! Layout: `raw/champ/v0.json` = `{problems: {id: {_text, category, solution: {steps:
//! [{_text}]}, _answer, ...}}, concepts, hints}`. Each problem with its reference solution and
//! answer is one document (domain `math_competition`). The file also holds model-written
//! solutions (`fws_annotations`); those are not gold and are ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::common::{read_text, source_dir, source_file};
use super::RawDoc;
use crate::CorpusError;

#[derive(Deserialize)]
struct Champ {
    problems: BTreeMap<String, Problem>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(rename = "_text")]
    text: String,
    #[serde(default)]
    solution: Option<Solution>,
    #[serde(rename = "_answer", default)]
    answer: Option<String>,
}

#[derive(Deserialize)]
struct Solution {
    #[serde(default)]
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    #[serde(rename = "_text")]
    text: String,
}

/// Reads `raw_root/champ/v0.json`, problems in identifier order.
pub(crate) fn read(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = source_dir(raw_root, "champ", "champ")?;
    let path = source_file(&dir, "v0.json", "champ")?;
    let champ: Champ = serde_json::from_str(&read_text(&path)?).map_err(|e| {
        CorpusError::malformed(&path, format!("not a CHAMP v0.json ({e}): re-run scripts/setup.sh"))
    })?;
    Ok(champ
        .problems
        .values()
        .map(|p| RawDoc::new("math_competition".to_string(), render(p)))
        .collect())
}

fn render(problem: &Problem) -> String {
    let mut text = format!("Problem: {}", problem.text.trim());
    let steps: Vec<&str> = problem
        .solution
        .iter()
        .flat_map(|s| &s.steps)
        .map(|s| s.text.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !steps.is_empty() {
        text.push_str("\n\nSolution:\n");
        text.push_str(&steps.join("\n"));
    }
    if let Some(answer) = problem.answer.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        text.push_str("\n\nAnswer: ");
        text.push_str(answer);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_problem_solution_and_answer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("champ");
        std::fs::create_dir(&dir).unwrap();
        let json = r#"{"problems": {
            "P_2": {"_text": "Second?", "_answer": "2"},
            "P_1": {"_text": "What is 1+1?", "category": "Number-Theory",
                    "solution": {"steps": [{"_text": "Add.", "ch_idxs": []}, {"_text": "So 2."}]},
                    "_answer": "2", "fws_annotations": {"GPT": {"text": "wrong"}}}},
            "concepts": {}, "hints": {}}"#;
        std::fs::write(dir.join("v0.json"), json).unwrap();
        let docs = read(tmp.path()).unwrap();
        assert_eq!(docs[0].text, "Problem: What is 1+1?\n\nSolution:\nAdd.\nSo 2.\n\nAnswer: 2");
        assert_eq!(docs[1].text, "Problem: Second?\n\nAnswer: 2");
        assert!(docs.iter().all(|d| d.domain == "math_competition"));

        std::fs::write(dir.join("v0.json"), r#"{"problems": 3}"#).unwrap();
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
