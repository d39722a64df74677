//! `evaluate`: feedback per field, held-out bits per byte per domain and, for the full suite,
//! BIG-bench multiple choice and exact-match math generation.

use std::path::{Path, PathBuf};

use mixagent_corpus::CorpusTokenizer;
use mixagent_lm::Llama;
use mixagent_shard::{Manifest, Split};
use serde::Serialize;

use crate::bigbench::load_task;
use crate::living::{grade_choices, living_tasks, score_task, ChoiceScoring};
use crate::score::{mean_loss, Scorer};
use crate::suites::HeldOut;
use crate::{build_suite, EvalError, Suite};

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Fields to build feedback suites for (e.g. `general`, `math`).
    pub fields: Vec<String>,
    /// Items per feedback suite.
    pub items_per_field: usize,
    /// Held-out windows per domain for bits per byte.
    pub windows_per_domain: usize,
    /// Also run the benchmark suite.
    pub full: bool,
    /// Items per benchmark task.
    pub items_per_task: usize,
    /// Folder of the BIG-bench tasks (`$MIXAGENT_CACHE/raw/bigbench`); `None` leaves them out
    /// (the registry no longer serves the package: `scripts/setup.sh` installs it only from a
    /// cache that holds it).
    pub bigbench_root: Option<PathBuf>,
    /// Seed of item selection.
    pub seed: u64,
    /// Sequences per forward pass.
    pub batch_size: usize,
}

/// One feedback suite's score.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackScore {
    /// Field.
    pub field: String,
    /// Items scored.
    pub items: usize,
    /// Suite fingerprint.
    pub fingerprint: String,
    /// Mean over items of the mean per-token log-probability of the gold answer; under
    /// pairing scoring, of the log-probability of pairing the answer with its own prompt
    /// rather than another item's ([`Suite::pairs`]).
    pub feedback: f64,
    /// Items whose prompt was cut from the left to fit the context.
    pub truncated: usize,
}

/// One domain's held-out loss.
#[derive(Debug, Clone, Serialize)]
pub struct DomainLoss {
    /// Domain.
    pub domain: String,
    /// Field.
    pub field: String,
    /// Mean nats per token.
    pub nats_per_token: f64,
    /// Bits per UTF-8 byte (comparable across tokenizers).
    pub bits_per_byte: f64,
}

/// One benchmark task's result.
#[derive(Debug, Clone, Serialize)]
pub struct TaskScore {
    /// Task.
    pub task: String,
    /// Field it counts for.
    pub field: String,
    /// `multiple_choice` or `exact_match`.
    pub kind: String,
    /// Items.
    pub items: usize,
    /// Accuracy.
    pub accuracy: f64,
    /// Accuracy of guessing.
    pub chance: f64,
    /// (accuracy − chance) / (1 − chance), ×100.
    pub score: f64,
    /// Item fingerprint.
    pub fingerprint: String,
    /// Half-width of the 95% Wilson interval of the accuracy.
    pub wilson_half: f64,
    /// Share of items given the most common answer (option position, or generated text).
    pub constant_rate: f64,
    /// Above chance by ≥ 3 Wilson half-widths with constant answers under 50% (the per-model
    /// half of gate G0); a comparison averages only the tasks alive for its base model.
    pub alive: bool,
    /// Built from the training domains' own held-out documents (`LivingTask::training_text`).
    pub training_text: bool,
}

impl TaskScore {
    /// A task's score from its counts: `correct` (ties share credit) of `items`, the chance
    /// rate, and each item's answer, for the constant-answer rate: the share of items given
    /// the most common answer. When the answers are option positions shuffled per item
    /// (`positions = Some(k)`), that share is rescaled so that a model without a favourite
    /// position reads 0 and one that always picks the same position reads 1:
    /// (share − 1/k)/(1 − 1/k).
    #[allow(clippy::too_many_arguments)]
    pub fn from_counts(
        task: &str,
        field: &str,
        kind: &str,
        correct: f64,
        chance: f64,
        answers: &[String],
        positions: Option<usize>,
        fingerprint: String,
    ) -> TaskScore {
        let items = answers.len();
        let accuracy = correct / items.max(1) as f64;
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for a in answers {
            *counts.entry(a.as_str()).or_default() += 1;
        }
        let share = counts.values().copied().max().unwrap_or(0) as f64 / items.max(1) as f64;
        let constant_rate = match positions {
            Some(k) if k > 1 => ((share - 1.0 / k as f64) / (1.0 - 1.0 / k as f64)).max(0.0),
            _ => share,
        };
        let wilson_half = crate::living::wilson_half(correct, items);
        TaskScore {
            task: task.into(),
            field: field.into(),
            kind: kind.into(),
            items,
            accuracy,
            chance,
            score: 100.0 * (accuracy - chance) / (1.0 - chance),
            fingerprint,
            wilson_half,
            constant_rate,
            alive: accuracy - chance >= 3.0 * wilson_half && constant_rate < 0.5,
            training_text: false,
        }
    }
}

