//! Continual pre-training steered by a policy (DESIGN §1 points 5-6): from a base, stage by
//! stage, the policy reads the model's own feedback so far and chooses the next mixture; the
//! stage trains on it and the model is observed. The run config has the format of a collection
//! config (corpus, base, space, stages, stage tokens, training, observation; the plan keys
//! `trajectories` and `families` are not used).
//!
//! ```text
//! <out>/run.json                 policy, config, base, space, base observation, every finished
//!                                stage (mixture, feedback, per-domain loss and tokens) and the
//!                                policy's state; rewritten atomically after each stage
//! <out>/checkpoints/stage-NNN/   model, optimizer, sampler cursors and run.json after NNN
//!                                finished stages, renamed into place; older ones are removed
//!                                once it exists, so a kill at any point leaves one to resume
//! <out>/checkpoints/latest       the newest one's name (so `mixagent eval <out>` evaluates
//!                                the steered model)
//! ```
//!
//! A [`Span`] runs part of a run: from another run's newest checkpoint (a branch: the same
//! config, seed and base, whose stages so far this policy repeats), and until a stage, the
//! learning-rate schedule still spanning every stage. A branch of a run is the same, to the
//! last bit, as the first stages of the whole run of its policy (a test), at the cost of the
//! stages after the fork.

use std::path::{Path, PathBuf};

use mixagent_controller::{Controller, ControllerState, DomainEntry, StageRecord};
use mixagent_core::Mixture;
use mixagent_eval::Observer;
use mixagent_lm::{Session, Weights};
use mixagent_shard::write_atomic;
use mixagent_trajectory::{CollectConfig, SpaceEntry, StageRow, SteeredRun, STEERED_RUN_VERSION};

use crate::collection::resolve;
use crate::rollout::{remove_stages_except, run_stage, train_config};
use crate::RolloutError;

/// Which stages of a run to train: by default all of them, from the base.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span<'a> {
    /// Start a new run from the newest checkpoint of this steered run (the same config,
    /// seed and base; the policy must choose the mixtures that run recorded for the stages
    /// it finished, as a schedule with the same first stages does). Ignored once the run has
    /// a checkpoint of its own.
    pub from: Option<&'a Path>,
    /// Stop after this many stages (at most the config's `stages`, which the learning-rate
    /// schedule spans either way).
    pub until: Option<usize>,
}

