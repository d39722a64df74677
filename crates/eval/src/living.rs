//! Living benchmarks (DESIGN §10, principle 4): tasks on which 1–5M-parameter models score
//! above chance and mixtures separate, each with ≥ 400 items, its chance rate, a Wilson
//! interval and the rate of constant answers.
//!
//! | task | field | kind | items from |
//! |---|---|---|---|
//! | `agreement` | general | choice of 2 | held-out sentences with `is/are`, `was/were`, `has/have`, `does/do`: the original verb or the other number; one item per verb and preceding word (`What is` once, not in 700 items) |
//! | `cloze` | general | choice of 2 | held-out sentences: the original word or another word of the same length from the same text |
//! | `word_order` | general | choice of 2 | held-out sentences: as written, or with two neighbouring words swapped |
//! | `definition` | general | choice of 4 | held-out `term: gloss` lines: the term's gloss or three others (per-token scoring) |
//! | `genre_agreement`, `genre_cloze`, `genre_word_order` | general | choice of 2 | as `agreement`, `cloze`, `word_order`, on the sentences of the general feedback sets' left-out items (`feedback-rest.jsonl`: the held-out genres the feedback reads), each sentence once and none that shares six words in a row with a feedback item's text: the feedback's own skill on disjoint items |
//! | `problem_agreement`, `problem_cloze`, `problem_word_order` | math | choice of 2 | as `math_agreement`, `math_cloze`, `math_word_order`, on the problem statements of the math feedback sets' left-out items (`feedback-rest.jsonl`: in the default corpus, fresh problems of the feedback's own generators, which only the benchmarks read) |
//! | `math_agreement` | math | choice of 2 | held-out problem statements with `is/are`, `was/were`, `has/have`, `does/do`: the original verb or the other number |
//! | `math_cloze` | math | choice of 2 | held-out problem statements: the original word or another word of the same length |
//! | `math_word_order` | math | choice of 2 | held-out problem statements: as written, or with two neighbouring tokens swapped |
//! | `answer_kind` | math | choice of 2 | the math feedback sets' left-out problems (`feedback-rest.jsonl`): the gold answer or another problem's answer of the same length but another form (digits → 9, letters → a: `-12` against `3/4`) |
//! | `answer_pairing` | math | choice of 2 | held-out `Question: … Answer: …` pairs: the question's answer or that of another question, whose item has the two the other way round |
//! | `arithmetic_1digit` | math | exact match | `What is a ∘ b?` with one-digit operands (+, −, ×), greedy answer |
//! | `addition_2digit` | math | choice of 4 | `What is a + b?`, two-digit operands: the sum, ±1, ±10 (PMI scoring) |
//! | `comparison` | math | choice of 2 | `Which is bigger: a or b?` (PMI scoring) |
//! | `code_syntax` | code | choice of 2 | held-out code lines ending in `)`, `]`, `}` or `:`, against the line with that character removed (per-token scoring) |
//!
//! Text tasks read the held-out documents (`<domain>/heldout.jsonl`) of a field's core domains,
//! those its base reads at full share (no `pretrain_weights` entry below 1: not the
//! distractors), which no model trains on and which are disjoint from the feedback sets (their
//! parts are held out of every domain); any item whose prompt is also a feedback prompt is
//! dropped. Options are shuffled per item with the seed, so a model that always picks one
//! position scores chance and shows a high constant-answer rate.
//!
//! The minimal-pair tasks (the agreements, the clozes, the word orders, `answer_pairing`) are the
//! ones 1–5M-parameter models pass: both options have the same length, words and answer strings
//! (each answer is once right and once wrong in `answer_pairing`), so no bias for short or
//! frequent strings can score. The generated arithmetic tasks stay in the table for larger
//! models; at 1-3M parameters they sit near chance and G0 leaves them out of the average. The
//! two number choices are scored by PMI (`choice_pmi`): by summed log-probability the study's
//! 3M base picked the smaller number in 83% of comparisons (0.168 against chance 0.5), its
//! prior for small numbers; by PMI it reads 0.575, and after CPT 0.39-0.60.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use mixagent_core::seed::derive;
use mixagent_corpus::items::items_of;
use mixagent_corpus::{load_items, FeedbackItem, FEEDBACK_FILE, FEEDBACK_REST_FILE};
use mixagent_shard::Manifest;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{EvalError, Scorer, TaskScore};

/// One item: a prompt and either options (one correct) or an exact answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LivingItem {
    /// What the model reads.
    pub prompt: String,
    /// Continuations to choose from (empty for exact match).
    pub options: Vec<String>,
    /// Index of the right option, or 0 for exact match.
    pub correct: usize,
    /// The exact answer (exact match only).
    pub answer: String,
}

