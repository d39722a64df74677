//! Feedback sets apart from training (DESIGN §10, principle 1): the agent's observation, built
//! at `prepare` time from text that no training domain contains.
//!
//! Builders, named in the corpus config as `[[feedback]]` tables:
//! - `held_out_parts`: whole named parts of a built-in source (Brown genres, mathematics_dataset
//!   modules) are taken out of training and turned into items. Question/answer items are
//!   restyled (`Problem: …\nAnswer:` instead of the training text's `Question: …\nAnswer:`), so
//!   the feedback does not reward one memorised template. The answer cue stays `Answer:`: with
//!   `Solution:`, a cue no training text puts before a short answer, a 0.34M-parameter proxy's
//!   math feedback swung by 0.2–0.3 nats from stage to stage under a constant mixture (its guess
//!   of what follows an unseen cue), noise that no mixture explains; with `Answer:` the same run
//!   moves by about 0.05 nats a stage and trends with training.
//! - `held_out_split`: items of the held-out documents (`heldout_fraction`) of named training
//!   domains, restyled the same way, without any question a training document of the field
//!   also asks (the corrupted math domains ask the real ones' questions with other answers);
//!   the n-gram check below runs before its seeded per-domain cap, so the cap counts items
//!   that survive it.
//! - `jsonl`: the user's own set (their MMLU-val), one `{"prompt", "answer", "field"}` a line.
//!
//! Every item is checked against all training text: one whose prompt and answer share a word
//! 13-gram with any training document is dropped (`dedup_ngram`). Per field, the items are
//! shuffled with the corpus seed and capped at `feedback_items_per_field`, then written to
//! `feedback.jsonl`. A corpus config without `[[feedback]]` keeps the v1 behaviour: suites are
//! built from every domain's held-out documents, round-robin (`mixagent-eval`).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use mixagent_core::seed::derive;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::items::items_of;
use crate::sources::{BuiltinSource, RawDoc};
use crate::{CorpusError, LabelledDoc};

/// The file a corpus's feedback sets are written to, beside its manifest.
pub const FEEDBACK_FILE: &str = "feedback.jsonl";

/// The items of the feedback sets that the per-field cap left out: disjoint from the feedback,
/// the same skill, from the same evaluation-only text. The benchmarks draw on them (DESIGN §10,
/// principle 1: feedback and benchmark are two samples of one skill, like MMLU-val and -test).
pub const FEEDBACK_REST_FILE: &str = "feedback-rest.jsonl";

/// At most this many left-out items per field are kept in [`FEEDBACK_REST_FILE`].
pub const REST_ITEMS_PER_FIELD: usize = 2048;

/// Fewer items than this in a field's feedback set gives a warning (DESIGN §10 asks ≥ 256).
pub const MIN_FEEDBACK_ITEMS: usize = 256;

/// One `[[feedback]]` table of the corpus config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "builder", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeedbackConfig {
    /// Whole parts of a built-in source, held out of training.
    HeldOutParts {
        /// The field whose feedback these items are.
        field: String,
        /// The built-in source the parts belong to.
        source: BuiltinSource,
        /// The parts (a Brown genre letter, a mathematics_dataset `<family>__<module>`).
        parts: Vec<String>,
        /// Of `parts`, those whose items make the feedback set (absent: all of them; `[]`:
        /// none, the parts are held out for the benchmarks only). The others are held out of
        /// training all the same, and their items go to the rest ([`FEEDBACK_REST_FILE`]),
        /// where the benchmarks read held-out questions: the feedback narrows without changing
        /// what is trained.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scored_parts: Option<Vec<String>>,
        /// Whether the items of the parts not scored go to the rest, where the benchmarks read
        /// them (default). `false`: those parts are only held out of training.
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        benchmarks: bool,
    },
    /// Items of the held-out split (`heldout_fraction`) of some training domains: documents
    /// of the domains' own sources (for math, their own generators) that no training shard
    /// holds, read as `items_of` reads any document (question/answer pairs, definitions, code
    /// bodies, continuations).
    HeldOutSplit {
        /// The field whose feedback these items are.
        field: String,
        /// The training domains whose held-out documents give the items.
        domains: Vec<String>,
        /// At most this many items from each domain, a seeded choice (absent: all).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items_per_domain: Option<usize>,
    },
    /// A user's feedback set: JSONL lines `{"prompt": …, "answer": …, "field": …}`.
    Jsonl {
        /// The file.
        path: PathBuf,
        /// Field for lines without one.
        #[serde(default)]
        field: Option<String>,
    },
}

