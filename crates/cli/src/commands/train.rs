//! `mixagent pretrain` (a base model on the source field) and `mixagent cpt --schedule`
//! (continue a base under a schedule of mixtures), with a progress bar on stderr.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mixagent_core::{ScheduleSpec, StageSpec};
use mixagent_lm::{read_model_config, train, Device, ModelConfig, RunSpec, SpaceSpec, TrainConfig};
use serde::Deserialize;

/// Options shared by every command that trains.
#[derive(clap::Args, Clone)]
pub struct Runtime {
    /// `cpu` or `cuda` (CUDA needs a CUDA build of libtorch and a GPU).
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// libtorch intra-op threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

impl Runtime {
    /// Applies the thread count and returns the device.
    pub fn apply(&self) -> Device {
        if let Some(n) = self.threads {
            tch::set_num_threads(n as i32);
        }
        tch::set_num_interop_threads(1);
        self.device
    }
}

/// Optimisation options shared by `pretrain` and `cpt`.
#[derive(clap::Args, Clone)]
pub struct Optim {
    /// Rows per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Tokens per row [default: the model's max_seq_len].
    #[arg(long)]
    seq_len: Option<usize>,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Peak learning rate [default: 3e-3 for pretrain, 1e-3 for cpt].
    #[arg(long)]
    lr: Option<f64>,
    /// Warmup steps.
    #[arg(long, default_value_t = 20)]
    warmup_steps: u64,
    /// Learning-rate shape after warmup: `cosine` or `wsd`.
    #[arg(long, default_value = "cosine", value_parser = ["cosine", "wsd"])]
    lr_shape: String,
    /// Checkpoint every this many steps.
    #[arg(long, default_value_t = 200)]
    checkpoint_every: u64,
    /// Root seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl Optim {
    fn config(&self, model: &ModelConfig, default_lr: f64) -> TrainConfig {
        let mut t = TrainConfig::small(self.batch_size, self.seq_len.unwrap_or(model.max_seq_len));
        t.grad_accum = self.grad_accum;
        t.peak_lr = self.lr.unwrap_or(default_lr);
        t.warmup_steps = self.warmup_steps;
        t.lr_shape = if self.lr_shape == "wsd" {
            mixagent_lm::LrShape::Wsd { decay_fraction: 0.2 }
        } else {
            mixagent_lm::LrShape::Cosine
        };
        t.checkpoint_every = self.checkpoint_every;
        t.seed = self.seed;
        t
    }
}

/// Arguments of `pretrain`.
#[derive(clap::Args)]
pub struct PretrainArgs {
    /// The prepared corpus.
    #[arg(long, default_value = "data/default")]
    corpus: PathBuf,
    /// Model preset (smoke, smoke-target, demo, demo-target, study, study-target, …).
    #[arg(long, default_value = "demo")]
    preset: String,
    /// The source field the base model learns [default: the corpus's first field].
    #[arg(long)]
    field: Option<String>,
    /// Training tokens.
    #[arg(long, default_value_t = 2_000_000)]
    tokens: u64,
    /// Another source mix: weights of the field's domains (`DOMAIN=W,...`; unlisted domains get
    /// none) instead of the field's natural token shares, e.g. a base for the unseen-source
    /// setting.
    #[arg(long, value_delimiter = ',', value_name = "DOMAIN=W")]
    mix: Vec<String>,
    /// A small share of another field in the base's pretraining (`FIELD=SHARE`, e.g.
    /// `math=0.05`: a base that has read some math, as web-trained models have); the source
    /// field keeps the rest. Each field's domains at their natural token shares.
    #[arg(long, value_delimiter = ',', value_name = "FIELD=SHARE", conflicts_with = "mix")]
    also: Vec<String>,
    /// Run folder [default: `runs/base-PRESET`].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    optim: Optim,
    #[command(flatten)]
    runtime: Runtime,
}

/// Arguments of `cpt`: either a fixed `--schedule` from `--base`, or a `--policy` that steers
/// the run stage by stage from the model's own feedback (`--config`).
#[derive(clap::Args)]
pub struct CptArgs {
    /// The base model: a run folder or a checkpoint folder (with `--schedule`).
    #[arg(long, required_unless_present = "policy")]
    base: Option<PathBuf>,
    /// The schedule (TOML): `[space]` (level = "fields" | "domains", fields = [...]) and
    /// `[[stages]]` with `tokens` and `weights`.
    #[arg(long, conflicts_with = "policy", required_unless_present = "policy")]
    schedule: Option<PathBuf>,
    /// A policy that chooses each stage's mixture: `uniform`, `fixed:0.7`, `target-only`,
    /// `regmix:COLLECTION`, `dbl`, `doremi`, `odm`, `agent:ARTIFACT`.
    #[arg(long, requires = "config")]
    policy: Option<String>,
    /// With `--policy`: the run config (the format of `experiments/collect-*.toml`: corpus,
    /// base, space, stages, stage_tokens, train, observe).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// With `--policy`: override a config value; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// The prepared corpus [default: the one the base was trained on].
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Run folder [default: `runs/cpt-SCHEDULE-STEM`, or `runs/cpt-CONFIG-STEM-POLICY`].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    optim: Optim,
    #[command(flatten)]
    pub(crate) runtime: Runtime,
}

/// A schedule file for `cpt`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    space: SpaceSpec,
    stages: Vec<StageSpec>,
}

