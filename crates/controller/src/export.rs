//! Schedule export (DESIGN §8): a schedule of stages (tokens and weights over named domains)
//! written in the config form of the trainer that runs the real continual pre-training.
//!
//! | format | what it writes | stages |
//! |---|---|---|
//! | `megatron` | JSON: per stage the `--data-path` weights and a `--per-split-data-args-path` object, the cumulative `--train-samples` (on a step), the whole run's `--lr-decay-samples` | one launch per stage, resumed with `--load` and `--override-opt_param-scheduler` |
//! | `nanotron` | YAML `data_stages` (Nanoset `dataset_folder` + `dataset_weights`), 1-based `start_training_step` | in one file; current nanotron trains the last stage of a file, so launch stage k with stages 1..k |
//! | `levanter` | YAML `data.configs` + `data.train_weights` as `[step, weights]` pairs | in one run |
//! | `mosaic` | YAML documents (one per stage) of llm-foundry `train_loader.dataset.streams` proportions, cumulative `max_duration` | one run per stage |
//! | `hf` | JSON: per stage the datasets and `interleave_datasets` probabilities | one interleaved stream per stage, chained |
//! | `olmo` | JSON: per stage an OLMo-core `SourceMixtureDatasetConfig` (`_CLASS_` dicts) | one run per stage |
//!
//! Weights are rounded to 6 decimals; where the trainer checks the sum instead of normalising
//! (numpy's choice under `interleave_datasets`, OLMo-core) they sum to exactly 1.0 in f64.
//! Domains with weight 0 in a stage are left out of it, except in Levanter, whose stages name
//! every source.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::ControllerError;

/// A schedule to export: stages of training tokens and weights over named domains.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSchedule {
    /// Domain names, in weight order.
    pub domains: Vec<String>,
    /// The stages, in order.
    pub stages: Vec<PlannedStage>,
}

impl PlannedSchedule {
    /// The schedule with every entry that stands for several corpus domains (a group `a+b` of
    /// a re-grouped space, or a whole field of a field-level space) replaced by its domains,
    /// its weight split among them in proportion to their training tokens, as the sampler
    /// reads such an entry: a trainer has a dataset per domain, none named after a group or a
    /// field. `members` maps an entry to its domains and their training tokens; an entry it
    /// does not hold, or that stands for itself, is kept as it is, but a group it does not
    /// hold is an error.
    pub fn expand_entries(
        &self,
        members: &std::collections::BTreeMap<String, Vec<(String, u64)>>,
    ) -> Result<PlannedSchedule, String> {
        // Each entry's parts and their shares of it.
        let mut parts: Vec<Vec<(String, f64)>> = Vec::with_capacity(self.domains.len());
        for name in &self.domains {
            let of = match members.get(name) {
                Some(of) if !(of.len() == 1 && &of[0].0 == name) => of,
                None if name.contains(mixagent_core::GROUP_SEPARATOR) => {
                    return Err(format!(
                        "group `{name}`: not a group of this corpus's domains (one field each)"
                    ))
                }
                _ => {
                    parts.push(vec![(name.clone(), 1.0)]);
                    continue;
                }
            };
            let total: f64 = of.iter().map(|(_, t)| *t as f64).sum();
            if total <= 0.0 {
                return Err(format!("entry `{name}`: its domains hold no training tokens"));
            }
            parts.push(of.iter().map(|(m, t)| (m.clone(), *t as f64 / total)).collect());
        }
        Ok(PlannedSchedule {
            domains: parts.iter().flatten().map(|(d, _)| d.clone()).collect(),
            stages: self
                .stages
                .iter()
                .map(|s| PlannedStage {
                    tokens: s.tokens,
                    weights: s
                        .weights
                        .iter()
                        .zip(&parts)
                        .flat_map(|(w, p)| p.iter().map(move |(_, share)| w * share))
                        .collect(),
                })
                .collect(),
        })
    }
}

/// One stage of a [`PlannedSchedule`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStage {
    /// Training tokens of the stage.
    pub tokens: u64,
    /// Weights in the schedule's domain order (a simplex point).
    pub weights: Vec<f64>,
}