impl FeedbackConfig {
    /// The set's name, recorded with each of its items: for held-out parts, the source and
    /// the scored parts (all its parts when it scores none, for messages).
    pub fn name(&self) -> String {
        match self {
            Self::HeldOutParts { source, parts, scored_parts, .. } => {
                let scored = scored_parts.as_ref().filter(|s| !s.is_empty());
                parts_name(source.raw_folder(), scored.unwrap_or(parts).iter())
            }
            Self::HeldOutSplit { domains, .. } => parts_name("held-out split", domains.iter()),
            Self::Jsonl { path, .. } => {
                path.file_name().map_or("jsonl".into(), |n| n.to_string_lossy().into_owned())
            }
        }
    }

    /// The name recorded with the items of the parts held out but not scored (`scored_parts`),
    /// which go to the rest.
    pub fn unscored_name(&self) -> String {
        match self {
            Self::HeldOutParts { source, parts, scored_parts, .. } => parts_name(
                source.raw_folder(),
                parts.iter().filter(|p| scored_parts.as_ref().is_some_and(|s| !s.contains(p))),
            ),
            Self::HeldOutSplit { .. } | Self::Jsonl { .. } => self.name(),
        }
    }

    /// Whether the part `part` of this set's held-out parts makes feedback items.
    pub fn scores_part(&self, part: &str) -> bool {
        match self {
            Self::HeldOutParts { scored_parts, .. } => {
                scored_parts.as_ref().is_none_or(|s| s.iter().any(|p| p == part))
            }
            Self::HeldOutSplit { .. } | Self::Jsonl { .. } => true,
        }
    }

    /// Whether a document of a source reading `raw_folder` is held out by this set.
    pub fn holds_out(&self, raw_folder: &str, doc: &RawDoc) -> bool {
        match self {
            Self::HeldOutParts { source, parts, .. } => {
                !doc.part.is_empty()
                    && source.raw_folder() == raw_folder
                    && parts.iter().any(|p| p == &doc.part)
            }
            Self::HeldOutSplit { .. } | Self::Jsonl { .. } => false,
        }
    }
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// `prefix:part+part`, or `prefix:first+N more` beyond three parts.
fn parts_name<'a>(prefix: &str, parts: impl Iterator<Item = &'a String>) -> String {
    let parts: Vec<&String> = parts.collect();
    match parts.as_slice() {
        [first, _, _, _, ..] => format!("{prefix}:{first}+{} more", parts.len() - 1),
        _ => format!("{prefix}:{}", parts.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("+")),
    }
}

/// One feedback item as written to `feedback.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackItem {
    /// The field it measures.
    pub field: String,
    /// The set it came from ([`FeedbackConfig::name`]).
    pub set: String,
    /// Context.
    pub prompt: String,
    /// Gold continuation (starts with its separating space).
    pub answer: String,
}

/// Items of a held-out-parts set, from its documents: every item `items_of` finds whose prompt
/// `asked` does not hold (a question some training document asks: generators repeat easy
/// problems), with question/answer items restyled away from the training format.
pub fn items_from_docs(
    field: &str,
    set: &str,
    docs: &[RawDoc],
    asked: &HashSet<String>,
) -> Vec<FeedbackItem> {
    docs.iter()
        .flat_map(|d| items_of(set, &d.text))
        .filter(|it| !asked.contains(&it.prompt))
        .map(|it| restyled(field, set, it))
        .collect()
}

/// A feedback item of `set` from an item as `items_of` reads it: a question/answer item is
/// restyled (`Problem: …` for `Question: …`).
fn restyled(field: &str, set: &str, it: crate::items::Item) -> FeedbackItem {
    let prompt = match it.prompt.strip_prefix("Question: ") {
        Some(q) => format!("Problem: {}\nAnswer:", q.trim_end_matches("\nAnswer:")),
        None => it.prompt,
    };
    FeedbackItem { field: field.into(), set: set.into(), prompt, answer: it.answer }
}

