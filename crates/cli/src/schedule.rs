//! Where a schedule comes from, for `export` and `preflight`: a run (a `cpt` run steered by a
//! policy, or one trained on a schedule file), a policy that does not read feedback together
//! with a run config, or a schedule file. Each gives the stages, and where it knows them the
//! trainer's sequence length and batch and each domain's training tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mixagent_controller::export::{PlannedSchedule, PlannedStage};
use mixagent_controller::{Controller, DomainEntry};
use mixagent_core::{DomainSpace, Mixture, MixtureSpec, Observation, SpaceSpec};
use mixagent_rollout::RunFile;
use mixagent_shard::Manifest;
use mixagent_trajectory::CollectConfig;

use crate::flags::RunConfig;

/// The schedule's source: exactly one of `--run`, `--policy` (with `--config`), `--schedule`.
#[derive(clap::Args)]
pub struct Source {
    /// A run folder of `mixagent cpt` (steered by a policy, or trained on a schedule file):
    /// its stages as trained.
    #[arg(long, conflicts_with_all = ["policy", "schedule"], required_unless_present_any = ["policy", "schedule"])]
    run: Option<PathBuf>,
    /// A policy whose schedule is known before training (uniform, fixed:X, target-only,
    /// regmix:COLLECTION), over the stages and space of --config.
    #[arg(long, requires = "config", conflicts_with = "schedule")]
    policy: Option<String>,
    #[command(flatten)]
    run_config: RunConfig,
    /// A schedule file (TOML, as `cpt --schedule` takes it, or JSON): `[[stages]]` with
    /// `tokens` and `weights` (domain = weight).
    #[arg(long)]
    schedule: Option<PathBuf>,
}

/// A resolved schedule and what its source knows of the training set-up.
pub struct Resolved {
    /// The stages.
    pub schedule: PlannedSchedule,
    /// Tokens per sequence and sequences per step of the run, if known.
    pub shape: Option<(u64, u64)>,
    /// The run's seed, if known.
    pub seed: Option<u64>,
    /// Training tokens per schedule domain, if the source names a corpus.
    pub counts: Option<BTreeMap<String, u64>>,
    /// Each entry's corpus domains and their training tokens, if the source names a corpus
    /// (what splits a group or a field over its domains, [`PlannedSchedule::expand_entries`]).
    pub entry_members: Option<BTreeMap<String, Vec<(String, u64)>>>,
}

/// The corpus domains each entry of `schedule` stands for ([`Manifest::entry_members`]), with
/// their training tokens.
fn entry_members(
    schedule: &PlannedSchedule,
    manifest: &Manifest,
) -> BTreeMap<String, Vec<(String, u64)>> {
    schedule
        .domains
        .iter()
        .filter_map(|name| {
            let of = manifest.entry_members(name)?;
            Some((name.clone(), of.iter().map(|d| (d.name.clone(), d.train.tokens)).collect()))
        })
        .collect()
}

impl Source {
    /// Reads the schedule.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        if let Some(run) = &self.run {
            return from_run(run);
        }
        if let Some(policy) = &self.policy {
            let config = self.run_config.config.as_ref().context("--policy needs --config")?;
            return from_policy(policy, config, &self.run_config.overrides);
        }
        let path = self.schedule.as_ref().context("give --run, --policy or --schedule")?;
        from_file(path)
    }
}

/// Each entry of `space` with its field, training tokens and member corpus domains.
pub fn entries(space: &DomainSpace, manifest: &Manifest) -> anyhow::Result<Vec<DomainEntry>> {
    let infos = manifest
        .domain_infos(space.domains().iter().map(|d| (d.name.as_str(), d.field.as_str())))?;
    Ok(infos
        .into_iter()
        .map(|e| {
            let members = e.members;
            let tokens = manifest
                .domains
                .iter()
                .filter(|d| members.contains(&d.name))
                .map(|d| d.train.tokens)
                .sum();
            DomainEntry {
                name: e.name,
                field: e.field,
                tokens: Some(tokens),
                members: Some(members),
            }
        })
        .collect())
}

fn counts_of(entries: &[DomainEntry]) -> BTreeMap<String, u64> {
    entries.iter().map(|e| (e.name.clone(), e.tokens.unwrap_or(0))).collect()
}

fn load_manifest(corpus: &Path) -> anyhow::Result<Manifest> {
    Manifest::load(corpus).with_context(|| format!("the run's corpus {}", corpus.display()))
}