/// How the trainer counts: what turns tokens into samples and steps.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainerShape {
    /// Tokens per sequence (sample).
    pub seq_len: u64,
    /// Sequences per optimizer step (the global batch).
    pub global_batch: u64,
    /// Seed written where the format takes one.
    pub seed: u64,
    /// Levanter's `mixture_block_size`: each stage must start at a multiple of it (sequences).
    pub mixture_block_size: u64,
}

impl TrainerShape {
    /// Tokens per optimizer step.
    pub fn tokens_per_step(&self) -> u64 {
        self.seq_len * self.global_batch
    }
}

/// Where each domain's data lives in the trainer's file system: a template with `{domain}`,
/// and overrides per domain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataPaths {
    /// `/data/{domain}_text_document`; `{domain}` alone by default.
    pub template: String,
    /// Domain → path, taking precedence over the template.
    pub overrides: BTreeMap<String, String>,
}

impl DataPaths {
    /// The path of `domain`.
    pub fn of(&self, domain: &str) -> String {
        self.overrides.get(domain).cloned().unwrap_or_else(|| {
            let t = if self.template.is_empty() { "{domain}" } else { &self.template };
            t.replace("{domain}", domain)
        })
    }
}

/// The trainers a schedule can be exported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Megatron-LM `--data-path` / `--per-split-data-args-path`.
    Megatron,
    /// nanotron `data_stages`.
    Nanotron,
    /// Levanter / Marin `train_weights`.
    Levanter,
    /// MosaicML Streaming (llm-foundry) `streams` proportions.
    Mosaic,
    /// Hugging Face `datasets.interleave_datasets` probabilities.
    Hf,
    /// OLMo-core `SourceMixtureDatasetConfig`.
    Olmo,
}

/// Every format with its name, for parsing and help texts.
pub const FORMATS: [(&str, Format); 6] = [
    ("megatron", Format::Megatron),
    ("nanotron", Format::Nanotron),
    ("levanter", Format::Levanter),
    ("mosaic", Format::Mosaic),
    ("hf", Format::Hf),
    ("olmo", Format::Olmo),
];

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        FORMATS.iter().find(|(n, _)| *n == s).map(|(_, f)| *f).ok_or_else(|| {
            let names: Vec<&str> = FORMATS.iter().map(|(n, _)| *n).collect();
            format!("unknown export format `{s}`; use one of: {}", names.join(", "))
        })
    }
}

impl Format {
    /// The file extension of its output.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Megatron | Format::Hf | Format::Olmo => "json",
            Format::Nanotron | Format::Levanter | Format::Mosaic => "yaml",
        }
    }
}

impl PlannedSchedule {
    /// Checks that there are stages, each with tokens and a simplex point over the domains.
    pub fn validate(&self) -> Result<(), ControllerError> {
        self.check().map_err(ControllerError::Schedule)
    }

    fn check(&self) -> Result<(), String> {
        if self.stages.is_empty() {
            return Err("the schedule has no stages".into());
        }
        for (k, s) in self.stages.iter().enumerate() {
            if s.tokens == 0 {
                return Err(format!("stage {k} has 0 tokens"));
            }
            if s.weights.len() != self.domains.len() {
                return Err(format!(
                    "stage {k} has {} weights for {} domains",
                    s.weights.len(),
                    self.domains.len()
                ));
            }
            if let Some((d, w)) =
                self.domains.iter().zip(&s.weights).find(|(_, w)| !(w.is_finite() && **w >= 0.0))
            {
                return Err(format!("stage {k}: the weight of `{d}` is {w}"));
            }
            let sum: f64 = s.weights.iter().sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(format!("stage {k}: the weights sum to {sum}, not 1"));
            }
        }
        Ok(())
    }
}