/// Items of a held-out-split set from one of its domains (`index`: the domain's place in the
/// table): every item of the domain's held-out documents whose prompt no training document
/// of the field also yields (`asked`: a corrupted domain asks the same generators' questions)
/// and that shares no word n-gram with training text, restyled; at most `cap`, a seeded
/// choice among them. Also how many items the documents yielded, and how many each check
/// dropped.
pub fn split_items(
    (field, set): (&str, &str),
    (domain, index): (&str, usize),
    held: &[&LabelledDoc],
    (asked, training): (&HashSet<String>, &TrainingNgrams),
    cap: Option<usize>,
    seed: u64,
) -> (Vec<FeedbackItem>, [usize; 3]) {
    let found: Vec<crate::items::Item> =
        held.iter().flat_map(|d| items_of(domain, &d.text)).collect();
    let yielded = found.len();
    let fresh: Vec<FeedbackItem> = found
        .into_iter()
        .filter(|it| !asked.contains(&it.prompt))
        .map(|it| restyled(field, set, it))
        .collect();
    let repeated = yielded - fresh.len();
    let mut items = fresh;
    let overlapping = dedup_against(&mut items, training);
    if let Some(cap) = cap.filter(|&c| c < items.len()) {
        let mut rng =
            ChaCha8Rng::seed_from_u64(derive(seed, "corpus.feedback.split", index as u64));
        items.shuffle(&mut rng);
        items.truncate(cap);
    }
    (items, [yielded, repeated, overlapping])
}

/// The prompts of every item the training documents `train` yield, as `items_of` reads them
/// (before restyling): what a held-out split's items must not repeat.
pub fn asked_in(train: &[&LabelledDoc]) -> HashSet<String> {
    train.iter().flat_map(|d| items_of(&d.domain, &d.text)).map(|it| it.prompt).collect()
}

/// Reads a user's feedback JSONL, naming the file and line of any bad entry.
pub fn read_jsonl(
    path: &Path,
    default_field: Option<&str>,
) -> Result<Vec<FeedbackItem>, CorpusError> {
    #[derive(Deserialize)]
    struct Line {
        prompt: String,
        answer: String,
        #[serde(default)]
        field: Option<String>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))?;
    let set = path.file_name().map_or("jsonl".into(), |n| n.to_string_lossy().into_owned());
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |m: String| {
            CorpusError::malformed(path, format!("line {}: {m}; each line must be {{\"prompt\": …, \"answer\": …, \"field\": …}}", n + 1))
        };
        let l: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let field = l.field.or(default_field.map(str::to_string)).ok_or_else(|| {
            bad("no `field` (give it on the line or as `field` in the [[feedback]] table)".into())
        })?;
        if l.prompt.trim().is_empty() || l.answer.trim().is_empty() {
            return Err(bad("empty prompt or answer".into()));
        }
        // The answer is scored as a continuation of the prompt: keep one separating space.
        let answer =
            if l.answer.starts_with([' ', '\n']) { l.answer } else { format!(" {}", l.answer) };
        out.push(FeedbackItem { field, set: set.clone(), prompt: l.prompt, answer });
    }
    if out.is_empty() {
        return Err(CorpusError::malformed(path, "no feedback items in the file".to_string()));
    }
    Ok(out)
}

/// Word n-grams of a text (lowercase alphanumeric words), hashed.
fn ngram_hashes(text: &str, n: usize) -> impl Iterator<Item = u64> + '_ {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let count = words.len().saturating_sub(n - 1);
    (0..count).map(move |i| {
        // FNV-1a over the n words, a separator between them.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for w in &words[i..i + n] {
            for b in w.bytes().chain(std::iter::once(b' ')) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x100_0000_01b3);
            }
        }
        h
    })
}

/// The hashed word n-grams of all training text: built once per preparation and shared by
/// every check against training (feedback sets, user tasks).
pub struct TrainingNgrams {
    n: usize,
    seen: HashSet<u64>,
}

impl TrainingNgrams {
    /// Hashes every word `n`-gram of `training`.
    pub fn new(training: &[LabelledDoc], n: usize) -> Self {
        TrainingNgrams { n, seen: training.iter().flat_map(|d| ngram_hashes(&d.text, n)).collect() }
    }

    /// Whether `text` shares a word n-gram with training text.
    pub fn overlaps(&self, text: &str) -> bool {
        ngram_hashes(text, self.n).any(|h| self.seen.contains(&h))
    }
}

/// Drops every item whose prompt + answer shares a word n-gram with training text; returns how
/// many were dropped.
pub fn dedup_against(items: &mut Vec<FeedbackItem>, training: &TrainingNgrams) -> usize {
    let before = items.len();
    items.retain(|it| !training.overlaps(&format!("{}{}", it.prompt, it.answer)));
    before - items.len()
}

