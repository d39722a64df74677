//! One trajectory's rollout: from the proxy base, stage by stage, set the planned mixture,
//! train the stage's tokens, observe feedback and per-domain loss, record a row. After every
//! stage the session (weights, optimizer, sampler cursors) and the rows so far are saved as
//! one checkpoint folder, so a killed rollout resumes at its last finished stage with results
//! identical to an uninterrupted one, and no stage is lost or recorded twice.

use std::fs::{File, TryLockError};
use std::time::Instant;

use mixagent_core::{Mixture, Observation};
use mixagent_eval::Observer;
use mixagent_lm::{Device, Session, TrainConfig, Weights};
use mixagent_trajectory::{PlannedTrajectory, StageRow, Trajectory, TRAJECTORY_VERSION};

use crate::{Collection, RolloutError};

/// What `run` did with a trajectory.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It was already finished.
    AlreadyDone,
    /// Another process holds its lock.
    Busy,
    /// A branch whose parent has not reached the branch point yet (`families.branches`).
    Waiting {
        /// The parent's plan index.
        parent: u64,
    },
    /// Rolled out (`resumed_at` > 0 when it continued a partial one).
    Finished {
        /// Stage it started at in this call.
        resumed_at: usize,
        /// Stages run in this call.
        stages_run: usize,
    },
}

/// Progress after one stage.
#[derive(Debug, Clone)]
pub struct StageEvent<'a> {
    /// Trajectory id.
    pub id: &'a str,
    /// The row just recorded.
    pub row: &'a StageRow,
}

/// Rolls trajectories of one collection out in this process.
pub struct Worker<'c> {
    collection: &'c Collection,
    observer: Observer,
    initial: Observation,
    suites: std::collections::BTreeMap<String, String>,
    device: Device,
}

impl<'c> Worker<'c> {
    /// Loads the feedback suites and held-out tokens and observes the base model once.
    pub fn new(collection: &'c Collection) -> Result<Self, RolloutError> {
        let cfg = &collection.config;
        let device = cfg.device;
        let observer = Observer::new(&cfg.corpus, &cfg.space.fields, cfg.observe.clone())?;
        let base = Session::new(
            Weights::Base(&collection.base_dir),
            &collection.corpus,
            collection.space.clone(),
            train_config(cfg, 0),
            1,
            device,
        )?;
        let initial = observer.observe(base.model(), base.device())?;
        let suites = observer.suite_fingerprints().into_iter().collect();
        Ok(Worker { collection, observer, initial, suites, device })
    }

    /// The base model's observation.
    pub fn initial(&self) -> &Observation {
        &self.initial
    }