/// Runs `pretrain`.
pub fn pretrain(a: PretrainArgs) -> anyhow::Result<()> {
    let device = a.runtime.apply();
    let corpus = mixagent_sampler::Corpus::open(&a.corpus)
        .with_context(|| format!("--corpus {}", a.corpus.display()))?;
    let model = ModelConfig::preset(&a.preset, corpus.manifest.tokenizer.vocab_size as usize)?;
    let space = corpus.manifest.domain_space()?;
    if let Some(d) = a
        .mix
        .iter()
        .filter_map(|s| s.split_once('=').map(|(d, _)| d))
        .find(|d| space.id(d).is_err())
    {
        bail!(
            "--mix `{d}`: no such domain in {} (it has: {})",
            a.corpus.display(),
            space.names().collect::<Vec<_>>().join(", ")
        );
    }
    let known = space.fields();
    let has = |f: &str| known.iter().any(|k| k.as_str() == f);
    let list = || known.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ");
    let source = match &a.field {
        Some(f) if !has(f) => bail!(
            "--field `{f}`: no such field in {} (it has: {}); pass one of them",
            a.corpus.display(),
            list()
        ),
        Some(f) => f.clone(),
        None => known.first().map(|f| f.as_str().to_string()).context("the corpus has no field")?,
    };
    if let Some(f) =
        a.also.iter().filter_map(|s| s.split_once('=')).map(|(f, _)| f).find(|f| !has(f))
    {
        bail!(
            "--also `{f}`: no such field in {} (it has: {}); name one of them",
            a.corpus.display(),
            list()
        );
    }
    let mut fields = vec![source.clone()];
    let weights: std::collections::BTreeMap<String, f64> = if !a.also.is_empty() {
        let mut w = std::collections::BTreeMap::new();
        for (f, v) in name_values(&a.also, "--also", "FIELD=SHARE")? {
            if !(v > 0.0 && v < 1.0) || f == source {
                bail!(
                    "--also `{f}={v}`: the share must be in (0, 1), for a field other than `{source}`"
                );
            }
            fields.push(f.clone());
            w.insert(f, v);
        }
        let rest = 1.0 - w.values().sum::<f64>();
        if rest <= 0.0 {
            bail!(
                "--also: the shares sum to {:.3}; the source field `{source}` needs the rest",
                1.0 - rest
            );
        }
        w.insert(source.clone(), rest);
        w
    } else if a.mix.is_empty() {
        [(source.clone(), 1.0)].into()
    } else {
        let w: std::collections::BTreeMap<String, f64> =
            name_values(&a.mix, "--mix", "DOMAIN=WEIGHT")?.into_iter().collect();
        if let Some((d, v)) = w.iter().find(|(_, v)| !v.is_finite() || **v < 0.0) {
            bail!("--mix `{d}={v}`: weights must be finite and not negative");
        }
        let sum: f64 = w.values().sum();
        if sum <= 0.0 {
            bail!("--mix: the weights sum to 0; give at least one domain a positive weight");
        }
        w.into_iter().map(|(d, v)| (d, v / sum)).collect()
    };
    // Without `--mix`, distractors enter the base at the small share the corpus config gives
    // them (a domain-level mixture); with none weighted, the field-level mixture.
    let (level, weights) = if !a.mix.is_empty() {
        ("domains", weights)
    } else if let Some(by_domain) = corpus.manifest.pretrain_mixture(&weights) {
        ("domains", by_domain)
    } else {
        ("fields", weights)
    };
    let spec = RunSpec {
        train: a.optim.config(&model, 3e-3),
        model,
        corpus: a.corpus.clone(),
        space: SpaceSpec { level: level.into(), fields },
        schedule: ScheduleSpec { stages: vec![StageSpec { tokens: a.tokens, weights }] },
        init: None,
        device,
    };
    let out = a.out.unwrap_or_else(|| PathBuf::from(format!("runs/base-{}", a.preset)));
    run(&spec, &out)
}