/// A task: its items and how they are scored.
#[derive(Debug, Clone, PartialEq)]
pub struct LivingTask {
    /// Task name.
    pub name: String,
    /// The field it counts for.
    pub field: String,
    /// `choice` (options scored by summed log-probability), `choice_per_token` (mean
    /// log-probability per token), `choice_pmi` (summed log-probability after the prompt less
    /// that after the bare [`PMI_PROMPT`]: what the question adds to the option's prior) or
    /// `exact_match`.
    pub kind: &'static str,
    /// The items.
    pub items: Vec<LivingItem>,
    /// Its items come from the training domains' own held-out documents: in-distribution text,
    /// which the domain-uniform mixture fits best by construction (DESIGN §10 principle 1 asks
    /// benchmarks of evaluation-only text). A comparison shows such a task but leaves it out of
    /// a field's average when the field has an evaluation-only task alive for the base.
    pub training_text: bool,
}

impl LivingTask {
    /// Accuracy of guessing.
    pub fn chance(&self) -> f64 {
        match self.items.first() {
            Some(it) if !it.options.is_empty() => 1.0 / it.options.len() as f64,
            _ => 0.0,
        }
    }
}

/// Half-width of the 95% Wilson score interval of `k` successes in `n`.
pub fn wilson_half(k: f64, n: usize) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    let (n, z) = (n as f64, 1.96f64);
    let p = k / n;
    z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()
}

/// Builds the living tasks of `fields`, `n` items each where the corpus has enough text, from
/// the corpus at `dir`: the built-in tasks of `general`, `math` and `code`; `<field>_cloze` and
/// `<field>_word_order` from the held-out text of any other field (a user's `source` and
/// `target`); and the user's own tasks (`tasks.jsonl`) of these fields.
pub fn living_tasks(
    dir: &Path,
    manifest: &Manifest,
    fields: &[String],
    n: usize,
    seed: u64,
) -> Result<Vec<LivingTask>, EvalError> {
    let feedback_prompts = feedback_prompts(dir, manifest)?;
    let fresh = |it: &LivingItem| !feedback_prompts.contains(it.prompt.trim());
    let mut tasks = Vec::new();
    let has = |f: &str| fields.iter().any(|g| g == f);
    if has("general") {
        let texts = heldout_texts(dir, manifest, "general")?;
        let sents = sentences(&texts);
        let general = [
            task("agreement", "general", "choice", agreement(&sents), n, seed, &fresh),
            task("cloze", "general", "choice", cloze(&sents, seed, 0), n, seed, &fresh),
            task("word_order", "general", "choice", word_order(&sents, seed, 0), n, seed, &fresh),
            task(
                "definition",
                "general",
                "choice_per_token",
                definition(&texts, seed),
                n,
                seed,
                &fresh,
            ),
        ];
        tasks.extend(general.map(training_text));
        let genre = feedback_rest_sentences(dir, "general")?;
        let genre: Vec<&str> = genre.iter().map(String::as_str).collect();
        tasks.push(task(
            "genre_agreement",
            "general",
            "choice",
            agreement(&genre),
            n,
            seed,
            &fresh,
        ));
        let genre_cloze = cloze(&genre, seed, 2);
        tasks.push(task("genre_cloze", "general", "choice", genre_cloze, n, seed, &fresh));
        let order = word_order(&genre, seed, 2);
        tasks.push(task("genre_word_order", "general", "choice", order, n, seed, &fresh));
    }
    if has("math") {
        let texts = heldout_texts(dir, manifest, "math")?;
        let lines = problem_lines(&texts);
        let math = [
            task("math_agreement", "math", "choice", agreement(&lines), n, seed, &fresh),
            task("math_cloze", "math", "choice", cloze(&lines, seed, 1), n, seed, &fresh),
            task("math_word_order", "math", "choice", word_order(&lines, seed, 1), n, seed, &fresh),
        ];
        tasks.extend(math.map(training_text));
        let rest = load_items(dir, FEEDBACK_REST_FILE, Some("math"))?;
        let statements: Vec<String> = rest.iter().map(|it| it.prompt.clone()).collect();
        let statements = problem_lines(&statements);
        let problem = agreement(&statements);
        tasks.push(task("problem_agreement", "math", "choice", problem, n, seed, &fresh));
        let problem_cloze = cloze(&statements, seed, 3);
        tasks.push(task("problem_cloze", "math", "choice", problem_cloze, n, seed, &fresh));
        let order = word_order(&statements, seed, 3);
        tasks.push(task("problem_word_order", "math", "choice", order, n, seed, &fresh));
        let kinds = answer_kind(&rest, seed);
        tasks.push(task("answer_kind", "math", "choice", kinds, n, seed, &fresh));
        let pairs = answer_pairing(&texts, seed);
        tasks.push(training_text(task("answer_pairing", "math", "choice", pairs, n, seed, &fresh)));
        tasks.push(task(
            "arithmetic_1digit",
            "math",
            "exact_match",
            arithmetic(seed),
            n,
            seed,
            &fresh,
        ));
        tasks.push(task("addition_2digit", "math", "choice_pmi", addition(seed), n, seed, &fresh));
        tasks.push(task("comparison", "math", "choice_pmi", comparison(seed), n, seed, &fresh));
    }
    if has("code") {
        let texts = heldout_texts(dir, manifest, "code")?;
        tasks.push(training_text(task(
            "code_syntax",
            "code",
            "choice_per_token",
            code_syntax(&texts),
            n,
            seed,
            &fresh,
        )));
    }
    for f in fields.iter().filter(|f| !["general", "math", "code"].contains(&f.as_str())) {
        let texts = heldout_texts(dir, manifest, f)?;
        let segs = text_segments(&texts);
        let cloze_items = cloze(&segs, seed, fnv(f));
        let order = word_order(&segs, seed, fnv(f));
        tasks.extend(
            [
                task(&format!("{f}_cloze"), f, "choice", cloze_items, n, seed, &fresh),
                task(&format!("{f}_word_order"), f, "choice", order, n, seed, &fresh),
            ]
            .map(training_text),
        );
    }
    if !manifest.tasks.is_empty() {
        let mut by_task: BTreeMap<(String, String), Vec<LivingItem>> = BTreeMap::new();
        for it in mixagent_corpus::tasks::load_tasks(dir)? {
            if fields.contains(&it.field) {
                by_task.entry((it.task, it.field)).or_default().push(LivingItem {
                    prompt: it.prompt,
                    options: it.options,
                    correct: it.correct,
                    answer: it.answer,
                });
            }
        }
        for ((name, field), items) in by_task {
            let kind = if items[0].options.is_empty() { "exact_match" } else { "choice" };
            tasks.push(task(&name, &field, kind, items, n, seed, &fresh));
        }
    }
    Ok(tasks.into_iter().filter(|t| !t.items.is_empty()).collect())
}

