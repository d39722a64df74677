//! BIG-bench multiple-choice tasks read from their `task.json`.
//!
//! A BIG-bench JSON task is a folder with a `task.json` holding `examples` (each an `input`
//! and, for multiple choice, `target_scores`: option text → score) and optional formatting
//! fields. A composite task has a `task.json` without `examples` and one sub-task folder per
//! sub-task, each with its own `task.json` and its own formatting fields (nothing is inherited
//! from the parent).
//!
//! Prompts are built as BIG-bench's reference loader builds a zero-shot query
//! (`bigbench/api/json_task.py` of the `bigbench` 1.0.0 sdist, `default_format_fn`):
//!
//! ```text
//! task_prefix + example_input_prefix + input [+ choice_prefix + choice ...] + example_output_prefix
//! ```
//!
//! with the defaults `task_prefix = ""`, `example_input_prefix = "\nQ: "`,
//! `example_output_prefix = "\nA: "`, `choice_prefix = "\n  choice: "` and
//! `append_choices_to_input = true`. When choices are appended, BIG-bench lists them in a
//! seeded permutation of the sorted option texts, so that the listing does not give the answer
//! away (in `arithmetic` the correct key is nearly always the last one in the file); this module
//! does the same with its own permutation, derived from the example's input text alone.
//!
//! Each option is then scored by the model as a continuation of the prompt. BIG-bench scores
//! the bare option text; here an option gets a single leading space when the prompt does not
//! already end with whitespace, so that `"...A:"` + `" 270"` reads as text would.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::EvalError;

/// BIG-bench's default `example_input_prefix`.
const DEFAULT_INPUT_PREFIX: &str = "\nQ: ";
/// BIG-bench's default `example_output_prefix`.
const DEFAULT_OUTPUT_PREFIX: &str = "\nA: ";
/// BIG-bench's default `choice_prefix`.
const DEFAULT_CHOICE_PREFIX: &str = "\n  choice: ";
/// What to do when a task is not on disk.
const SETUP_HINT: &str = "run scripts/setup.sh to fetch and extract the BIG-bench tasks";
/// How deep sub-task folders are searched; BIG-bench itself uses one level. The bound also
/// stops symlink loops.
const MAX_DEPTH: usize = 4;

/// One multiple-choice item: the prompt and the options, each scored as a continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McItem {
    /// The text the model is conditioned on; it ends with the task's output prefix.
    pub prompt: String,
    /// The continuations to score, in the order of `target_scores` in the file, each with a
    /// leading space when `prompt` does not end with whitespace.
    pub options: Vec<String>,
    /// Index into `options` of the single best-scored option.
    pub correct: usize,
}

/// A loaded task.
#[derive(Debug, Clone, PartialEq)]
pub struct McTask {
    /// The task's folder name, e.g. `social_iqa`.
    pub name: String,
    /// The selected items, in file order (sub-tasks in sorted folder order).
    pub items: Vec<McItem>,
    /// Every `task.json` that was read, in load order (a composite task's own file included).
    pub files: Vec<PathBuf>,
}

impl McTask {
    /// Mean over items of 1 / number of options: the accuracy of guessing. 0 for no items.
    pub fn chance(&self) -> f64 {
        if self.items.is_empty() {
            return 0.0;
        }
        let sum: f64 = self.items.iter().map(|item| 1.0 / item.options.len().max(1) as f64).sum();
        sum / self.items.len() as f64
    }