/// Everything `mixagent eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The report's layout version ([`mixagent_core::EVAL_REPORT_VERSION`]).
    pub format_version: u32,
    /// The checkpoint evaluated.
    pub checkpoint: String,
    /// Feedback per field.
    pub feedback: Vec<FeedbackScore>,
    /// Held-out loss per domain.
    pub heldout: Vec<DomainLoss>,
    /// Mean held-out bits per byte over each field's domains.
    pub field_bits_per_byte: Vec<(String, f64)>,
    /// Benchmark tasks (full suite only).
    pub tasks: Vec<TaskScore>,
    /// Mean task score per field, then overall (full suite only).
    pub averages: Vec<(String, f64)>,
}

/// General multiple-choice tasks (source field). `vitaminc_fact_verification` is left out: its
/// Wikipedia sentences are the training corpus's `encyclopedic` domain.
pub const GENERAL_TASKS: &[&str] =
    &["social_iqa", "winowhy", "strategyqa", "goal_step_wikihow", "date_understanding"];
/// Math multiple-choice tasks (target field). Only MathQA's `question_only` sub-task: the
/// others repeat its questions with hints, or with the solution steps in place of the question.
pub const MATH_TASKS: &[&str] = &["elementary_math_qa/question_only", "arithmetic"];

/// The fields the built-in benchmark tasks are for.
pub const BENCHMARK_FIELDS: &[&str] = &["general", "math"];

/// Scores the feedback suites (the agent's observation).
pub fn feedback(scorer: &Scorer<'_>, suites: &[Suite]) -> Result<Vec<FeedbackScore>, EvalError> {
    suites.iter().map(|s| Ok(feedback_score(s, &scorer.score(&s.pairs())?))).collect()
}

/// A suite's feedback from the scores of its pairs ([`Suite::pairs`]): the mean over items
/// (with an answer) of the mean log-probability per answer token after the item's own prompt;
/// or (pairing scoring) of log σ(own − other), the summed log-probabilities of the answer
/// after its own prompt and after the other: the log-probability of choosing the right
/// prompt for the answer.
pub(crate) fn feedback_score(suite: &Suite, scored: &[crate::Scored]) -> FeedbackScore {
    let n = suite.items.len();
    let (own, control) = scored.split_at(n.min(scored.len()));
    let pairing = suite.scoring == mixagent_shard::FeedbackScoring::Pairing;
    let values: Vec<f64> = if pairing && !control.is_empty() && control.len() == own.len() {
        own.iter()
            .zip(control)
            .filter(|(x, _)| x.tokens > 0)
            .map(|(x, c)| log_sigmoid(x.logprob_sum - c.logprob_sum))
            .collect()
    } else {
        own.iter().filter(|x| x.tokens > 0).map(|x| x.mean()).collect()
    };
    FeedbackScore {
        field: suite.field.clone(),
        items: values.len(),
        fingerprint: suite.fingerprint(),
        feedback: values.iter().sum::<f64>() / values.len().max(1) as f64,
        truncated: own.iter().filter(|x| x.truncated).count(),
    }
}