    /// Rolls out (or resumes, or skips) plan entry `index`.
    pub fn run(
        &self,
        index: u64,
        mut on_stage: impl FnMut(StageEvent<'_>),
    ) -> Result<Outcome, RolloutError> {
        let c = self.collection;
        let planned = c.plan.get(index as usize).ok_or_else(|| {
            RolloutError::collection(
                &c.dir,
                format!("trajectory index {index} is outside the plan of {}", c.plan.len()),
            )
        })?;
        let id = planned.id.as_str();
        let final_path = c.trajectory_path(id);
        if final_path.exists() {
            // A run killed after writing the file but before cleaning up leaves a work folder.
            let _ = std::fs::remove_dir_all(c.work_dir(id));
            return Ok(Outcome::AlreadyDone);
        }
        let lock_path = c.dir.join("work").join(format!("{id}.lock"));
        let lock = File::create(&lock_path).map_err(|e| RolloutError::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(Outcome::Busy),
            Err(TryLockError::Error(e)) => return Err(RolloutError::io(&lock_path, e)),
        }
        // Finished by another process between the check and the lock.
        if final_path.exists() {
            return Ok(Outcome::AlreadyDone);
        }
        let cfg = &c.config;
        let steps = cfg.steps_per_stage();
        let mut session = Session::new(
            Weights::Base(&c.base_dir),
            &c.corpus,
            c.space.clone(),
            train_config(cfg, planned.seed),
            steps * cfg.stages as u64,
            self.device,
        )?;
        // The stages at which this trajectory's branches leave it: its checkpoints there are
        // kept for them.
        let branch_points = c.branch_points(index);
        let work = c.work_dir(id);
        let mut traj = match c.latest_stage(id) {
            Some((n, dir)) => {
                let saved = saved_rows(c, &dir, n, "delete this folder to restart the trajectory")?;
                session.resume(&dir)?;
                // Killed between saving this stage and keeping it for a branch: keep it now.
                if branch_points.contains(&n) {
                    c.keep_branch_point(id, n, &dir)?;
                }
                saved
            }
            None => match planned.branch {
                None => self.new_trajectory(planned),
                Some(b) => {
                    // A branch starts from its parent's checkpoint at the branch point: the
                    // parent's rows so far are its own, and it trains from there.
                    let parent = &c.plan[b.parent as usize].id;
                    let kept = c.branch_point(parent, b.at);
                    if !kept.exists() {
                        if c.trajectory_path(parent).exists() {
                            return Err(RolloutError::collection(
                                &kept,
                                format!(
                                    "the checkpoint {id} branches from is gone though its parent {parent} is finished: delete {} to roll the parent out again",
                                    c.trajectory_path(parent).display()
                                ),
                            ));
                        }
                        return Ok(Outcome::Waiting { parent: b.parent });
                    }
                    let fix =
                        "delete this folder and the parent's trajectory to roll both out again";
                    let saved = saved_rows(c, &kept, b.at, fix)?;
                    session.resume(&kept)?;
                    let mut t = self.new_trajectory(planned);
                    t.stages = saved.stages;
                    t
                }
            },
        };
        let resumed_at = traj.stages.len();
        for stage in resumed_at..cfg.stages {
            let wrap = |e: RolloutError| RolloutError::Stage {
                id: format!("trajectory {id}"),
                stage,
                source: Box::new(e),
            };
            let mixture = Mixture::new(c.space.clone(), planned.mixtures[stage].clone())
                .map_err(|e| wrap(e.into()))?;
            let row =
                run_stage(&mut session, &self.observer, &mixture, steps, stage).map_err(wrap)?;
            traj.stages.push(row);
            if stage + 1 < cfg.stages {
                let dir = work.join(format!("stage-{:03}", stage + 1));
                let json = serde_json::to_vec(&traj).expect("json");
                session.save(&dir, &[("trajectory.json", &json)]).map_err(|e| wrap(e.into()))?;
                if branch_points.contains(&(stage + 1)) {
                    c.keep_branch_point(id, stage + 1, &dir).map_err(wrap)?;
                }
                remove_stages_except(&work, &format!("stage-{:03}", stage + 1));
            }
            on_stage(StageEvent { id, row: traj.stages.last().expect("pushed") });
        }
        traj.write(&final_path)?;
        let _ = std::fs::remove_dir_all(&work);
        drop(lock);
        let _ = std::fs::remove_file(&lock_path);
        if let Some(b) = planned.branch {
            c.release_branch_points(b.parent);
        }
        Ok(Outcome::Finished { resumed_at, stages_run: cfg.stages - resumed_at })
    }

    fn new_trajectory(&self, p: &PlannedTrajectory) -> Trajectory {
        let c = self.collection;
        Trajectory {
            format_version: TRAJECTORY_VERSION,
            branch: p.branch,
            tilt: p.tilt,
            id: p.id.clone(),
            index: p.index,
            seed: p.seed,
            family: p.family.clone(),
            concentration: p.concentration,
            space: mixagent_trajectory::SpaceEntry::of(&c.space),
            space_fingerprint: c.space.fingerprint(),
            base: c.base.clone(),
            suites: self.suites.clone(),
            config: c.config.clone(),
            initial: self.initial.clone(),
            stages: Vec::new(),
        }
    }
}

/// The rows saved with the stage checkpoint `dir`, which must hold `stages` of them from the
/// collection's base (`fix` says what to do when it does not).
fn saved_rows(
    c: &Collection,
    dir: &std::path::Path,
    stages: usize,
    fix: &str,
) -> Result<Trajectory, RolloutError> {
    let saved = Trajectory::read(&dir.join("trajectory.json"))?;
    if saved.stages.len() != stages || saved.base.fingerprint != c.base.fingerprint {
        return Err(RolloutError::collection(
            dir,
            format!("does not match its collection (stage count or base differs): {fix}"),
        ));
    }
    Ok(saved)
}

/// The proxies' training settings for trajectory seed `seed`.
pub(crate) fn train_config(cfg: &mixagent_trajectory::CollectConfig, seed: u64) -> TrainConfig {
    let t = &cfg.train;
    let mut out = TrainConfig::small(t.batch_size, t.seq_len);
    out.peak_lr = t.peak_lr;
    out.min_lr_ratio = t.min_lr_ratio;
    out.warmup_steps = t.warmup_steps;
    if t.lr_shape == "wsd" {
        out.lr_shape = mixagent_lm::LrShape::Wsd { decay_fraction: t.decay_fraction };
    }
    out.token_caps = t.token_caps.clone();
    out.precision = t.precision;
    out.seed = seed;
    // A rollout's data may repeat (small corpora, long collections); that is by design here.
    out.max_epochs = u32::MAX;
    out
}

/// Trains one stage of `mixture` and observes the model: the stage's row.
pub(crate) fn run_stage(
    session: &mut Session,
    observer: &Observer,
    mixture: &Mixture,
    steps: u64,
    stage: usize,
) -> Result<StageRow, RolloutError> {
    let stats = session.train_stage(mixture, steps)?;
    let t0 = Instant::now();
    let observation = observer.observe(session.model(), session.device())?;
    let observe_precision = observer.precision(session.device())?;
    Ok(StageRow {
        stage,
        weights: mixture.weights().to_vec(),
        tokens: stats.tokens,
        tokens_by_domain: stats.tokens_by_domain,
        train_loss: stats.train_loss,
        observation,
        train_secs: stats.train_secs,
        eval_secs: t0.elapsed().as_secs_f64(),
        train_precision: session.precision(),
        observe_precision,
    })
}

/// Removes the `stage-*` folders of `dir` (and leftover temporary ones) other than `keep`.
pub(crate) fn remove_stages_except(dir: &std::path::Path, keep: &str) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("stage-") && name != keep {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mixagent_lm::LrShape;
    use mixagent_trajectory::CollectConfig;

    #[test]
    fn the_collection_configs_learning_rate_shape_token_caps_and_precision_reach_the_trainer() {
        let smoke =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
        let cosine = CollectConfig::load(&smoke, &[]).unwrap();
        assert_eq!(super::train_config(&cosine, 0).lr_shape, LrShape::Cosine);
        let wsd = CollectConfig::load(
            &smoke,
            &["train.lr_shape=\"wsd\"".into(), "train.decay_fraction=0.3".into()],
        )
        .unwrap();
        assert_eq!(super::train_config(&wsd, 0).lr_shape, LrShape::Wsd { decay_fraction: 0.3 });
        let capped = CollectConfig::load(&smoke, &["train.token_caps.x=512".into()]).unwrap();
        assert_eq!(super::train_config(&capped, 0).token_caps.get("x"), Some(&512));
        assert!(super::train_config(&cosine, 0).precision.is_f32());
        let bf16 = CollectConfig::load(&smoke, &["train.precision=\"bf16\"".into()]).unwrap();
        assert_eq!(super::train_config(&bf16, 0).precision, mixagent_lm::Precision::Bf16);
    }
}