    /// A stable 16-hex-digit fingerprint of the items (SHA-256 of prompts, options, answers).
    ///
    /// Every string is length-prefixed, so no two different item lists hash the same bytes.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"mixagent-bigbench-items-v1");
        for item in &self.items {
            hash_item(&mut hasher, &item.prompt, &item.options);
            hasher.update((item.correct as u64).to_le_bytes());
        }
        hasher.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Loads task `name` (a folder under `bigbench_root`, sub-task folders included, in sorted
/// order), keeping only examples with `target_scores` that have exactly one maximal score and
/// at least two options; takes at most `max_items`, chosen by a seeded shuffle (`seed`) so the
/// same arguments always give the same items.
///
/// Prompts follow BIG-bench's JSON format (see the module docs): `task_prefix` +
/// `example_input_prefix` (default `"\nQ: "`) + input + the listed choices when
/// `append_choices_to_input` (default true) + `example_output_prefix` (default `"\nA: "`).
/// Options keep the order of the `target_scores` keys in the file (read in order by this
/// module; a key repeated in one object keeps its first place and last score, as Python's
/// `json` does). Examples without `target_scores` (generative ones), with a tied best score,
/// with fewer than two options or with an empty option are skipped. Repeated examples (same
/// prompt and options) are kept once, and dropped altogether when the copies disagree on the
/// answer.
///
/// A `task.json` with `examples` is a task of its own; one without is a composite task whose
/// sub-task folders are loaded instead (also when the folder has no `task.json` at all). A
/// `subtasks` array of task objects inside a file is loaded too. Selection: when more than
/// `max_items` items are usable, a uniform subset of `max_items` is drawn with a ChaCha8 stream
/// derived from `seed` and `name` (so tasks draw independently) and kept in file order;
/// `usize::MAX` takes every item.
///
/// Errors: a bad `name` or a malformed file is [`FileError::Malformed`](mixagent_core::FileError::Malformed) naming the file (with
/// serde's line and column); a missing task folder or `task.json` is [`FileError::Io`](mixagent_core::FileError::Io) with
/// kind `NotFound` and a hint to run `scripts/setup.sh`; a task with no usable item, or
/// `max_items == 0`, is [`EvalError::Empty`] naming the task.
pub fn load_task(
    bigbench_root: &Path,
    name: &str,
    max_items: usize,
    seed: u64,
) -> Result<McTask, EvalError> {
    // A task (`social_iqa`) or one of its sub-tasks (`elementary_math_qa/question_only`).
    let components: Vec<Component<'_>> = Path::new(name).components().collect();
    if components.is_empty() || !components.iter().all(|c| matches!(c, Component::Normal(_))) {
        return Err(EvalError::malformed(
            bigbench_root,
            format!("`{name}` is not a BIG-bench task name (a folder such as `social_iqa` or `elementary_math_qa/question_only`)"),
        ));
    }
    let dir = bigbench_root.join(name);
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(EvalError::malformed(&dir, "a BIG-bench task must be a folder")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(not_found(&dir, "BIG-bench task folder not found"));
        }
        Err(e) => return Err(EvalError::io(&dir, e)),
    }

    let mut loader = Loader::default();
    loader.load_dir(&dir, 0)?;
    if loader.files.is_empty() {
        return Err(not_found(&dir.join("task.json"), "no task.json in the task folder"));
    }
    let files = std::mem::take(&mut loader.files);
    let items = loader.finish(name);
    let what = format!("BIG-bench task `{name}`");
    if items.is_empty() {
        return Err(EvalError::Empty {
            what,
            hint: "no example has `target_scores` with a single best option among two or more \
                   (generative-only tasks cannot be scored as multiple choice)"
                .into(),
        });
    }
    if max_items == 0 {
        return Err(EvalError::Empty { what, hint: "max_items is 0".into() });
    }
    let items = select(items, max_items, seed, name);
    Ok(McTask { name: name.to_string(), items, files })
}

/// An `Io` error of kind `NotFound` carrying the setup hint.
fn not_found(path: &Path, what: &str) -> EvalError {
    EvalError::io(path, io::Error::new(io::ErrorKind::NotFound, format!("{what}: {SETUP_HINT}")))
}

/// One `task.json` (or one entry of an inline `subtasks` array). Unknown fields (`metrics`,
/// `canary`, …) are ignored.
#[derive(Deserialize)]
struct TaskJson {
    name: Option<String>,
    examples: Option<Vec<Example>>,
    subtasks: Option<Vec<TaskJson>>,
    task_prefix: Option<String>,
    example_input_prefix: Option<String>,
    example_output_prefix: Option<String>,
    choice_prefix: Option<String>,
    append_choices_to_input: Option<bool>,
}

/// One example; `target` (the generative answer) is not needed here.
#[derive(Deserialize)]
struct Example {
    input: String,
    target_scores: Option<Scores>,
}

/// `target_scores` in file order. Read by hand because serde_json's map without its
/// `preserve_order` feature sorts keys.
struct Scores(Vec<(String, f64)>);

impl<'de> Deserialize<'de> for Scores {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScoresVisitor;
        impl<'de> Visitor<'de> for ScoresVisitor {
            type Value = Scores;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping option text to a numeric score")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scores, A::Error> {
                let mut pairs: Vec<(String, f64)> = Vec::new();
                while let Some((key, score)) = map.next_entry::<String, f64>()? {
                    // Python's dict: a repeated key keeps its first place, takes the last value.
                    match pairs.iter_mut().find(|(k, _)| *k == key) {
                        Some(pair) => pair.1 = score,
                        None => pairs.push((key, score)),
                    }
                }
                Ok(Scores(pairs))
            }
        }
        deserializer.deserialize_map(ScoresVisitor)
    }
}