/// log σ(x) = −ln(1 + e^(−x)), without overflow for large |x|.
fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// Runs the evaluation of `model` (trained on the corpus at `corpus`).
pub fn evaluate(
    model: &Llama,
    checkpoint: &Path,
    corpus: &Path,
    opts: &EvalOptions,
    device: tch::Device,
) -> Result<EvalReport, EvalError> {
    let manifest = Manifest::load(corpus)?;
    let tokenizer = CorpusTokenizer::load(&corpus.join(&manifest.tokenizer.file))?;
    let scorer = Scorer::new(model, &tokenizer, opts.batch_size, device);
    let suites = opts
        .fields
        .iter()
        .map(|f| build_suite(corpus, &manifest, f, opts.items_per_field, opts.seed))
        .collect::<Result<Vec<_>, _>>()?;
    let feedback = feedback(&scorer, &suites)?;

    let seq_len = model.config().max_seq_len;
    let mut heldout = Vec::new();
    for d in manifest.domains.iter().filter(|d| opts.fields.iter().any(|f| f == d.field.as_str())) {
        let shards = manifest.open_shards(corpus, d, Split::Heldout)?;
        let tokens: Vec<u32> = shards.iter().flat_map(|s| s.to_vec()).collect();
        let nats =
            mean_loss(model, &tokens, seq_len, opts.windows_per_domain, opts.batch_size, device)?;
        let bytes_per_token = d.heldout.bytes as f64 / d.heldout.tokens.max(1) as f64;
        heldout.push(DomainLoss {
            domain: d.name.clone(),
            field: d.field.to_string(),
            nats_per_token: nats,
            bits_per_byte: nats / std::f64::consts::LN_2 / bytes_per_token,
        });
    }

    let field_bits_per_byte = opts
        .fields
        .iter()
        .map(|f| {
            let v: Vec<f64> =
                heldout.iter().filter(|d| &d.field == f).map(|d| d.bits_per_byte).collect();
            (f.clone(), v.iter().sum::<f64>() / v.len().max(1) as f64)
        })
        .collect();
    let mut tasks = Vec::new();
    if opts.full {
        // Built-in tasks run only for the fields the run has (a corpus of its own fields gets
        // none: `compare` warns before it starts); the BIG-bench ones only where the machine
        // has them.
        let tasks_of = [(GENERAL_TASKS, "general"), (MATH_TASKS, "math")];
        if let Some(root) = &opts.bigbench_root {
            for (names, field) in
                tasks_of.into_iter().filter(|(_, f)| opts.fields.iter().any(|g| g == f))
            {
                for name in names.iter() {
                    let task = load_task(root, name, opts.items_per_task, opts.seed)?;
                    let items: Vec<(&str, &[String], usize)> = task
                        .items
                        .iter()
                        .map(|it| (it.prompt.as_str(), &it.options[..], it.correct))
                        .collect();
                    let (correct, picked) = grade_choices(&scorer, &items, ChoiceScoring::Sum)?;
                    // The chosen option's text: the same text for every item is a constant answer.
                    let picks: Vec<String> = picked
                        .iter()
                        .zip(&task.items)
                        .map(|(&p, it)| it.options[p].clone())
                        .collect();
                    tasks.push(TaskScore::from_counts(
                        name,
                        field,
                        "multiple_choice",
                        correct,
                        task.chance(),
                        &picks,
                        None,
                        task.fingerprint(),
                    ));
                }
            }
        }
        if opts.fields.iter().any(|f| f == "math") {
            tasks.push(exact_match_math(&scorer, corpus, &manifest, opts)?);
        }
        // The living benchmarks (DESIGN §10), for the fields the run has.
        for t in living_tasks(corpus, &manifest, &opts.fields, opts.items_per_task, opts.seed)? {
            tasks.push(score_task(&scorer, &t)?);
        }
    }
    let mut averages = Vec::new();
    if !tasks.is_empty() {
        for field in &opts.fields {
            let s: Vec<f64> = tasks.iter().filter(|t| &t.field == field).map(|t| t.score).collect();
            if !s.is_empty() {
                averages.push((field.clone(), s.iter().sum::<f64>() / s.len() as f64));
            }
        }
        averages.push((
            "overall".into(),
            tasks.iter().map(|t| t.score).sum::<f64>() / tasks.len() as f64,
        ));
    }
    Ok(EvalReport {
        format_version: mixagent_core::EVAL_REPORT_VERSION,
        checkpoint: checkpoint.display().to_string(),
        feedback,
        heldout,
        field_bits_per_byte,
        tasks,
        averages,
    })
}