/// Weights rounded to 6 decimals whose left-to-right f64 sum is exactly 1.0, as Python's
/// `sum` computes it. The rounding remainder goes to the last weight, as a 6-decimal number
/// when that sums exactly, else as `1 − s` with `s` the sum of the others (then `s + (1 − s)`
/// is 1 in floating point, or within an ulp of it, which a few nudges fix).
pub fn rounded(weights: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = weights.iter().map(|w| (w * 1e6).round() / 1e6).collect();
    let Some(last) = out.len().checked_sub(1) else {
        return out;
    };
    if out.iter().sum::<f64>() == 1.0 {
        return out;
    }
    let clean = (1.0 - out[..last].iter().sum::<f64>()) * 1e6;
    out[last] = clean.round() / 1e6;
    if out.iter().sum::<f64>() == 1.0 && out[last] >= 0.0 {
        return out;
    }
    let others: f64 = out[..last].iter().sum();
    if others > 1.0 {
        // The last weight rounds to about 0 and the others overshoot: take it from the largest.
        let big = (0..last).max_by(|&a, &b| out[a].total_cmp(&out[b])).expect("others exist");
        out[big] -= others - 1.0;
    }
    out[last] = (1.0 - out[..last].iter().sum::<f64>()).max(0.0);
    for _ in 0..64 {
        let sum: f64 = out.iter().sum();
        if sum == 1.0 || out[last] == 0.0 {
            break;
        }
        let bits = out[last].to_bits();
        out[last] = f64::from_bits(if sum > 1.0 { bits - 1 } else { bits + 1 });
    }
    out
}

/// Writes `schedule` in `format`.
pub fn export(
    format: Format,
    schedule: &PlannedSchedule,
    shape: &TrainerShape,
    paths: &DataPaths,
) -> Result<String, ControllerError> {
    write(format, schedule, shape, paths).map_err(ControllerError::Schedule)
}

fn write(
    format: Format,
    schedule: &PlannedSchedule,
    shape: &TrainerShape,
    paths: &DataPaths,
) -> Result<String, String> {
    schedule.check()?;
    if shape.seq_len == 0 || shape.global_batch == 0 {
        return Err("the sequence length and the global batch must be at least 1".into());
    }
    let stages: Vec<Stage> = plan(schedule, shape);
    Ok(match format {
        Format::Megatron => megatron(schedule, &stages, shape, paths),
        Format::Nanotron => nanotron(schedule, &stages, shape, paths),
        Format::Levanter => levanter(schedule, &stages, shape, paths)?,
        Format::Mosaic => mosaic(schedule, &stages, shape, paths),
        Format::Hf => hf(schedule, &stages, shape, paths),
        Format::Olmo => olmo(schedule, &stages, shape, paths),
    })
}

/// A stage in the trainer's units.
struct Stage {
    tokens: u64,
    /// Weights in domain order, to 6 decimals.
    weights: Vec<f64>,
    /// Optimizer steps before it and in it.
    first_step: u64,
    steps: u64,
    /// Sequences (samples) in it.
    samples: u64,
}

fn plan(schedule: &PlannedSchedule, shape: &TrainerShape) -> Vec<Stage> {
    let mut step = 0u64;
    schedule
        .stages
        .iter()
        .map(|s| {
            let steps = (s.tokens as f64 / shape.tokens_per_step() as f64).round().max(1.0) as u64;
            let samples = s.tokens.div_ceil(shape.seq_len);
            let out = Stage {
                tokens: s.tokens,
                // Formats that normalise take 6 decimals; hf and olmo need exact sums (`rounded`).
                weights: s.weights.iter().map(|w| (w * 1e6).round() / 1e6).collect(),
                first_step: step,
                steps,
                samples,
            };
            step += steps;
            out
        })
        .collect()
}

/// The (domain, weight) pairs of a stage with weight above 0.
fn nonzero<'a>(schedule: &'a PlannedSchedule, stage: &Stage) -> Vec<(&'a str, f64)> {
    schedule
        .domains
        .iter()
        .zip(&stage.weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(d, w)| (d.as_str(), *w))
        .collect()
}

/// One value per stage, from its index, the stage and its entries of nonzero weight.
fn per_stage(
    s: &PlannedSchedule,
    stages: &[Stage],
    f: impl Fn(usize, &Stage, &[(&str, f64)]) -> Value,
) -> Vec<Value> {
    stages.iter().enumerate().map(|(k, st)| f(k, st, &nonzero(s, st))).collect()
}

/// The weights of `pairs`, summing to exactly 1.0 (for trainers that check the sum).
fn exact_weights(pairs: &[(&str, f64)]) -> Vec<f64> {
    rounded(&pairs.iter().map(|(_, w)| *w).collect::<Vec<_>>())
}

/// A weight as Megatron's argument lists take it: a decimal string.
fn weight_arg(w: f64) -> String {
    format!("{w}")
}

fn header(lines: &[String]) -> String {
    lines.iter().map(|l| format!("# {l}\n")).collect()
}