/// Why an example was not kept; counted per file for the debug log.
#[derive(Default)]
struct Skipped {
    no_scores: usize,
    too_few: usize,
    tie: usize,
    empty_option: usize,
    duplicate: usize,
}

/// Accumulates the items and files of one task.
#[derive(Default)]
struct Loader {
    items: Vec<McItem>,
    files: Vec<PathBuf>,
    /// Hash of (prompt, options) → index in `items` of the first item with them.
    seen: HashMap<[u8; 32], usize>,
    /// Indices of items whose (prompt, options) came again with another answer.
    contradictory: HashSet<usize>,
}

impl Loader {
    /// Loads `dir/task.json`, or the sub-task folders when it has no examples.
    fn load_dir(&mut self, dir: &Path, depth: usize) -> Result<(), EvalError> {
        let file = dir.join("task.json");
        if file.is_file() {
            let task = read_task_file(&file)?;
            self.files.push(file.clone());
            if task.examples.is_some() || task.subtasks.is_some() {
                self.add_task(&file, task);
                return Ok(());
            }
        }
        if depth >= MAX_DEPTH {
            return Ok(());
        }
        let mut subdirs = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| EvalError::io(dir, e))? {
            let path = entry.map_err(|e| EvalError::io(dir, e))?.path();
            if path.is_dir() {
                subdirs.push(path);
            }
        }
        subdirs.sort();
        for sub in subdirs {
            self.load_dir(&sub, depth + 1)?;
        }
        Ok(())
    }

    /// The items, without those whose copies disagree on the answer: their gold label is
    /// ambiguous (`social_iqa` and `winowhy` have a few).
    fn finish(self, name: &str) -> Vec<McItem> {
        if !self.contradictory.is_empty() {
            tracing::debug!(
                task = name,
                dropped = self.contradictory.len(),
                "contradictory duplicates"
            );
        }
        let contradictory = self.contradictory;
        self.items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| (!contradictory.contains(&i)).then_some(item))
            .collect()
    }

    /// Formats the examples of one task object, then its inline sub-tasks.
    fn add_task(&mut self, file: &Path, task: TaskJson) {
        let format = Format {
            task_prefix: task.task_prefix.unwrap_or_default(),
            input_prefix: task.example_input_prefix.unwrap_or_else(|| DEFAULT_INPUT_PREFIX.into()),
            output_prefix: task
                .example_output_prefix
                .unwrap_or_else(|| DEFAULT_OUTPUT_PREFIX.into()),
            choice_prefix: task.choice_prefix.unwrap_or_else(|| DEFAULT_CHOICE_PREFIX.into()),
            append_choices: task.append_choices_to_input.unwrap_or(true),
        };
        let examples = task.examples.unwrap_or_default();
        let total = examples.len();
        let mut skipped = Skipped::default();
        let before = self.items.len();
        for example in examples {
            let Some(item) = format.item(example, &mut skipped) else { continue };
            let mut hasher = Sha256::new();
            hash_item(&mut hasher, &item.prompt, &item.options);
            match self.seen.entry(hasher.finalize().into()) {
                Entry::Vacant(slot) => {
                    slot.insert(self.items.len());
                    self.items.push(item);
                }
                Entry::Occupied(first) => {
                    skipped.duplicate += 1;
                    if self.items[*first.get()].correct != item.correct {
                        self.contradictory.insert(*first.get());
                    }
                }
            }
        }
        tracing::debug!(
            file = %file.display(),
            subtask = task.name.as_deref().unwrap_or(""),
            total,
            kept = self.items.len() - before,
            no_target_scores = skipped.no_scores,
            fewer_than_two_options = skipped.too_few,
            tied_best = skipped.tie,
            empty_option = skipped.empty_option,
            duplicate = skipped.duplicate,
            "BIG-bench examples read"
        );
        for sub in task.subtasks.unwrap_or_default() {
            self.add_task(file, sub);
        }
    }
}