fn from_run(dir: &Path) -> anyhow::Result<Resolved> {
    let path = dir.join("run.json");
    if !path.is_file() {
        bail!("{}: not a run folder of `mixagent cpt` (it has no run.json)", dir.display());
    }
    match RunFile::read(&path)? {
        RunFile::Steered(run) => {
            if run.stages.is_empty() {
                bail!("{}: the run has no finished stage yet", dir.display());
            }
            let manifest = load_manifest(&run.config.corpus)?;
            let space = run.config.space.resolve(&manifest.domain_space()?)?;
            let stages = run
                .stages
                .iter()
                .map(|s| PlannedStage { tokens: s.tokens, weights: s.weights.clone() })
                .collect();
            let schedule = PlannedSchedule {
                domains: run.space.iter().map(|e| e.name.clone()).collect(),
                stages,
            };
            Ok(Resolved {
                entry_members: Some(entry_members(&schedule, &manifest)),
                schedule,
                shape: Some((run.config.train.seq_len as u64, run.config.train.batch_size as u64)),
                seed: Some(run.config.seed),
                counts: Some(counts_of(&entries(&space, &manifest)?)),
            })
        }
        RunFile::Training(spec) => {
            let manifest = load_manifest(&spec.corpus)?;
            let space = spec.space.resolve(&manifest.domain_space()?)?;
            let schedule =
                stages_over(&space, spec.schedule.stages.iter().map(|s| (s.tokens, &s.weights)))?;
            Ok(Resolved {
                entry_members: Some(entry_members(&schedule, &manifest)),
                schedule,
                shape: Some((
                    spec.train.seq_len as u64,
                    spec.train.batch_size as u64 * spec.train.grad_accum as u64,
                )),
                seed: Some(spec.train.seed),
                counts: Some(counts_of(&entries(&space, &manifest)?)),
            })
        }
    }
}

/// Named stages resolved over a space (unknown domains and bad weights name the stage).
fn stages_over<'a>(
    space: &std::sync::Arc<DomainSpace>,
    stages: impl Iterator<Item = (u64, &'a MixtureSpec)>,
) -> anyhow::Result<PlannedSchedule> {
    let stages = stages
        .enumerate()
        .map(|(k, (tokens, w))| {
            let m = Mixture::from_spec(space.clone(), w).with_context(|| format!("stage {k}"))?;
            Ok(PlannedStage { tokens, weights: m.weights().to_vec() })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(PlannedSchedule { domains: space.names().map(String::from).collect(), stages })
}

fn from_policy(policy: &str, config: &Path, overrides: &[String]) -> anyhow::Result<Resolved> {
    let config = CollectConfig::load(config, overrides)?;
    let manifest = load_manifest(&config.corpus)?;
    let space = config.space.resolve(&manifest.domain_space()?)?;
    let domains = entries(&space, &manifest)?;
    let counts = counts_of(&domains);
    let mut controller = Controller::new(policy, config.seed, domains, config.stages)?;
    if controller.reads_feedback() {
        bail!(
            "policy `{policy}` decides each stage from the model's feedback, so its schedule is known only as the model trains: export a run it steered (--run), or steer the trainer live with `mixagent next` or the Python module"
        );
    }
    // Its decisions do not depend on feedback (the conformance harness checks that), so any
    // finite feedback serves.
    let fields: Vec<String> = space.fields().iter().map(|f| f.to_string()).collect();
    let neutral = Observation {
        feedback: fields.iter().map(|f| (f.clone(), -1.0)).collect(),
        domain_loss: BTreeMap::new(),
    };
    controller.observe(neutral.clone(), 0)?;
    let mut stages = Vec::new();
    for _ in 0..config.stages {
        let m = controller.next_mixture()?;
        stages.push(PlannedStage { tokens: config.stage_tokens, weights: m.weights().to_vec() });
        controller.observe(neutral.clone(), config.stage_tokens)?;
    }
    let schedule = PlannedSchedule { domains: space.names().map(String::from).collect(), stages };
    Ok(Resolved {
        entry_members: Some(entry_members(&schedule, &manifest)),
        schedule,
        shape: Some((config.train.seq_len as u64, config.train.batch_size as u64)),
        seed: Some(config.seed),
        counts: Some(counts),
    })
}

fn from_file(path: &Path) -> anyhow::Result<Resolved> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        /// The `[space]` of a `cpt --schedule` file; the stages name their domains.
        #[serde(default, rename = "space")]
        _space: Option<SpaceSpec>,
        stages: Vec<mixagent_core::StageSpec>,
    }
    let file: File = if path.extension().is_some_and(|e| e == "json") {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("schedule {}", path.display()))?
    } else {
        mixagent_core::load_config(path, &[])?
    };
    // The domains in order of first appearance.
    let mut names: Vec<String> = Vec::new();
    for s in &file.stages {
        for n in s.weights.keys() {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let domains = names
        .iter()
        .map(|n| mixagent_core::Domain::entry(n.as_str(), mixagent_core::Field::new("any")?))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("schedule {}", path.display()))?;
    let space = std::sync::Arc::new(DomainSpace::new(domains)?);
    let schedule = stages_over(&space, file.stages.iter().map(|s| (s.tokens, &s.weights)))
        .with_context(|| format!("schedule {}", path.display()))?;
    Ok(Resolved { schedule, shape: None, seed: None, counts: None, entry_members: None })
}