/// Greedy generation on held-out mathematics_dataset questions; exact match of the first line.
/// The questions come from the math domains' held-out documents, never from the feedback sets.
fn exact_match_math(
    scorer: &Scorer<'_>,
    corpus: &Path,
    manifest: &Manifest,
    opts: &EvalOptions,
) -> Result<TaskScore, EvalError> {
    let suite = HeldOut { dir: corpus, manifest }.round_robin(
        "math",
        opts.items_per_task,
        opts.seed ^ 1,
    )?;
    let qa: Vec<_> = suite.items.iter().filter(|i| i.prompt.starts_with("Question: ")).collect();
    if qa.is_empty() {
        return Err(EvalError::Empty {
            what: "exact-match math".into(),
            hint: "no held-out Question/Answer items".into(),
        });
    }
    let prompts: Vec<&str> = qa.iter().map(|i| i.prompt.as_str()).collect();
    let outputs = scorer.generate(&prompts, 16)?;
    let correct = qa.iter().zip(&outputs).filter(|(i, o)| o.trim() == i.answer.trim()).count();
    let answers: Vec<String> = outputs.iter().map(|o| o.trim().to_string()).collect();
    Ok(TaskScore::from_counts(
        "math_exact_match",
        "math",
        "exact_match",
        correct as f64,
        0.0,
        &answers,
        None,
        suite.fingerprint(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Item, Scored};
    use mixagent_shard::FeedbackScoring;

    fn suite(scoring: FeedbackScoring) -> Suite {
        let item =
            |p: &str, a: &str| Item { domain: "s".into(), prompt: p.into(), answer: a.into() };
        Suite {
            field: "math".into(),
            items: vec![item("P1", " 1"), item("P2", " 22"), item("P3", " 3")],
            scoring,
        }
    }

    fn scored(sums: &[f64]) -> Vec<Scored> {
        sums.iter().map(|&s| Scored { logprob_sum: s, tokens: 2, truncated: false }).collect()
    }

    #[test]
    fn pairing_scores_each_answer_again_after_the_next_items_prompt() {
        let s = suite(FeedbackScoring::Pairing);
        assert_eq!(
            s.pairs(),
            [("P1", " 1"), ("P2", " 22"), ("P3", " 3"), ("P2", " 1"), ("P3", " 22"), ("P1", " 3")]
        );
        assert_eq!(suite(FeedbackScoring::Likelihood).pairs().len(), 3);
        assert_ne!(s.fingerprint(), suite(FeedbackScoring::Likelihood).fingerprint());
    }

    #[test]
    fn pairing_ignores_a_better_guess_at_answers_in_general() {
        // Summed log-probabilities after the own prompts and after the others'.
        let (own, other) = ([-2.0, -4.0, -6.0], [-3.0, -4.0, -6.5]);
        let score = |scoring, own: &[f64], other: &[f64]| {
            let all: Vec<f64> = own.iter().chain(other).copied().collect();
            feedback_score(&suite(scoring), &scored(&all)).feedback
        };
        let ls = |x: f64| -(1.0 + (-x).exp()).ln();
        let pairing = score(FeedbackScoring::Pairing, &own, &other);
        assert!((pairing - (ls(1.0) + ls(0.0) + ls(0.5)) / 3.0).abs() < 1e-12, "{pairing}");
        // No pairing skill reads log ½; a model better at answers whatever the question (every
        // log-probability 0.8 higher) scores the same; one that ties answers to their
        // questions (own prompts 0.8 higher) scores better.
        assert!((score(FeedbackScoring::Pairing, &own, &own) - 0.5f64.ln()).abs() < 1e-12);
        let up = |xs: &[f64]| xs.iter().map(|x| x + 0.8).collect::<Vec<_>>();
        assert!((score(FeedbackScoring::Pairing, &up(&own), &up(&other)) - pairing).abs() < 1e-12);
        assert!(score(FeedbackScoring::Pairing, &up(&own), &other) > pairing + 0.1);
        // Likelihood (mean per token, 2 tokens an answer) takes the better guess in full.
        let lik = feedback_score(&suite(FeedbackScoring::Likelihood), &scored(&own)).feedback;
        let lik_up =
            feedback_score(&suite(FeedbackScoring::Likelihood), &scored(&up(&own))).feedback;
        assert!((lik + 2.0).abs() < 1e-12 && (lik_up - lik - 0.4).abs() < 1e-12);
        assert!((log_sigmoid(-800.0) + 800.0).abs() < 1e-9 && log_sigmoid(800.0) == 0.0);
    }
}