/// Reads and parses one `task.json`.
fn read_task_file(file: &Path) -> Result<TaskJson, EvalError> {
    let bytes = std::fs::read(file).map_err(|e| EvalError::io(file, e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        EvalError::malformed(
            file,
            format!("not a BIG-bench JSON task ({e}); re-extract it with scripts/setup.sh"),
        )
    })
}

/// The formatting fields of one (sub-)task, defaults applied.
struct Format {
    task_prefix: String,
    input_prefix: String,
    output_prefix: String,
    choice_prefix: String,
    append_choices: bool,
}

impl Format {
    /// The item for `example`, or `None` (counted in `skipped`) when it is not a usable
    /// multiple-choice example.
    fn item(&self, example: Example, skipped: &mut Skipped) -> Option<McItem> {
        let Some(Scores(scores)) = example.target_scores else {
            skipped.no_scores += 1;
            return None;
        };
        if scores.len() < 2 {
            skipped.too_few += 1;
            return None;
        }
        if scores.iter().any(|(option, _)| option.is_empty()) {
            skipped.empty_option += 1;
            return None;
        }
        let best = scores.iter().map(|&(_, s)| s).fold(f64::NEG_INFINITY, f64::max);
        let mut at_best = scores.iter().enumerate().filter(|(_, (_, s))| *s == best);
        let (Some((correct, _)), None) = (at_best.next(), at_best.next()) else {
            skipped.tie += 1;
            return None;
        };

        let mut prompt = String::new();
        prompt.push_str(&self.task_prefix);
        prompt.push_str(&self.input_prefix);
        prompt.push_str(&example.input);
        if self.append_choices {
            for choice in listed_choices(&example.input, &scores) {
                prompt.push_str(&self.choice_prefix);
                prompt.push_str(choice);
            }
        }
        prompt.push_str(&self.output_prefix);

        let space = prompt.chars().next_back().is_some_and(|c| !c.is_whitespace());
        let options = scores
            .into_iter()
            .map(|(option, _)| {
                if space && !option.starts_with(char::is_whitespace) {
                    format!(" {option}")
                } else {
                    option
                }
            })
            .collect();
        Some(McItem { prompt, options, correct })
    }
}

/// The options as listed in the prompt: sorted, then permuted by a stream derived from the
/// input text, so the listing is fixed per example and independent of the selection seed.
fn listed_choices<'a>(input: &str, scores: &'a [(String, f64)]) -> Vec<&'a str> {
    let mut choices: Vec<&str> = scores.iter().map(|(option, _)| option.as_str()).collect();
    choices.sort_unstable();
    let mut rng = derived_rng(&[b"choices", input.as_bytes()]);
    for i in (1..choices.len()).rev() {
        choices.swap(i, below(&mut rng, i + 1));
    }
    choices
}

/// At most `max_items` of `items`: a uniform subset drawn by a partial Fisher-Yates shuffle,
/// returned in the original order.
fn select(items: Vec<McItem>, max_items: usize, seed: u64, name: &str) -> Vec<McItem> {
    let n = items.len();
    if n <= max_items {
        return items;
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = derived_rng(&[b"select", name.as_bytes(), &seed.to_le_bytes()]);
    for i in 0..max_items {
        let j = i + below(&mut rng, n - i);
        order.swap(i, j);
    }
    let mut keep = vec![false; n];
    for &i in &order[..max_items] {
        keep[i] = true;
    }
    items.into_iter().zip(keep).filter_map(|(item, k)| k.then_some(item)).collect()
}

/// A ChaCha8 stream keyed by SHA-256 of the length-prefixed `parts`, one stream per purpose.
fn derived_rng(parts: &[&[u8]]) -> ChaCha8Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"mixagent-bigbench");
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    ChaCha8Rng::from_seed(hasher.finalize().into())
}

/// A number in `0..n` (n > 0) by Lemire's multiply-shift. The bias is below n / 2^64, and
/// unlike `Rng::gen_range` the mapping is fixed by this code, not by the `rand` version, so
/// selections stay the same across dependency upgrades.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Feeds one item's prompt and options, length-prefixed, to `hasher`.
fn hash_item(hasher: &mut Sha256, prompt: &str, options: &[String]) {
    hasher.update((prompt.len() as u64).to_le_bytes());
    hasher.update(prompt.as_bytes());
    hasher.update((options.len() as u64).to_le_bytes());
    for option in options {
        hasher.update((option.len() as u64).to_le_bytes());
        hasher.update(option.as_bytes());
    }
}
