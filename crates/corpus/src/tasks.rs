//! A user's own benchmark tasks (their MMLU, their code tests), brought as JSONL beside the
//! corpus config and scored by `mixagent eval --suite full` with the living benchmarks.
//!
//! ```toml
//! [[task]]
//! path = "my-tasks.jsonl"   # relative to the config file
//! field = "target"          # optional: the field of lines that name none
//! ```
//!
//! Each line is one item of a named task, multiple choice or exact match:
//!
//! ```json
//! {"task": "units", "field": "target", "prompt": "1 km is", "options": [" 1000 m", " 10 m"], "correct": 0}
//! {"task": "sums", "field": "target", "prompt": "2 + 2 =", "answer": "4"}
//! ```
//!
//! `prepare` checks every line (a field the corpus has, a prompt, two or more distinct options
//! with `correct` among them or an exact answer, one kind per task), drops items that share a
//! word n-gram with training text (as it does for feedback sets), and writes the rest to
//! `tasks.jsonl` in the corpus, which the corpus fingerprint covers.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::feedback::TrainingNgrams;
use crate::CorpusError;

/// The file a corpus's user tasks are written to, beside its manifest.
pub const TASKS_FILE: &str = "tasks.jsonl";

/// One `[[task]]` table of the corpus config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// The JSONL file (relative to the config file).
    pub path: PathBuf,
    /// The field of lines that name none.
    #[serde(default)]
    pub field: Option<String>,
}

/// One item of a user's task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskItem {
    /// The task it belongs to.
    pub task: String,
    /// The field it counts for.
    pub field: String,
    /// What the model reads.
    pub prompt: String,
    /// Multiple choice: the options, each a continuation of the prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Multiple choice: the index of the right option.
    #[serde(default)]
    pub correct: usize,
    /// Exact match: the answer (compared with the first generated line, trimmed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub answer: String,
}

/// Reads and checks a user's task file; `fields` are the corpus's fields.
pub fn read_tasks(cfg: &TaskConfig, fields: &[&str]) -> Result<Vec<TaskItem>, CorpusError> {
    let path = &cfg.path;
    let text = std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))?;
    let mut out: Vec<TaskItem> = Vec::new();
    let mut kinds: BTreeMap<String, bool> = BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |m: String| {
            CorpusError::malformed(
                path,
                format!("line {}: {m}; each line is {{\"task\", \"field\", \"prompt\", \"options\", \"correct\"}} or {{\"task\", \"field\", \"prompt\", \"answer\"}}", n + 1),
            )
        };
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Line {
            task: String,
            #[serde(default)]
            field: Option<String>,
            prompt: String,
            #[serde(default)]
            options: Vec<String>,
            #[serde(default)]
            correct: Option<usize>,
            #[serde(default)]
            answer: Option<String>,
        }
        let l: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let field = l.field.or_else(|| cfg.field.clone()).ok_or_else(|| {
            bad("no `field` (give it on the line or as `field` in the [[task]] table)".into())
        })?;
        if !fields.contains(&field.as_str()) {
            return Err(bad(format!(
                "field `{field}` has no domain in this corpus (fields: {})",
                fields.join(", ")
            )));
        }
        if l.task.trim().is_empty() || l.prompt.trim().is_empty() {
            return Err(bad("empty `task` or `prompt`".into()));
        }
        let choice = match (l.options.is_empty(), &l.answer) {
            (false, None) => {
                let correct = l.correct.ok_or_else(|| bad("`options` without `correct`".into()))?;
                if l.options.len() < 2 || correct >= l.options.len() {
                    return Err(bad(format!(
                        "{} options with `correct` = {correct}: need two or more and `correct` among them (0-based)",
                        l.options.len()
                    )));
                }
                let distinct: HashSet<&String> = l.options.iter().collect();
                if distinct.len() < l.options.len() || l.options.iter().any(|o| o.trim().is_empty())
                {
                    return Err(bad("options must be distinct and not empty".into()));
                }
                true
            }
            (true, Some(a)) if !a.trim().is_empty() => false,
            _ => {
                return Err(bad(
                    "give either `options` and `correct`, or a non-empty `answer`".into()
                ))
            }
        };
        if *kinds.entry(l.task.clone()).or_insert(choice) != choice {
            return Err(bad(format!(
                "task `{}` mixes multiple-choice and exact-match items",
                l.task
            )));
        }
        out.push(TaskItem {
            task: l.task,
            field,
            prompt: l.prompt,
            options: l.options,
            correct: l.correct.unwrap_or(0),
            answer: l.answer.unwrap_or_default(),
        });
    }
    if out.is_empty() {
        return Err(CorpusError::malformed(path, "no task items in the file".to_string()));
    }
    Ok(out)
}