fn megatron(s: &PlannedSchedule, stages: &[Stage], shape: &TrainerShape, p: &DataPaths) -> String {
    // Each stage ends on a step, so every launch stops where the next resumes.
    let end = |st: &Stage| (st.first_step + st.steps) * shape.global_batch;
    let total = stages.last().map_or(0, end);
    let out: Vec<Value> = stages
        .iter()
        .enumerate()
        .map(|(k, st)| {
            let args: Vec<String> =
                nonzero(s, st).iter().flat_map(|(d, w)| [weight_arg(*w), p.of(d)]).collect();
            let samples = end(st);
            json!({
                "stage": k,
                "tokens": st.tokens,
                "train_samples": samples,
                "args": format!(
                    "--train-samples {samples} --lr-decay-samples {total} --override-opt_param-scheduler"
                ),
                "data_path": args.join(" "),
                "per_split_data_args": {"train": args, "valid": null, "test": null},
            })
        })
        .collect();
    let doc = json!({
        "format": "megatron-lm",
        "how": "one launch per stage, each resuming with --load from the previous stage's checkpoint: pass the stage's args (its cumulative --train-samples, the whole run's --lr-decay-samples, --override-opt_param-scheduler) and `--data-path <data_path>` (or per_split_data_args in a file for --per-split-data-args-path); keep --lr-warmup-samples and the other schedule arguments the same in every launch, and weight decay constant (its increment horizon is each launch's --train-samples). Without the override flag the second launch stops: the checkpoint's scheduler recorded the first launch's --train-samples",
        "seq_length": shape.seq_len,
        "global_batch_size": shape.global_batch,
        "seed": shape.seed,
        "lr_decay_samples": total,
        "stages": out,
    });
    pretty(&doc)
}

fn nanotron(s: &PlannedSchedule, stages: &[Stage], shape: &TrainerShape, p: &DataPaths) -> String {
    let total: u64 = stages.iter().map(|st| st.steps).sum();
    let list = per_stage(s, stages, |k, st, pairs| {
        json!({
            "name": format!("stage-{k}"),
            "start_training_step": st.first_step + 1,
            "data": {
                "dataset": {
                    "dataset_folder": pairs.iter().map(|(d, _)| p.of(d)).collect::<Vec<_>>(),
                    "dataset_weights": pairs.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
                },
                "seed": shape.seed,
                "num_loading_workers": 1,
            },
        })
    });
    header(&[
        "mixagent schedule for nanotron (Nanoset data stages).".into(),
        format!(
            "Steps are 1-based; {} sequences of {} tokens per step; {total} steps in all.",
            shape.global_batch, shape.seq_len
        ),
        "Current nanotron trains only the last stage of a file: for stage k keep stages 0..k,"
            .into(),
        "resume from the checkpoint at the step before it, stop at the stage's end with".into(),
        "tokens.train_steps, and keep the learning-rate schedule of the whole run in every".into(),
        format!(
            "launch: optimizer.learning_rate_scheduler.lr_decay_steps = {total} - lr_warmup_steps"
        ),
        "(by default nanotron decays over each launch's own train_steps). Per launch:".into(),
    ]) + &header(
        &stages
            .iter()
            .enumerate()
            .map(|(k, st)| {
                format!(
                    "  stage {k}: steps {}-{}, tokens.train_steps = {}",
                    st.first_step + 1,
                    st.first_step + st.steps,
                    st.first_step + st.steps
                )
            })
            .collect::<Vec<_>>(),
    ) + &yaml(&json!({ "data_stages": list }))
}