/// Shuffles every item's options (seeded), drops items that repeat a feedback prompt, and
/// keeps a seeded choice of `n`.
fn task(
    name: &str,
    field: &str,
    kind: &'static str,
    mut items: Vec<LivingItem>,
    n: usize,
    seed: u64,
    fresh: &dyn Fn(&LivingItem) -> bool,
) -> LivingTask {
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living", fnv(name)));
    items.retain(fresh);
    items.shuffle(&mut rng);
    items.truncate(n);
    for it in &mut items {
        if it.options.len() > 1 {
            let right = it.options[it.correct].clone();
            it.options.shuffle(&mut rng);
            it.correct = it.options.iter().position(|o| *o == right).expect("kept");
        }
    }
    LivingTask { name: name.into(), field: field.into(), kind, items, training_text: false }
}

/// `t`, marked as built from the training domains' held-out documents.
fn training_text(t: LivingTask) -> LivingTask {
    LivingTask { training_text: true, ..t }
}

fn fnv(s: &str) -> u64 {
    s.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn feedback_prompts(dir: &Path, manifest: &Manifest) -> Result<HashSet<String>, EvalError> {
    if manifest.feedback.is_empty() {
        return Ok(HashSet::new());
    }
    let items = load_items(dir, FEEDBACK_FILE, None)?;
    Ok(items.into_iter().map(|it| it.prompt.trim().to_string()).collect())
}

/// The held-out documents of a field's core domains (no `pretrain_weights` entry below 1), in
/// manifest order.
fn heldout_texts(dir: &Path, manifest: &Manifest, field: &str) -> Result<Vec<String>, EvalError> {
    #[derive(serde::Deserialize)]
    struct Doc {
        text: String,
    }
    let core = |name: &str| manifest.pretrain_weights.get(name).is_none_or(|&w| w >= 1.0);
    let mut out = Vec::new();
    for d in manifest.domains.iter().filter(|d| d.field.as_str() == field && core(&d.name)) {
        let path = dir.join(&d.name).join("heldout.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| EvalError::io(&path, e))?;
        for (n, line) in text.lines().enumerate() {
            let doc: Doc = serde_json::from_str(line).map_err(|e| {
                EvalError::malformed(
                    &path,
                    format!("line {}: {e}; re-run `mixagent prepare`", n + 1),
                )
            })?;
            out.push(doc.text);
        }
    }
    Ok(out)
}

/// The sentences of a field's left-out feedback items (`feedback-rest.jsonl`), each once, in
/// file order, leaving out every sentence that shares a run of six words with a feedback item's
/// text: the held-out windows of a genre overlap, so a left-out item can share sentences with
/// a chosen one, whole or cut differently at the window's edge.
fn feedback_rest_sentences(dir: &Path, field: &str) -> Result<Vec<String>, EvalError> {
    const RUN: usize = 6; // the shortest sentence `sentences` keeps
    let text = |items: Vec<FeedbackItem>| -> Vec<String> {
        items.into_iter().map(|it| format!("{} {}", it.prompt, it.answer)).collect()
    };
    let runs = |t: &str| -> Vec<String> {
        let words: Vec<&str> = t.split_whitespace().collect();
        words.windows(RUN).map(|w| w.join(" ")).collect()
    };
    let feedback: HashSet<String> =
        text(load_items(dir, FEEDBACK_FILE, Some(field))?).iter().flat_map(|t| runs(t)).collect();
    let rest = text(load_items(dir, FEEDBACK_REST_FILE, Some(field))?);
    let mut seen = HashSet::new();
    Ok(sentences(&rest)
        .into_iter()
        .filter(|s| seen.insert(*s) && !runs(s).iter().any(|r| feedback.contains(r)))
        .map(str::to_string)
        .collect())
}

/// English-looking sentences of 6 to 40 words (ASCII letters and light punctuation).
fn sentences(texts: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    for t in texts {
        for s in t.split_inclusive(['.', '!', '?']) {
            let s = s.trim();
            let words = s.split_whitespace().count();
            let ok = (6..=40).contains(&words)
                && s.chars().all(|c| c.is_ascii_alphabetic() || " ,;'-.!?".contains(c))
                && s.starts_with(|c: char| c.is_ascii_uppercase());
            if ok {
                out.push(s);
            }
        }
    }
    out
}

/// A minimal pair: the sentence up to word `i` as the prompt; the rest of it from word `i`, as
/// written (the right option) or with word `i` replaced by `other`.
fn minimal_pair(words: &[&str], i: usize, other: &str) -> LivingItem {
    let tail = words[i + 1..].iter().map(|w| format!(" {w}")).collect::<String>();
    LivingItem {
        prompt: words[..i].join(" "),
        options: vec![format!(" {}{tail}", words[i]), format!(" {other}{tail}")],
        correct: 0,
        answer: String::new(),
    }
}

/// The first verb of `is/are`, `was/were`, `has/have`, `does/do` (from the second word) of each
/// sentence against its other number, one item per verb context: items with the same verb
/// after the same word (lower case, each number read as 0) mostly decide the same thing, so
/// only the first (in text order) is kept. Generated problem statements put a few such
/// contexts in hundreds of items (760 of the 975 held-out module statements read `What is`);
/// counted as separate items, one coin flip of the model (`is` or `are` after `What`) moved a
/// 600-item task's accuracy from 0.997 to 0.500 between two seeds. Such a field keeps a handful
/// of items, which gate G0's Wilson rule leaves out of the average; natural text keeps most.
fn agreement(sents: &[&str]) -> Vec<LivingItem> {
    const PAIRS: [(&str, &str); 4] =
        [("is", "are"), ("was", "were"), ("has", "have"), ("does", "do")];
    let norm = |w: &str| -> String {
        let mut out = String::new();
        for c in w.chars() {
            let c = if c.is_ascii_digit() { '0' } else { c.to_ascii_lowercase() };
            if !(c == '0' && out.ends_with('0')) {
                out.push(c);
            }
        }
        out
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in sents {
        let words: Vec<&str> = s.split_whitespace().collect();
        let Some((i, other)) = words.iter().enumerate().skip(1).find_map(|(i, w)| {
            PAIRS.iter().find_map(|(a, b)| {
                if w == a {
                    Some((i, *b))
                } else if w == b {
                    Some((i, *a))
                } else {
                    None
                }
            })
        }) else {
            continue;
        };
        let context = (norm(words[i - 1]), words[i]);
        if seen.insert(context) {
            out.push(minimal_pair(&words, i, other));
        }
    }
    out
}

/// Problem statements of held-out math text: the lines (less a `Question: ` or `Problem: `
/// label) of 6 to 40 printable ASCII words.
fn problem_lines(texts: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    for t in texts {
        for line in t.lines() {
            let line = line.trim();
            let line = line
                .strip_prefix("Question: ")
                .or_else(|| line.strip_prefix("Problem: "))
                .unwrap_or(line);
            let words = line.split_whitespace().count();
            if (6..=40).contains(&words) && line.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
                out.push(line);
            }
        }
    }
    out
}

/// Segments of any field's held-out text: its lines, split at sentence ends, of 6 to 40
/// printable ASCII words.
fn text_segments(texts: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    for t in texts {
        for s in t.lines().flat_map(|l| l.split_inclusive(['.', '!', '?'])) {
            let s = s.trim();
            let words = s.split_whitespace().count();
            if (6..=40).contains(&words) && s.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
                out.push(s);
            }
        }
    }
    out
}

/// One word of each segment (a lowercase word of 4+ letters, from the third on) against another
/// word of the same length from the segments; `stream` separates the fields' seeds.
fn cloze(sents: &[&str], seed: u64, stream: u64) -> Vec<LivingItem> {
    // Candidate replacements by length: lowercase words of 4+ letters seen in the text.
    let mut by_len: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for s in sents {
        for w in s.split_whitespace() {
            if w.len() >= 4 && w.chars().all(|c| c.is_ascii_lowercase()) {
                by_len.entry(w.len()).or_default().push(w);
            }
        }
    }
    for v in by_len.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.cloze", stream));
    let mut out = Vec::new();
    for s in sents {
        let words: Vec<&str> = s.split_whitespace().collect();
        let slots: Vec<usize> = (2..words.len())
            .filter(|&i| words[i].len() >= 4 && words[i].chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        let Some(&i) = slots.choose(&mut rng) else { continue };
        let Some(pool) = by_len.get(&words[i].len()).filter(|p| p.len() > 1) else { continue };
        let other = loop {
            let w = pool[rng.gen_range(0..pool.len())];
            if w != words[i] {
                break w;
            }
        };
        out.push(minimal_pair(&words, i, other));
    }
    out
}

/// Each segment as written against the same words with one seeded pair of neighbours (from
/// the second word on, two different words) swapped.
fn word_order(sents: &[&str], seed: u64, stream: u64) -> Vec<LivingItem> {
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.word_order", stream));
    let mut out = Vec::new();
    for s in sents {
        let words: Vec<&str> = s.split_whitespace().collect();
        let slots: Vec<usize> =
            (1..words.len() - 1).filter(|&i| words[i] != words[i + 1]).collect();
        let Some(&i) = slots.choose(&mut rng) else { continue };
        let tail = |from: usize| words[from..].iter().map(|w| format!(" {w}")).collect::<String>();
        out.push(LivingItem {
            prompt: words[..i].join(" "),
            options: vec![
                format!(" {} {}{}", words[i], words[i + 1], tail(i + 2)),
                format!(" {} {}{}", words[i + 1], words[i], tail(i + 2)),
            ],
            correct: 0,
            answer: String::new(),
        });
    }
    out
}

/// Held-out `Question: … Answer: …` pairs, matched two by two (seeded) where the answers
/// differ: each question gets its own answer and its partner's, so every answer string is once
/// right and once wrong and a preference for one answer's form cannot score.
fn answer_pairing(texts: &[String], seed: u64) -> Vec<LivingItem> {
    let mut qa: Vec<(String, String)> = texts
        .iter()
        .flat_map(|t| items_of("q", t))
        .filter(|it| it.prompt.starts_with("Question: ") && it.answer.len() <= 40)
        .map(|it| (it.prompt, it.answer))
        .collect();
    qa.sort();
    qa.dedup();
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.answer_pairing", 0));
    qa.shuffle(&mut rng);
    let mut out = Vec::new();
    for pair in qa.chunks_exact(2) {
        let ((q1, a1), (q2, a2)) = (&pair[0], &pair[1]);
        if a1.trim() == a2.trim() {
            continue;
        }
        for (q, right, wrong) in [(q1, a1, a2), (q2, a2, a1)] {
            out.push(LivingItem {
                prompt: q.clone(),
                options: vec![right.clone(), wrong.clone()],
                correct: 0,
                answer: String::new(),
            });
        }
    }
    out
}

/// The form of an answer: digits → `9`, letters → `a`, the rest kept (`-3/4` → `-9/9`).
fn answer_form(answer: &str) -> String {
    answer
        .chars()
        .map(|c| match c {
            c if c.is_ascii_digit() => '9',
            c if c.is_alphabetic() => 'a',
            c => c,
        })
        .collect()
}

/// Items of the math feedback sets that the feedback left out (the same evaluation-only
/// modules), each against a seeded other answer of the same length in another form: does the
/// model know what kind of answer the question asks for (a time, a fraction, a signed
/// integer, True or False)? The skill the math feedback measures at 1-5M parameters (the G2
/// probe, RESULTS.md), on disjoint items.
fn answer_kind(rest: &[FeedbackItem], seed: u64) -> Vec<LivingItem> {
    let short: Vec<&FeedbackItem> = rest.iter().filter(|it| it.answer.trim().len() <= 24).collect();
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, it) in short.iter().enumerate() {
        by_len.entry(it.answer.len()).or_default().push(i);
    }
    let forms: Vec<String> = short.iter().map(|it| answer_form(&it.answer)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.answer_kind", 0));
    let mut out = Vec::new();
    for (i, it) in short.iter().enumerate() {
        let others: Vec<usize> =
            by_len[&it.answer.len()].iter().copied().filter(|&j| forms[j] != forms[i]).collect();
        if let Some(&j) = others.choose(&mut rng) {
            out.push(LivingItem {
                prompt: it.prompt.clone(),
                options: vec![it.answer.clone(), short[j].answer.clone()],
                correct: 0,
                answer: String::new(),
            });
        }
    }
    out
}

fn definition(texts: &[String], seed: u64) -> Vec<LivingItem> {
    let defs: Vec<(String, String)> = texts
        .iter()
        .flat_map(|t| items_of("d", t))
        .filter(|it| it.prompt.ends_with(':') && !it.prompt.contains('\n') && it.prompt.len() <= 40)
        .map(|it| (it.prompt, it.answer))
        .collect();
    if defs.len() < 4 {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.definition", 0));
    defs.iter()
        .enumerate()
        .map(|(i, (term, gloss))| {
            let mut options = vec![gloss.clone()];
            while options.len() < 4 {
                let j = rng.gen_range(0..defs.len());
                if j != i && !options.contains(&defs[j].1) {
                    options.push(defs[j].1.clone());
                }
            }
            LivingItem { prompt: term.clone(), options, correct: 0, answer: String::new() }
        })
        .collect()
}

/// The neutral prompt of `choice_pmi` scoring: the answer cue every generated question ends
/// with, and nothing else.
pub const PMI_PROMPT: &str = "Answer:";

/// How a choice task's options are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceScoring {
    /// Summed log-probability of the option after the prompt.
    Sum,
    /// Mean log-probability per token of the option.
    PerToken,
    /// Summed log-probability after the prompt less that after [`PMI_PROMPT`] alone (pointwise
    /// mutual information with the question): a frequent or short number gains nothing from
    /// its prior, only from what the question says.
    Pmi,
}

impl ChoiceScoring {
    /// The scoring of a task kind (`choice_per_token`, `choice_pmi`, anything else: sum).
    pub fn of_kind(kind: &str) -> Self {
        match kind {
            "choice_per_token" => Self::PerToken,
            "choice_pmi" => Self::Pmi,
            _ => Self::Sum,
        }
    }
}

fn question(q: &str) -> String {
    format!("Question: {q}\nAnswer:")
}

fn arithmetic(seed: u64) -> Vec<LivingItem> {
    let mut out = Vec::new();
    for a in 0..10i32 {
        for b in 0..10i32 {
            out.push((format!("What is {a} + {b}?"), a + b));
            out.push((format!("What is {a} * {b}?"), a * b));
            if a >= b {
                out.push((format!("What is {a} - {b}?"), a - b));
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.arithmetic", 0));
    while out.len() < 420 {
        let (a, b, c) = (rng.gen_range(0..10), rng.gen_range(0..10), rng.gen_range(0..10));
        out.push((format!("What is {a} + {b} + {c}?"), a + b + c));
    }
    out.into_iter()
        .map(|(q, v)| LivingItem {
            prompt: question(&q),
            options: Vec::new(),
            correct: 0,
            answer: v.to_string(),
        })
        .collect()
}

fn addition(seed: u64) -> Vec<LivingItem> {
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.addition", 0));
    (0..600)
        .map(|_| {
            let (a, b) = (rng.gen_range(10..90), rng.gen_range(10..90));
            let s = a + b;
            let options = [s, s + 1, s - 1, s + 10].iter().map(|v| format!(" {v}")).collect();
            LivingItem {
                prompt: question(&format!("What is {a} + {b}?")),
                options,
                correct: 0,
                answer: String::new(),
            }
        })
        .collect()
}

fn comparison(seed: u64) -> Vec<LivingItem> {
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.living.comparison", 0));
    let mut out = Vec::new();
    while out.len() < 600 {
        let (a, b) = (rng.gen_range(0..100), rng.gen_range(0..100));
        if a == b {
            continue;
        }
        let (big, small) = (a.max(b), a.min(b));
        out.push(LivingItem {
            prompt: question(&format!("Which is bigger: {a} or {b}?")),
            options: vec![format!(" {big}"), format!(" {small}")],
            correct: 0,
            answer: String::new(),
        });
    }
    out
}

fn code_syntax(texts: &[String]) -> Vec<LivingItem> {
    let mut out = Vec::new();
    for t in texts {
        let lines: Vec<&str> = t.lines().collect();
        for i in 2..lines.len() {
            let line = lines[i];
            let body = line.trim();
            if body.len() < 12 || body.len() > 100 || !body.ends_with([')', ']', '}', ':']) {
                continue;
            }
            let prompt = format!("{}\n", lines[i.saturating_sub(3)..i].join("\n"));
            let broken = &line[..line.len() - 1];
            out.push(LivingItem {
                prompt,
                options: vec![format!("{line}\n"), format!("{broken}\n")],
                correct: 0,
                answer: String::new(),
            });
        }
    }
    out
}

/// The option an item's scores pick (the first of the best) and the credit for `correct`: ties
/// share it (1/k each), so no option order is favoured.
pub fn choose(scores: &[f64], correct: usize) -> (f64, usize) {
    let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tied: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] == best).collect();
    let credit = if tied.contains(&correct) { 1.0 / tied.len() as f64 } else { 0.0 };
    (credit, tied[0])
}

/// Scores every option of every `(prompt, options, correct)` item in one batch and grades the
/// picks: the credit summed over the items (ties shared, see [`choose`]) and the option each
/// item picked, each option valued as `scoring` says.
pub fn grade_choices(
    scorer: &Scorer<'_>,
    items: &[(&str, &[String], usize)],
    scoring: ChoiceScoring,
) -> Result<(f64, Vec<usize>), EvalError> {
    let pairs: Vec<(&str, &str)> = items
        .iter()
        .flat_map(|&(prompt, options, _)| options.iter().map(move |o| (prompt, o.as_str())))
        .collect();
    let scored = scorer.score(&pairs)?;
    let values: Vec<f64> = match scoring {
        ChoiceScoring::Sum => scored.iter().map(|x| x.logprob_sum).collect(),
        ChoiceScoring::PerToken => scored.iter().map(|x| x.mean()).collect(),
        ChoiceScoring::Pmi => {
            // Each distinct option's prior once (a task's options repeat across items).
            let mut distinct: Vec<&str> = pairs.iter().map(|&(_, o)| o).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let bare: Vec<(&str, &str)> = distinct.iter().map(|&o| (PMI_PROMPT, o)).collect();
            let prior: BTreeMap<&str, f64> = distinct
                .iter()
                .copied()
                .zip(scorer.score(&bare)?.iter().map(|x| x.logprob_sum))
                .collect();
            scored.iter().zip(&pairs).map(|(x, (_, o))| x.logprob_sum - prior[o]).collect()
        }
    };
    let mut k = 0;
    let mut credit = 0.0;
    let mut picks = Vec::with_capacity(items.len());
    for &(_, options, correct) in items {
        let (c, pick) = choose(&values[k..k + options.len()], correct);
        k += options.len();
        credit += c;
        picks.push(pick);
    }
    Ok((credit, picks))
}

/// Scores one task on a model: accuracy, chance, Wilson interval, constant-answer rate.
pub fn score_task(scorer: &Scorer<'_>, task: &LivingTask) -> Result<TaskScore, EvalError> {
    let (correct, answers): (f64, Vec<String>) = if task.kind == "exact_match" {
        let prompts: Vec<&str> = task.items.iter().map(|i| i.prompt.as_str()).collect();
        let outputs = scorer.generate(&prompts, 6)?;
        let right = task.items.iter().zip(&outputs).filter(|(i, o)| o.trim() == i.answer).count();
        (right as f64, outputs.iter().map(|o| o.trim().to_string()).collect())
    } else {
        let items: Vec<(&str, &[String], usize)> =
            task.items.iter().map(|it| (it.prompt.as_str(), &it.options[..], it.correct)).collect();
        let (right, picks) = grade_choices(scorer, &items, ChoiceScoring::of_kind(task.kind))?;
        // Options are shuffled per item, so the position picked is the constant answer.
        (right, picks.iter().map(usize::to_string).collect())
    };
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for it in &task.items {
        for part in
            std::iter::once(&it.prompt).chain(&it.options).chain(std::iter::once(&it.answer))
        {
            h = (h ^ fnv(part)).wrapping_mul(0x100_0000_01b3);
        }
    }
    let score = TaskScore::from_counts(
        &task.name,
        &task.field,
        task.kind,
        correct,
        task.chance(),
        &answers,
        task.items.first().map(|i| i.options.len()).filter(|&k| k > 1),
        format!("{h:016x}"),
    );
    Ok(TaskScore { training_text: task.training_text, ..score })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_by_hand() {
        // k = 50 of n = 100: z/(1+z²/n) · sqrt(p(1−p)/n + z²/(4n²)) = 0.09617.
        assert!((wilson_half(50.0, 100) - 0.0961).abs() < 1e-3, "{}", wilson_half(50.0, 100));
        assert!(wilson_half(0.0, 0).is_nan());
    }

    #[test]
    fn agreement_and_cloze_items_are_minimal_pairs() {
        let texts = vec!["The old dog is asleep by the warm fire tonight. Many people were watching the quiet river.".to_string()];
        let a = agreement(&sentences(&texts));
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].prompt, "The old dog");
        assert_eq!(
            a[0].options,
            [" is asleep by the warm fire tonight.", " are asleep by the warm fire tonight."]
        );
        assert_eq!(a[1].options[1], " was watching the quiet river.");
        let c = cloze(&sentences(&texts), 0, 0);
        for it in &c {
            let (x, y) = (&it.options[0], &it.options[1]);
            assert_ne!(x, y);
            assert_eq!(x.split(' ').count(), y.split(' ').count(), "one word swapped: {x} / {y}");
        }
    }

    #[test]
    fn agreement_keeps_one_item_per_verb_context() {
        let sents = [
            "What is the value of 3 + 4?",
            "What is 35 times 2?",
            "what is 4 times 9?",
            "Suppose the list is sorted from small to large.",
            "Suppose 12 is the number of rows here.",
            "Then 7 are the number of columns here.",
            "What are the values of x and y?",
        ];
        let items = agreement(&sents);
        let prompts: Vec<&str> = items.iter().map(|it| it.prompt.as_str()).collect();
        // `what is` once, `list is`, `0 is`, `0 are` (the other verb: another right answer in
        // the same place), `what are`.
        assert_eq!(prompts, ["What", "Suppose the list", "Suppose 12", "Then 7", "What"]);
        assert_eq!(items[0].options[0], " is the value of 3 + 4?");
        assert_eq!(items[4].options[1], " is the values of x and y?");
    }

    #[test]
    fn word_order_swaps_two_neighbours_and_keeps_the_words() {
        let sents = ["Let x be the number of apples in the basket."];
        let items = word_order(&sents, 0, 1);
        assert_eq!(items.len(), 1);
        let it = &items[0];
        let whole = |o: &str| format!("{}{o}", it.prompt);
        assert_eq!(whole(&it.options[0]), sents[0]);
        let mut a: Vec<&str> = sents[0].split(' ').collect();
        let swapped = whole(&it.options[1]);
        let mut b: Vec<&str> = swapped.split(' ').collect();
        assert_ne!(a, b);
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "the same words, two of them swapped");
    }

    #[test]
    fn answer_kind_pits_the_gold_answer_against_another_form_of_the_same_length() {
        let item = |p: &str, a: &str| FeedbackItem {
            field: "math".into(),
            set: "s".into(),
            prompt: p.into(),
            answer: a.into(),
        };
        let rest = [
            item("Problem: a\nAnswer:", " 12"),
            item("Problem: b\nAnswer:", " 45"),
            item("Problem: c\nAnswer:", " -3"),
            item("Problem: d\nAnswer:", " True"),
            item("Problem: e\nAnswer:", " 1/4"),
            item("Problem: f\nAnswer:", " 0.5"),
            item("Problem: g\nAnswer:", " 7"),
        ];
        let items = answer_kind(&rest, 3);
        // " 7" has no other answer of its length; " True" none of another form and length 5.
        let prompts: Vec<&str> = items.iter().map(|i| i.prompt.as_str()).collect();
        assert_eq!(prompts.len(), 5, "{prompts:?}");
        assert!(!prompts.iter().any(|p| p.contains("d\n") || p.contains("g\n")));
        for it in &items {
            let (right, wrong) = (&it.options[0], &it.options[1]);
            assert_eq!(it.correct, 0);
            assert_eq!(right.len(), wrong.len());
            assert_ne!(answer_form(right), answer_form(wrong), "{right} vs {wrong}");
        }
        assert_eq!(answer_kind(&rest, 3), items, "seeded");
    }

    #[test]
    fn answer_pairing_uses_every_answer_once_right_and_once_wrong() {
        let texts = vec![
            "Question: What is 2 + 3?\nAnswer: 5\n\nQuestion: Is 7 prime?\nAnswer: True".to_string(),
            "Question: Expand (x + 1)**2.\nAnswer: x**2 + 2*x + 1\n\nQuestion: What is 4 - 4?\nAnswer: 0"
                .to_string(),
        ];
        let items = answer_pairing(&texts, 0);
        assert_eq!(items.len(), 4);
        let mut right: Vec<&str> = items.iter().map(|i| i.options[0].as_str()).collect();
        let mut wrong: Vec<&str> = items.iter().map(|i| i.options[1].as_str()).collect();
        right.sort_unstable();
        wrong.sort_unstable();
        assert_eq!(right, wrong);
        assert!(items
            .iter()
            .any(|i| i.prompt == "Question: Is 7 prime?\nAnswer:" && i.options[0] == " True"));
        let doc =
            vec!["Question: Let x be the sum of 3 and 4.\nAnswer: 7\nProblem: Is 7 prime?"
                .to_string()];
        assert_eq!(problem_lines(&doc), ["Let x be the sum of 3 and 4."]);
    }

    #[test]
    fn math_items_are_right_and_enough() {
        let a = arithmetic(0);
        assert!(a.len() >= 400);
        assert!(a
            .iter()
            .any(|i| i.prompt == "Question: What is 7 * 8?\nAnswer:" && i.answer == "56"));
        let s = addition(0);
        for it in &s {
            let q =
                it.prompt.trim_start_matches("Question: What is ").trim_end_matches("?\nAnswer:");
            let (x, y) = q.split_once(" + ").unwrap();
            let sum: i32 = x.parse::<i32>().unwrap() + y.parse::<i32>().unwrap();
            assert_eq!(it.options[it.correct], format!(" {sum}"));
        }
        let c = comparison(0);
        assert!(c.iter().all(|i| i.options.len() == 2));
    }

    #[test]
    fn options_are_shuffled_and_feedback_prompts_dropped() {
        let items = comparison(0);
        let first = items[0].prompt.clone();
        let t = task("comparison", "math", "choice", items, 400, 3, &|it| it.prompt != first);
        assert_eq!(t.items.len(), 400);
        assert!(t.items.iter().all(|i| i.prompt != first));
        let at_zero = t.items.iter().filter(|i| i.correct == 0).count();
        assert!((150..250).contains(&at_zero), "right answer at position 0 in {at_zero} of 400");
        assert_eq!(t.chance(), 0.5);
    }

    #[test]
    fn code_lines_lose_their_last_character() {
        let texts = vec!["import os\n\ndef f(x):\n    return g(x, y)\n".to_string()];
        let items = code_syntax(&texts);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].options, ["    return g(x, y)\n", "    return g(x, y\n"]);
    }
}