/// Runs (or resumes, or finds finished) the steered run in `out`, the policy `policy_spec`
/// driven through a [`Controller`], as an outside trainer drives it: a resumed run rebuilds
/// the controller from the recorded stages (the policy replays its decisions), the one resume
/// mechanism of every steered run. `span` chooses the stages; `on_stage` is called after each
/// stage with the row just recorded.
pub fn run_steered(
    out: &Path,
    config: CollectConfig,
    policy_spec: &str,
    span: Span<'_>,
    mut on_stage: impl FnMut(&StageRow),
) -> Result<SteeredRun, RolloutError> {
    config.validate()?;
    let until = span.until.unwrap_or(config.stages);
    if until == 0 || until > config.stages {
        return Err(RolloutError::collection(
            out,
            format!(
                "cannot stop after stage {until}: the run has {} stages; choose 1 to {}",
                config.stages, config.stages
            ),
        ));
    }
    let (corpus, space, base_dir, base) = resolve(&config)?;
    let steps = config.steps_per_stage();
    let mut session = Session::new(
        Weights::Base(&base_dir),
        &corpus,
        space.clone(),
        train_config(&config, config.seed),
        steps * config.stages as u64,
        config.device,
    )?;
    let observer = Observer::new(&config.corpus, &config.space.fields, config.observe.clone())?;
    let checkpoints = out.join("checkpoints");
    if let (None, Some(from)) = (newest_stage(&checkpoints), span.from) {
        fork(from, &checkpoints, policy_spec, until)?;
    }
    let saved = match newest_stage(&checkpoints) {
        Some(checkpoint) => {
            let path = checkpoint.join("run.json");
            let text = std::fs::read_to_string(&path).map_err(|e| RolloutError::io(&path, e))?;
            let saved: SteeredRun = serde_json::from_str(&text).map_err(|e| {
                RolloutError::collection(
                    &path,
                    format!("{e}: not a steered run; choose another --out"),
                )
            })?;
            if saved.policy != policy_spec || saved.config != config || saved.base != base {
                return Err(RolloutError::collection(
                    out,
                    format!(
                        "holds a run of policy `{}` with other settings or another base: choose another --out, or delete it to restart",
                        saved.policy
                    ),
                ));
            }
            let now = corpus.manifest.fingerprint.as_deref().unwrap_or_default();
            if !saved.corpus_fingerprint.is_empty() && saved.corpus_fingerprint != now {
                return Err(RolloutError::collection(
                    out,
                    format!(
                        "was run on corpus {} as it was then (fingerprint {}), and it is {now} now (prepared again): choose another --out, or delete it to restart",
                        config.corpus.display(),
                        saved.corpus_fingerprint
                    ),
                ));
            }
            session.resume(&checkpoint)?;
            Some(saved)
        }
        None => None,
    };
    let initial = match &saved {
        Some(s) => s.initial.clone(),
        None => observer.observe(session.model(), session.device())?,
    };
    // The controller's view of the space: each entry's training tokens and corpus domains.
    let infos = corpus
        .manifest
        .domain_infos(space.domains().iter().map(|d| (d.name.as_str(), d.field.as_str())))
        .map_err(|e| RolloutError::key("corpus", e))?;
    let entries = infos
        .into_iter()
        .map(|info| {
            let tokens = corpus
                .manifest
                .domains
                .iter()
                .filter(|d| info.members.contains(&d.name))
                .map(|d| d.train.tokens)
                .sum();
            DomainEntry {
                name: info.name,
                field: info.field,
                tokens: Some(tokens),
                members: Some(info.members),
            }
        })
        .collect();
    let mut state = ControllerState::new(policy_spec, config.seed, entries, config.stages);
    state.steps_per_stage = steps;
    state.initial = Some(initial.clone());
    if let Some(s) = &saved {
        state.stages = s
            .stages
            .iter()
            .map(|r| {
                Ok(StageRecord {
                    weights: Mixture::new(space.clone(), r.weights.clone())?.to_spec(),
                    observation: r.observation.clone(),
                    tokens: r.tokens,
                })
            })
            .collect::<Result<_, mixagent_core::CoreError>>()?;
    }
    let mut controller = Controller::from_state(state)?;
    let identity = &controller.state().policy_identity;
    if let Some(s) = saved.as_ref().filter(|s| !s.policy_identity.is_empty()) {
        if &s.policy_identity != identity {
            return Err(RolloutError::collection(
                out,
                format!(
                    "was steered by `{}` ({}), but that policy's files have changed since ({identity}): choose another --out, or delete it to restart",
                    s.policy, s.policy_identity
                ),
            ));
        }
    }
    // A fork's record names the policy that ran its first stages until now.
    let forked = saved.as_ref().is_some_and(|s| s.policy_identity.is_empty());
    let mut run = saved.unwrap_or_else(|| SteeredRun {
        format_version: STEERED_RUN_VERSION,
        policy: policy_spec.to_string(),
        policy_name: controller.policy_name(),
        policy_identity: controller.state().policy_identity.clone(),
        config: config.clone(),
        corpus_fingerprint: corpus.manifest.fingerprint.clone().unwrap_or_default(),
        base,
        space: SpaceEntry::of(&space),
        initial,
        stages: Vec::new(),
        policy_state: controller.policy_state(),
        final_eval: None,
    });
    if forked {
        if let Some(k) = controller.first_departure()? {
            return Err(RolloutError::collection(
                out,
                format!(
                    "policy `{policy_spec}` would not have trained stage {k} as the run it starts from did: a branch must repeat the stages it starts from (delete this folder, and start from another run or use a schedule with those stages)"
                ),
            ));
        }
        run.policy_name = controller.policy_name();
        run.policy_identity = controller.state().policy_identity.clone();
    }
    std::fs::create_dir_all(out).map_err(|e| RolloutError::io(out, e))?;
    if run.stages.len() > until {
        return Err(RolloutError::collection(
            out,
            format!(
                "has {} finished stages, past the stop after stage {until}: choose another --out",
                run.stages.len()
            ),
        ));
    }
    for stage in run.stages.len()..until {
        let wrap = |e: RolloutError| RolloutError::Stage {
            id: format!("cpt run {} ({policy_spec})", out.display()),
            stage,
            source: Box::new(e),
        };
        let mixture = controller.next_mixture().map_err(|e| wrap(e.into()))?;
        let row = run_stage(&mut session, &observer, &mixture, steps, stage).map_err(wrap)?;
        controller.observe(row.observation.clone(), row.tokens).map_err(|e| wrap(e.into()))?;
        run.stages.push(row);
        run.policy_state = controller.policy_state();
        let json = serde_json::to_vec_pretty(&run).expect("json");
        let name = format!("stage-{:03}", stage + 1);
        session
            .save(&checkpoints.join(&name), &[("run.json", &json)])
            .map_err(|e| wrap(e.into()))?;
        write_atomic(checkpoints.join("latest"), name.as_bytes()).map_err(|e| wrap(e.into()))?;
        remove_stages_except(&checkpoints, &name);
        write_atomic(out.join("run.json"), &json).map_err(|e| wrap(e.into()))?;
        on_stage(run.stages.last().expect("pushed"));
    }
    // A kill between the last checkpoint and the summary leaves the summary a stage behind.
    write_atomic(out.join("run.json"), &serde_json::to_vec_pretty(&run).expect("json"))?;
    Ok(run)
}