fn levanter(
    s: &PlannedSchedule,
    stages: &[Stage],
    shape: &TrainerShape,
    p: &DataPaths,
) -> Result<String, String> {
    for (k, st) in stages.iter().enumerate().skip(1) {
        let seq = st.first_step * shape.global_batch;
        if shape.mixture_block_size == 0 || !seq.is_multiple_of(shape.mixture_block_size) {
            return Err(format!(
                "stage {k} starts at step {} = sequence {seq}, not a multiple of Levanter's mixture_block_size {}: choose a block size that divides every stage's first sequence (--mixture-block-size), or stage tokens that are multiples of it",
                st.first_step, shape.mixture_block_size
            ));
        }
    }
    // Levanter draws floor(w × block) sequences of each domain per block (the largest domain
    // takes the rest), so a small weight can get none at all.
    let block = shape.mixture_block_size;
    let mut deviation: f64 = 0.0;
    for (k, st) in stages.iter().enumerate() {
        let counts = levanter_block_counts(&st.weights, block);
        for ((d, &w), &c) in s.domains.iter().zip(&st.weights).zip(&counts) {
            if w > 0.0 && c == 0 {
                return Err(format!(
                    "stage {k}: `{d}` (weight {w}) would get no sequence at all: Levanter draws floor(weight × mixture_block_size) = floor({w} × {block}) = 0 sequences of it per block; use a --mixture-block-size of at least {} (and a multiple of it that divides every stage's first sequence)",
                    (1.0 / w).ceil() as u64
                ));
            }
            deviation = deviation.max((c as f64 / block as f64 - w).abs());
        }
    }
    let components: serde_json::Map<String, Value> = s
        .domains
        .iter()
        .map(|d| (d.clone(), json!({ "source": { "type": "url", "train_urls": [p.of(d)] } })))
        .collect();
    let weights: Vec<Value> = stages
        .iter()
        .map(|st| {
            let w: serde_json::Map<String, Value> =
                s.domains.iter().zip(&st.weights).map(|(d, w)| (d.clone(), json!(w))).collect();
            json!([st.first_step, w])
        })
        .collect();
    let total: u64 = stages.iter().map(|st| st.steps).sum();
    Ok(header(&[
        "mixagent schedule for Levanter / Marin: one run, the mixture switching at each step of"
            .into(),
        "train_weights (steps; each switch at a multiple of mixture_block_size sequences).".into(),
        format!(
            "Levanter realises each weight as whole sequences per block of {block}: at most {} off here.",
            (deviation * 1e4).ceil() / 1e4
        ),
    ]) + &yaml(&json!({
        "data": {
            "components": components,
            "train_weights": weights,
            "mixture_block_size": shape.mixture_block_size,
        },
        "trainer": {"train_batch_size": shape.global_batch, "num_train_steps": total, "seed": shape.seed},
    })))
}

/// Sequences per block of each weight as Levanter's mixture draws them: floor(w × block),
/// the remainder to the largest.
fn levanter_block_counts(weights: &[f64], block: u64) -> Vec<u64> {
    let mut counts: Vec<u64> = weights.iter().map(|w| (w * block as f64) as u64).collect();
    let largest = (0..counts.len()).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
    if let Some(i) = largest {
        counts[i] += block.saturating_sub(counts.iter().sum());
    }
    counts
}

fn mosaic(s: &PlannedSchedule, stages: &[Stage], shape: &TrainerShape, p: &DataPaths) -> String {
    let mut out = header(&[
        "mixagent schedule for MosaicML Streaming / llm-foundry: one YAML document per stage,"
            .into(),
        "each a run that loads the previous stage's checkpoint (load_path); max_duration is".into(),
        "cumulative. The streams change, so do not restore the old dataloader position.".into(),
    ]);
    for (k, st) in stages.iter().enumerate() {
        let streams: serde_json::Map<String, Value> = nonzero(s, st)
            .iter()
            .map(|(d, w)| (d.to_string(), json!({ "local": p.of(d), "proportion": w })))
            .collect();
        out += &format!("---\n# stage {k}: {} tokens\n", st.tokens);
        out += &yaml(&json!({
            "train_loader": {
                "name": "text",
                "dataset": {
                    "max_seq_len": shape.seq_len,
                    "shuffle": true,
                    "shuffle_seed": shape.seed,
                    "epoch_size": st.samples,
                    "streams": streams,
                },
            },
            "global_train_batch_size": shape.global_batch,
            "max_duration": format!("{}ba", st.first_step + st.steps),
        }));
    }
    out
}

fn hf(s: &PlannedSchedule, stages: &[Stage], shape: &TrainerShape, p: &DataPaths) -> String {
    let list = per_stage(s, stages, |k, st, pairs| {
        json!({
            "stage": k,
            "tokens": st.tokens,
            "datasets": pairs.iter().map(|(d, _)| d.to_string()).collect::<Vec<_>>(),
            "paths": pairs.iter().map(|(d, _)| p.of(d)).collect::<Vec<_>>(),
            "probabilities": exact_weights(pairs),
        })
    });
    let doc = json!({
        "format": "hf-interleave-datasets",
        "how": "per stage: interleave_datasets([the stage's datasets], probabilities=..., seed=seed + stage, stopping_strategy=\"all_exhausted\"), take the stage's tokens' worth of examples, then concatenate the stages",
        "seed": shape.seed,
        "stages": list,
    });
    pretty(&doc)
}