/// Per field: a seeded shuffle, then at most `cap` items, and after them the next at most
/// [`REST_ITEMS_PER_FIELD`] whose prompt is not a chosen item's (the rest): the items left over,
/// shuffled together with the field's `unscored` ones when it has any (held out of training but
/// not feedback: `scored_parts`), so the rest samples every held-out part. Both grouped by
/// field (sorted).
pub fn select(
    items: Vec<FeedbackItem>,
    unscored: Vec<FeedbackItem>,
    cap: usize,
    seed: u64,
) -> (ByField, ByField) {
    let mut by_field: ByField = BTreeMap::new();
    for it in items {
        by_field.entry(it.field.clone()).or_default().push(it);
    }
    let mut extra: ByField = BTreeMap::new();
    for it in unscored {
        extra.entry(it.field.clone()).or_default().push(it);
    }
    let mut rest: ByField = BTreeMap::new();
    for (i, (field, items)) in by_field.iter_mut().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "corpus.feedback", i as u64));
        items.shuffle(&mut rng);
        let mut left: Vec<FeedbackItem> = items.drain(cap.min(items.len())..).collect();
        if let Some(unscored) = extra.remove(field) {
            left.extend(unscored);
            left.shuffle(&mut rng);
        }
        // A repeated problem (generators repeat easy ones) must not reach the benchmarks.
        let chosen: HashSet<&str> = items.iter().map(|it| it.prompt.as_str()).collect();
        left.retain(|it| !chosen.contains(it.prompt.as_str()));
        left.truncate(REST_ITEMS_PER_FIELD);
        if !left.is_empty() {
            rest.insert(field.clone(), left);
        }
    }
    (by_field, rest)
}

/// Items grouped by field.
pub type ByField = BTreeMap<String, Vec<FeedbackItem>>;

