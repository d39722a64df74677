//! `mixagent train-agent --trajectories DIR`: the supervised warm-up and CQL (or IQL) on a collected
//! trajectory set, written as a policy artifact (`agent.json` + `policy.safetensors`) that
//! steers any domain space without libtorch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mixagent_agent::{domain_infos, train_agent, AgentConfig, Algorithm};
use mixagent_policy::{History, Policy};
use mixagent_sampler::Corpus;
use mixagent_trajectory::Trajectory;

use crate::flags::Runtime;

/// Arguments of `train-agent`.
#[derive(clap::Args)]
pub struct Args {
    /// Collection folder (or its `trajectories/` folder) of finished trajectories; repeat it
    /// to train on several collections over the same space and base (e.g. a second one of
    /// other families), read in the order given.
    #[arg(long, required = true)]
    trajectories: Vec<PathBuf>,
    /// Artifact folder to write (replaced atomically) [default: runs/agent-NAME, NAME the collection folder without `collect-`].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Agent settings (TOML, any subset of the defaults; see `experiments/agent-*.toml`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a setting, e.g. `cql.steps=500`; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Train on the first N trajectories only (each collection by index, in the order the
    /// collections are given): for learning curves, decision quality against the amount of
    /// data [default: all].
    #[arg(long)]
    limit: Option<usize>,
    /// The prepared corpus the trajectories were collected on [default: from their config].
    #[arg(long)]
    corpus: Option<PathBuf>,
    #[command(flatten)]
    runtime: Runtime,
}