/// Copies the newest checkpoint of the steered run `from` into `checkpoints` as the start of
/// a run of `policy_spec` (its record names that policy; the identity is filled in once the
/// policy is built).
fn fork(
    from: &Path,
    checkpoints: &Path,
    policy_spec: &str,
    until: usize,
) -> Result<(), RolloutError> {
    let source = newest_stage(&from.join("checkpoints")).ok_or_else(|| {
        RolloutError::collection(
            from,
            "has no checkpoint to start from: run it first (a run whose checkpoints were archived away cannot be branched)",
        )
    })?;
    let path = source.join("run.json");
    let text = std::fs::read_to_string(&path).map_err(|e| RolloutError::io(&path, e))?;
    let mut run: SteeredRun = serde_json::from_str(&text).map_err(|e| {
        RolloutError::collection(&path, format!("{e}: not a steered run; start from another"))
    })?;
    let n = run.stages.len();
    if n > until {
        return Err(RolloutError::collection(
            from,
            format!("has {n} finished stages, past the stop after stage {until}: start from an earlier run or stop later"),
        ));
    }
    run.policy = policy_spec.to_string();
    run.policy_name.clear();
    run.policy_identity.clear();
    let name = format!("stage-{n:03}");
    let tmp = checkpoints.join(format!(".{name}.fork"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| RolloutError::io(&tmp, e))?;
    for entry in std::fs::read_dir(&source).map_err(|e| RolloutError::io(&source, e))? {
        let entry = entry.map_err(|e| RolloutError::io(&source, e))?;
        let to = tmp.join(entry.file_name());
        if entry.file_name() == "run.json" {
            let json = serde_json::to_vec_pretty(&run).expect("json");
            std::fs::write(&to, json).map_err(|e| RolloutError::io(&to, e))?;
        } else {
            std::fs::copy(entry.path(), &to).map_err(|e| RolloutError::io(&to, e))?;
        }
    }
    let dest = checkpoints.join(&name);
    std::fs::rename(&tmp, &dest).map_err(|e| RolloutError::io(&dest, e))?;
    write_atomic(checkpoints.join("latest"), name.as_bytes())?;
    Ok(())
}

/// The newest complete `stage-NNN` folder under `dir`.
fn newest_stage(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("stage-")?.parse::<usize>().ok()?;
            e.path().join("run.json").exists().then(|| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
}

/// The default run folder of `policy_spec` under `runs/`.
pub fn default_run_dir(config_stem: &str, policy_spec: &str) -> PathBuf {
    let clean: String = policy_spec
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    PathBuf::from("runs").join(format!("cpt-{config_stem}-{clean}"))
}