/// Drops every item whose prompt and right answer share a word n-gram with training text;
/// returns how many were dropped.
pub fn dedup_tasks(items: &mut Vec<TaskItem>, training: &TrainingNgrams) -> usize {
    let before = items.len();
    items.retain(|it| {
        let right = it.options.get(it.correct).unwrap_or(&it.answer);
        !training.overlaps(&format!("{} {right}", it.prompt))
    });
    before - items.len()
}

/// Reads the user tasks a prepared corpus holds (none when it has no `tasks.jsonl`).
pub fn load_tasks(dir: &Path) -> Result<Vec<TaskItem>, CorpusError> {
    let path = dir.join(TASKS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| CorpusError::io(&path, e))?;
    text.lines()
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| {
                CorpusError::malformed(
                    &path,
                    format!("line {}: {e}; re-run `mixagent prepare`", n + 1),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LabelledDoc;

    fn read(lines: &str) -> Result<Vec<TaskItem>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, lines).unwrap();
        read_tasks(&TaskConfig { path, field: None }, &["source", "target"])
            .map_err(|e| e.to_string())
    }

    #[test]
    fn both_kinds_read_and_bad_lines_are_named() {
        let ok = read(concat!(
            r#"{"task": "units", "field": "target", "prompt": "1 km is", "options": [" 1000 m", " 10 m"], "correct": 0}"#,
            "\n",
            r#"{"task": "sums", "field": "target", "prompt": "2 + 2 =", "answer": "4"}"#,
            "\n"
        ))
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].answer, "4");
        for (line, says) in [
            (
                r#"{"task": "a", "field": "math", "prompt": "p", "answer": "4"}"#,
                "field `math` has no domain in this corpus (fields: source, target)",
            ),
            (r#"{"task": "a", "prompt": "p", "answer": "4"}"#, "no `field`"),
            (
                r#"{"task": "a", "field": "target", "prompt": "p", "options": [" x", " y"], "correct": 2}"#,
                "`correct` among them",
            ),
            (
                r#"{"task": "a", "field": "target", "prompt": "p", "options": [" x", " x"], "correct": 0}"#,
                "distinct",
            ),
            (r#"{"task": "a", "field": "target", "prompt": "p"}"#, "either `options`"),
            (
                r#"{"task": "a", "field": "target", "prompt": "p", "answer": "4", "extra": 1}"#,
                "unknown field",
            ),
        ] {
            let e = read(line).unwrap_err();
            assert!(e.contains(says) && e.contains("line 1"), "{line}: {e}");
        }
        let mixed = concat!(
            r#"{"task": "a", "field": "target", "prompt": "p", "answer": "4"}"#,
            "\n",
            r#"{"task": "a", "field": "target", "prompt": "q", "options": [" x", " y"], "correct": 0}"#
        );
        assert!(read(mixed).unwrap_err().contains("line 2: task `a` mixes"));
        assert!(read("\n").unwrap_err().contains("no task items"));
    }

    #[test]
    fn items_seen_in_training_are_dropped() {
        let doc = |t: &str| LabelledDoc {
            text: t.into(),
            domain: "d".into(),
            field: "source".into(),
            source: "s".into(),
        };
        let words = "one two three four five six seven eight nine ten eleven twelve thirteen";
        let item = |p: &str| TaskItem {
            task: "t".into(),
            field: "source".into(),
            prompt: p.into(),
            options: vec![" thirteen".into(), " zero".into()],
            correct: 0,
            answer: String::new(),
        };
        let mut items = vec![
            item("one two three four five six seven eight nine ten eleven twelve"),
            item("fresh words"),
        ];
        assert_eq!(dedup_tasks(&mut items, &TrainingNgrams::new(&[doc(words)], 13)), 1);
        assert_eq!(items[0].prompt, "fresh words");
    }
}