/// Runs `train-agent`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let device = mixagent_lm::tch_device(a.runtime.apply())?;
    let text = match &a.config {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?),
        None => None,
    };
    let cfg =
        AgentConfig::load(text.as_deref(), &a.overrides).with_context(|| match &a.config {
            Some(p) => format!("{}", p.display()),
            None => "--set".into(),
        })?;
    let dirs = a.trajectories.iter().map(|d| d.display().to_string()).collect::<Vec<_>>();
    let mut set = Vec::new();
    for dir in &a.trajectories {
        let mut part = mixagent_trajectory::read_collection(dir)?;
        part.sort_by_key(|t| t.index);
        if let (Some(first), Some(other)) = (set.first(), part.first()) {
            check_same_collection_kind(first, other, &a.trajectories[0], dir)?;
        }
        set.extend(part);
    }
    if let Some(n) = a.limit {
        if n == 0 || n > set.len() {
            bail!(
                "--limit {n}: {} holds {} finished trajectories; give 1 to {}",
                dirs.join(" + "),
                set.len(),
                set.len()
            );
        }
        set.truncate(n);
    }
    let Some(first) = set.first() else {
        bail!(
            "{}: no finished trajectories (collect some with `mixagent collect`)",
            dirs.join(" + ")
        );
    };
    let corpus_dir = a.corpus.clone().unwrap_or_else(|| first.config.corpus.clone());
    let corpus = Corpus::open(&corpus_dir).with_context(|| {
        format!(
            "the trajectories were collected on the corpus {}; give it with --corpus",
            corpus_dir.display()
        )
    })?;
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.trajectories[0]));
    let rl = match cfg.algorithm {
        Algorithm::Cql => {
            format!("CQL {} (+{} critic-only)", cfg.cql.steps, cfg.cql.critic_warmup)
        }
        Algorithm::Iql => format!("IQL {}", cfg.iql.steps),
    };
    eprintln!(
        "train-agent: {} trajectories x {} stages over {} domains; warm-up {} + {rl} steps -> {}",
        set.len(),
        first.config.stages,
        first.space.len(),
        cfg.sft.steps,
        out.display()
    );

    let started = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:8} {bar:30} {pos}/{len} steps [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let progress = |phase: &str, step: usize, total: usize| {
        if bar.message() != phase {
            bar.reset();
            bar.set_message(phase.to_string());
            bar.set_length(total as u64);
        }
        bar.set_position(step as u64);
        if bar.is_hidden() && (step.is_multiple_of(500) || step == total) {
            tracing::info!(phase, step, total, "train-agent");
        }
    };
    let mut agent = train_agent(&set, &corpus.manifest, &cfg, device, progress)?;
    bar.finish_and_clear();
    if !agent.constant_features.is_empty() {
        tracing::warn!(
            "features constant over the training data: {} (a deployment space that differs in them is read by the plain difference; collect over a richer space, or keep the views on: `views.field_level`, `views.random`)",
            agent.constant_features.join(", ")
        );
    }
    let secs = started.elapsed().as_secs_f64();
    if let serde_json::Value::Object(m) = &mut agent.schema.training {
        m.insert("trajectories_dir".into(), dirs.join(" + ").into());
        m.insert("trajectories_used".into(), set.len().into());
        m.insert("secs".into(), secs.into());
        m.insert("threads".into(), tch::get_num_threads().into());
        m.insert("mixagent".into(), env!("CARGO_PKG_VERSION").into());
    }
    let policy = Policy::save(&out, agent.schema, &agent.tensors)
        .with_context(|| format!("writing the agent to {}", out.display()))?;

    let kept = agent.log.sft.iter().find(|r| r.0 == agent.log.sft_kept);
    if let Some((step, train, val)) = kept.or(agent.log.sft.last()) {
        println!(
            "warm-up: kept step {step} (best validation), NLL {train:.4}, validation {val:.4}"
        );
    }
    if let Some((step, td, gap, actor, temp, alpha)) = agent.log.cql.last() {
        println!(
            "CQL: step {step}, TD {td:.4}, conservative gap {gap:.4}, actor {actor:.4}, temperature {temp:.4}, alpha {alpha:.3} (rewards x{:.1})",
            agent.log.reward_scale
        );
    }
    if let Some((step, l)) = agent.log.iql.last() {
        println!(
            "IQL: step {step}, critic {:.4}, value {:.4}, actor {:.4}, mean advantage weight {:.2} (rewards x{:.1})",
            l.critic, l.value, l.actor, l.weight, agent.log.reward_scale
        );
    }
    // What it learned, in one line: its first mixture from the collection's base.
    let domains = domain_infos(first, &corpus.manifest)?;
    let w = policy.decide(&History {
        domains: &domains,
        initial: &first.initial,
        stages: &[],
        total_stages: first.config.stages,
    })?;
    let fields = first.fields();
    let shares: Vec<String> = fields
        .iter()
        .map(|f| {
            let s: f64 =
                first.space.iter().zip(&w).filter(|(e, _)| &e.field == f).map(|(_, x)| x).sum();
            format!("{f} {:.0}%", 100.0 * s)
        })
        .collect();
    println!("first-stage mixture from the base: {}", shares.join(", "));
    println!("agent written to {} in {secs:.0} s", out.display());
    Ok(())
}

/// Refuses to train on two collections that cannot be one data set: another space, another
/// base model, another number of stages.
fn check_same_collection_kind(
    a: &Trajectory,
    b: &Trajectory,
    dir_a: &Path,
    dir_b: &Path,
) -> anyhow::Result<()> {
    let what = if a.space != b.space {
        "another domain space"
    } else if a.base.fingerprint != b.base.fingerprint {
        "another base model"
    } else if a.config.stages != b.config.stages {
        "another number of stages"
    } else {
        return Ok(());
    };
    bail!(
        "{} was collected over {what} than {}: train on collections of one space, base and length",
        dir_b.display(),
        dir_a.display()
    )
}

/// `runs/agent-<collection folder name>`.
fn default_out(trajectories: &Path) -> PathBuf {
    let dir = if trajectories.file_name().is_some_and(|n| n == "trajectories") {
        trajectories.parent().unwrap_or(trajectories)
    } else {
        trajectories
    };
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    PathBuf::from("runs").join(format!("agent-{}", name.trim_start_matches("collect-")))
}
