//! `mixagent cpt`: continual pre-training of a base, either under a fixed `--schedule` of
//! mixtures or steered stage by stage by a `--policy` (the agent or a baseline) from the
//! model's own feedback; both resumable. A steered run logs each stage's mixture, feedback and
//! balanced score.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use mixagent_baselines::parse_policy;
use mixagent_core::{balanced_score, ScheduleSpec, StageSpec};
use mixagent_lm::{read_model_config, RunSpec, SpaceSpec};
use mixagent_rollout::{default_run_dir, run_steered, Span};
use mixagent_trajectory::CollectConfig;
use serde::Deserialize;

use crate::flags::{base_corpus, train_with_progress, Optim, RunConfig};

/// Arguments of `cpt`: either a fixed `--schedule` from `--base`, or a `--policy` that steers
/// the run stage by stage from the model's own feedback (`--config`).
#[derive(clap::Args)]
pub struct Args {
    /// The base model: a run folder or a checkpoint folder (with `--schedule`).
    #[arg(long, required_unless_present = "policy")]
    base: Option<PathBuf>,
    /// The schedule (TOML): `[space]` (level = "fields" | "domains", fields = [...]) and
    /// `[[stages]]` with `tokens` and `weights`.
    #[arg(long, conflicts_with = "policy", required_unless_present = "policy")]
    schedule: Option<PathBuf>,
    /// A policy that chooses each stage's mixture: `uniform`, `fixed:0.7`, `target-only`,
    /// `regmix:COLLECTION`, `dbl`, `doremi`, `odm`, `agent:ARTIFACT`, `static:D=W,...`,
    /// `schedule:FILE.json`; parameters after a colon, e.g. `dbl:eta=0.5` (README "Parameters").
    #[arg(long, requires = "config")]
    policy: Option<String>,
    #[command(flatten)]
    run: RunConfig,
    /// The prepared corpus [default: the one the base was trained on].
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Run folder [default: `runs/cpt-SCHEDULE-STEM`, or `runs/cpt-CONFIG-STEM-POLICY`].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Branch: start from the newest checkpoint of this steered run (same config, seed and
    /// base), whose finished stages the policy repeats (a schedule with the same first stages).
    #[arg(long, requires = "policy", value_name = "RUN")]
    from: Option<PathBuf>,
    /// Stop after this many stages; the learning-rate schedule still spans all of them.
    #[arg(long, requires = "policy", value_name = "STAGES")]
    until: Option<usize>,
    #[command(flatten)]
    optim: Optim,
}

/// A schedule file for `cpt`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    space: SpaceSpec,
    stages: Vec<StageSpec>,
}

/// Runs `cpt`.
pub fn run(a: Args) -> anyhow::Result<()> {
    if let Some(policy) = &a.policy {
        return steered(&a, policy);
    }
    let device = a.optim.runtime.apply();
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
        train: a.optim.config(&model, 1e-3, device)?,
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
    train_with_progress(&spec, &out)
}

/// Runs `cpt --policy`.
fn steered(a: &Args, spec: &str) -> anyhow::Result<()> {
    let device = a.optim.runtime.apply();
    let config_path = a.run.config.as_ref().context("--policy needs --config")?;
    let mut overrides = a.run.overrides.clone();
    if device == mixagent_lm::Device::Cuda {
        overrides.push(format!("device=\"{device}\""));
    }
    // The flag means the config's training precision here (`--set` after it still wins).
    let precision = a.optim.precision();
    if !precision.is_f32() {
        overrides.insert(0, format!("train.precision=\"{precision}\""));
    }
    let config = CollectConfig::load(config_path, &overrides)?;
    // Built here to refuse a bad spec or artifact before anything else is opened; the run
    // builds its own through the controller.
    let name = parse_policy(spec, config.seed)?.name();
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let out: PathBuf = a.out.clone().unwrap_or_else(|| default_run_dir(&stem, spec));
    eprintln!(
        "cpt: policy {} from {} for {} stages x {} tokens -> {}",
        name,
        config.base.display(),
        config.stages,
        config.stage_tokens,
        out.display()
    );
    let started = Instant::now();
    let fields: Vec<String> = config.space.fields.clone();
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let span = Span { from: a.from.as_deref(), until: a.until };
    let result = run_steered(&out, config.clone(), spec, span, |row| {
        let feedback: Vec<String> =
            row.observation.feedback.iter().map(|(f, v)| format!("{f} {v:.4}")).collect();
        eprintln!(
            "stage {:>3}: {} ({:.0} s)",
            row.stage,
            feedback.join(", "),
            started.elapsed().as_secs_f64()
        );
    })?;
    println!("stage  {:>8}  {}  balanced", "target%", refs.join("  "));
    for row in &result.stages {
        let target = result.target_share(&row.weights);
        let feedback: Vec<String> = refs
            .iter()
            .map(|f| {
                format!("{:.4}", row.observation.feedback.get(*f).copied().unwrap_or(f64::NAN))
            })
            .collect();
        let s = balanced_score(&row.observation, &result.initial, &refs).unwrap_or(f64::NAN);
        println!("{:>5}  {:>8.1}  {}  {s:+.4}", row.stage, 100.0 * target, feedback.join("  "));
    }
    println!(
        "run written to {} (evaluate the model with `mixagent eval {}`)",
        out.display(),
        out.display()
    );
    Ok(())
}