/// Parses `NAME=NUMBER` items of a flag, names trimmed, in order.
fn name_values(items: &[String], flag: &str, form: &str) -> anyhow::Result<Vec<(String, f64)>> {
    items
        .iter()
        .map(|item| {
            let (name, v) = item
                .split_once('=')
                .with_context(|| format!("{flag} `{item}`: expected {form}"))?;
            let v: f64 =
                v.trim().parse().with_context(|| format!("{flag} `{item}`: not a number"))?;
            Ok((name.trim().to_string(), v))
        })
        .collect()
}

/// Runs `cpt`.
pub fn cpt(a: CptArgs) -> anyhow::Result<()> {
    if let Some(policy) = &a.policy {
        return super::cpt_policy::run(&a, policy);
    }
    let device = a.runtime.apply();
    let (Some(schedule), Some(base)) = (&a.schedule, &a.base) else {
        bail!("cpt needs --base and --schedule, or --policy and --config");
    };
    let file: ScheduleFile = mixagent_core::load_config(schedule, &[])?;
    let (model, _) = read_model_config(base)?;
    let corpus = match &a.corpus {
        Some(c) => c.clone(),
        None => base_corpus(base)?,
    };
    let spec = RunSpec {
        train: a.optim.config(&model, 1e-3),
        model,
        corpus,
        space: file.space,
        schedule: ScheduleSpec { stages: file.stages },
        init: Some(base.clone()),
        device,
    };
    let stem = schedule
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/cpt-{stem}")));
    run(&spec, &out)
}

/// The corpus recorded in a base run's `run.json` (the run folder, or the parent of its
/// `checkpoints/` folder).
pub(crate) fn base_corpus(base: &Path) -> anyhow::Result<PathBuf> {
    let dir = mixagent_lm::resolve_checkpoint(base)?;
    for candidate in [dir.join("trainer.json"), base.join("run.json")] {
        if let Ok(text) = std::fs::read_to_string(&candidate) {
            let v: serde_json::Value = serde_json::from_str(&text)?;
            // A training run (`spec.corpus`), a checkpoint, or a steered run (`config.corpus`).
            let corpus = v
                .get("spec")
                .or(v.get("config"))
                .unwrap_or(&v)
                .get("corpus")
                .and_then(|c| c.as_str());
            if let Some(c) = corpus {
                return Ok(PathBuf::from(c));
            }
        }
    }
    bail!("{}: cannot tell which corpus the base was trained on; pass --corpus", base.display())
}

fn run(spec: &RunSpec, out: &Path) -> anyhow::Result<()> {
    let tps = spec.train.tokens_per_step();
    let total: u64 = spec.schedule.stages.iter().map(|s| s.tokens).sum::<u64>().div_ceil(tps);
    eprintln!(
        "training {} ({:.2}M params) on {} for {} steps × {} tokens → {}",
        if spec.init.is_some() { "cpt" } else { "pretrain" },
        spec.model.n_params() as f64 / 1e6,
        spec.corpus.display(),
        total,
        tps,
        out.display()
    );
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let start = Instant::now();
    let mut first: Option<u64> = None;
    let summary = train(spec, out, |r| {
        let from = *first.get_or_insert(r.step - 1);
        bar.set_position(r.step);
        let rate = (r.step - from) as f64 * tps as f64 / start.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "loss {:.3}  lr {:.2e}  stage {}  {:.0} tok/s",
            r.loss, r.lr, r.stage, rate
        ));
        if bar.is_hidden() && (r.step % 50 == 0 || r.step == r.total_steps) {
            tracing::info!(
                step = r.step,
                total = r.total_steps,
                loss = format!("{:.4}", r.loss),
                tok_per_s = format!("{rate:.0}"),
                "train"
            );
        }
        true
    })?;
    bar.finish_and_clear();
    if summary.steps_run == 0 {
        println!("already complete; checkpoint {}", summary.checkpoint.display());
        return Ok(());
    }
    let last = summary.losses.iter().rev().take(10).copied().collect::<Vec<_>>();
    let tail =
        if last.is_empty() { f64::NAN } else { last.iter().sum::<f64>() / last.len() as f64 };
    println!(
        "{} steps in {:.1} s; final loss (mean of last {}) {:.4}; checkpoint {}",
        summary.steps_run,
        start.elapsed().as_secs_f64(),
        last.len(),
        tail,
        summary.checkpoint.display()
    );
    Ok(())
}