/// Reads one of a corpus's item files ([`FEEDBACK_FILE`], [`FEEDBACK_REST_FILE`]): the items
/// of `field`, or all of them; none when the corpus has no such file.
pub fn load_items(
    dir: &Path,
    file: &str,
    field: Option<&str>,
) -> Result<Vec<FeedbackItem>, CorpusError> {
    let path = dir.join(file);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| CorpusError::io(&path, e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let it: FeedbackItem = serde_json::from_str(line).map_err(|e| {
            CorpusError::malformed(&path, format!("line {}: {e}; re-run `mixagent prepare`", n + 1))
        })?;
        if field.is_none_or(|f| f == it.field) {
            out.push(it);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> LabelledDoc {
        LabelledDoc { field: "f".into(), domain: "d".into(), source: "s".into(), text: text.into() }
    }

    #[test]
    fn question_answer_items_are_restyled() {
        let docs = [RawDoc::new("math_arithmetic", "Question: What is 2 + 3?\nAnswer: 5")
            .in_part("arithmetic__add")];
        let items = items_from_docs("math", "set", &docs, &HashSet::new());
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].prompt, "Problem: What is 2 + 3?\nAnswer:");
        assert_eq!(items[0].answer, " 5");
        // A question some training document asks is no held-out question.
        let train =
            doc("Question: What is 2 + 3?\nAnswer: 5\n\nQuestion: What is 1 + 1?\nAnswer: 2");
        assert!(items_from_docs("math", "set", &docs, &asked_in(&[&train])).is_empty());
    }

    #[test]
    fn a_held_out_split_skips_questions_asked_in_training_and_caps_by_seed() {
        let qa = |qs: &[u32]| {
            let blocks: Vec<String> = qs
                .iter()
                .map(|q| format!("Question: What is {q} + 1?\nAnswer: {}", q + 1))
                .collect();
            doc(&blocks.join("\n\n"))
        };
        let (held, train) = (qa(&[1, 2, 3, 4, 5]), qa(&[3, 9]));
        let asked = asked_in(&[&train]);
        let ngrams = TrainingNgrams::new(std::slice::from_ref(&train), 13);
        let split = |cap, seed, index| {
            split_items(("math", "s"), ("d", index), &[&held], (&asked, &ngrams), cap, seed)
        };
        let (all, counts) = split(None, 7, 0);
        assert_eq!(counts, [5, 1, 0]);
        let prompts: Vec<&str> = all.iter().map(|it| it.prompt.as_str()).collect();
        assert_eq!(prompts.len(), 4, "question 3 is asked in training: {prompts:?}");
        assert!(!prompts.contains(&"Problem: What is 3 + 1?\nAnswer:"));
        assert_eq!(
            (all[0].prompt.as_str(), all[0].answer.as_str()),
            ("Problem: What is 1 + 1?\nAnswer:", " 2")
        );
        assert_eq!((all[0].field.as_str(), all[0].set.as_str()), ("math", "s"));
        let two = |seed, index| split(Some(2), seed, index).0;
        assert_eq!(two(7, 0).len(), 2);
        assert_eq!(two(7, 0), two(7, 0));
        assert!((0..8).any(|s| two(s, 0) != two(7, 0)), "the choice follows the seed");
        assert!(two(7, 0).iter().all(|it| all.contains(it)));
    }

    #[test]
    fn items_sharing_a_13_gram_with_training_are_dropped() {
        let training = [doc(
            "one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
        )];
        let item = |p: &str| FeedbackItem {
            field: "f".into(),
            set: "s".into(),
            prompt: p.into(),
            answer: " end".into(),
        };
        let mut items = vec![
            item("Two three four five six seven eight nine ten eleven twelve thirteen fourteen"),
            item("two three four five six seven eight nine ten eleven twelve thirteen, banana"),
            item("short"),
        ];
        assert_eq!(dedup_against(&mut items, &TrainingNgrams::new(&training, 13)), 1);
        assert_eq!(items.len(), 2);
        assert!(items[0].prompt.ends_with("banana"));
    }

    #[test]
    fn selection_is_seeded_and_capped_per_field() {
        let mut items: Vec<FeedbackItem> = (0..20)
            .map(|i| FeedbackItem {
                field: if i % 2 == 0 { "a" } else { "b" }.into(),
                set: "s".into(),
                prompt: format!("p{i}"),
                answer: " x".into(),
            })
            .collect();
        items[19].prompt = "p1".into(); // a repeated problem of field b
        let (a, rest) = select(items.clone(), vec![], 4, 1);
        assert_eq!((a["a"].len(), a["b"].len()), (4, 4));
        // The rest is every item the cap left out whose prompt no chosen item has.
        let prompts = |m: &ByField| -> HashSet<String> {
            m.values().flatten().map(|it| it.prompt.clone()).collect()
        };
        assert!(prompts(&rest).is_disjoint(&prompts(&a)));
        assert_eq!(rest["a"].len(), 6);
        let mut split_pair = 0;
        for seed in 0..16 {
            let (a, rest) = select(items.clone(), vec![], 4, seed);
            let p1_chosen = a["b"].iter().filter(|it| it.prompt == "p1").count();
            split_pair += usize::from(p1_chosen == 1);
            assert_eq!(rest["b"].len(), if p1_chosen == 1 { 5 } else { 6 }, "seed {seed}");
        }
        assert!(split_pair > 0, "some seed chooses one of the two p1 items");
        assert_eq!((a.clone(), rest.clone()), select(items.clone(), vec![], 4, 1));
        assert_ne!(a, select(items.clone(), vec![], 4, 2).0);

        // Items held out but not scored (`scored_parts`) never make the feedback set; they join
        // the rest, shuffled with the items left over, and leave the chosen set as it was.
        let unscored: Vec<FeedbackItem> = (0..5)
            .map(|i| FeedbackItem {
                field: "a".into(),
                set: "s".into(),
                prompt: format!("u{i}"),
                answer: " y".into(),
            })
            .collect();
        let (a2, rest2) = select(items, unscored, 4, 1);
        assert_eq!(a2, a);
        assert_eq!(rest2["a"].len(), 11);
        assert!(prompts(&rest2).is_superset(&prompts(&rest)));
        assert!((0..5).all(|i| prompts(&rest2).contains(&format!("u{i}"))));
        assert_ne!(rest2["a"][..6], rest["a"][..], "shuffled together, not appended");
        assert_eq!(rest2["b"], rest["b"]);
    }

    #[test]
    fn user_jsonl_is_validated_with_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("val.jsonl");
        std::fs::write(&path, "{\"prompt\": \"2+2=\", \"answer\": \"4\", \"field\": \"math\"}\n\n{\"prompt\": \"Capital of France?\", \"answer\": \" Paris\"}\n").unwrap();
        let items = read_jsonl(&path, Some("general")).unwrap();
        assert_eq!(items[0].answer, " 4");
        assert_eq!((items[1].field.as_str(), items[1].answer.as_str()), ("general", " Paris"));
        let e = read_jsonl(&path, None).unwrap_err().to_string();
        assert!(e.contains("val.jsonl") && e.contains("line 3") && e.contains("field"), "{e}");
        std::fs::write(&path, "{\"prompt\": \"x\"}\n").unwrap();
        let e = read_jsonl(&path, Some("g")).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("answer"), "{e}");
    }
}