fn olmo(s: &PlannedSchedule, stages: &[Stage], shape: &TrainerShape, p: &DataPaths) -> String {
    const M: &str = "olmo_core.data.source_mixture";
    let list: Vec<Value> = stages
        .iter()
        .map(|st| {
            let pairs = nonzero(s, st);
            let ratios = exact_weights(&pairs);
            let sources: Vec<Value> = pairs
                .iter()
                .zip(ratios)
                .map(|((d, _), r)| {
                    json!({
                        "_CLASS_": format!("{M}.SourceMixtureConfig"),
                        "source_name": d,
                        "target_ratio": r,
                        "paths": [p.of(d)],
                    })
                })
                .collect();
            json!({
                "_CLASS_": format!("{M}.SourceMixtureDatasetConfig"),
                "source_list": {"_CLASS_": format!("{M}.SourceMixtureList"), "sources": sources},
                "requested_tokens": st.tokens,
                "global_batch_size": shape.tokens_per_step(),
                "seed": shape.seed,
            })
        })
        .collect();
    pretty(&json!({
        "format": "olmo-core",
        "how": "one run per stage, each loading the previous stage's checkpoint: build each stage's SourceMixtureDatasetConfig (global_batch_size in tokens) into NumpyFSLDatasetConfig.from_src_mix; set ignore_fingerprint_mismatch on the data loader when the mixture changes",
        "sequence_length": shape.seq_len,
        "stages": list,
    }))
}

/// A JSON document as the file holds it.
fn pretty(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).expect("json") + "\n"
}

/// Block-style YAML of a JSON value: maps and lists as blocks, short leaves in flow style
/// (JSON flow is YAML), strings always double-quoted.
pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    block(v, 0, &mut out);
    out
}

fn is_short(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().all(|x| !x.is_object()) && flow(v).len() <= 72,
        Value::Array(a) => a.iter().all(|x| !x.is_array()) && flow(v).len() <= 72,
        _ => true,
    }
}

/// A value in YAML flow style: JSON's syntax with a space after each `,` and `:`, and numbers
/// that YAML 1.1 readers (PyYAML, under nanotron's and Mosaic's loaders) read as numbers.
fn flow(v: &Value) -> String {
    match v {
        Value::Number(n) => yaml_number(n),
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            let items: Vec<String> =
                m.iter().map(|(k, x)| format!("{}: {}", key(k), flow(x))).collect();
            format!("{{{}}}", items.join(", "))
        }
        _ => serde_json::to_string(v).expect("json"),
    }
}

/// Integers as they are; floats always with a decimal point, and in exponent form (only for
/// magnitudes a plain decimal would spell out at length) with a signed exponent: YAML 1.1's
/// float pattern needs both, so PyYAML reads `4e-6` or `1` as a string or an integer.
fn yaml_number(n: &serde_json::Number) -> String {
    let Some(x) = n.as_f64().filter(|_| n.is_f64()) else {
        return n.to_string();
    };
    // Display prints the shortest decimal that reads back to the same f64, never an exponent.
    let plain = format!("{x}");
    if plain.len() <= 24 {
        return if plain.contains('.') { plain } else { plain + ".0" };
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let dot = if mantissa.contains('.') { "" } else { ".0" };
    let sign = if exp.starts_with('-') { "" } else { "+" };
    format!("{mantissa}{dot}e{sign}{exp}")
}

fn key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain {
        k.to_string()
    } else {
        flow(&Value::String(k.into()))
    }
}

fn block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if is_short(x) {
                    let _ = writeln!(out, "{pad}{}: {}", key(k), flow(x));
                } else {
                    let _ = writeln!(out, "{pad}{}:", key(k));
                    block(x, indent + 2, out);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                if is_short(x) {
                    let _ = writeln!(out, "{pad}- {}", flow(x));
                } else {
                    let mut inner = String::new();
                    block(x, indent + 2, &mut inner);
                    // The item's first line takes the dash.
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&inner[indent + 2..]);
                }
            }
        }
        _ => {
            let _ = writeln!(out, "{pad}{}", flow(v));
        }
    }
}
