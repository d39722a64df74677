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

/// A trajectory being rolled out: its plan entry, its rows so far, its lock held.
struct Open<'c> {
    planned: &'c PlannedTrajectory,
    traj: Trajectory,
    lock: File,
    lock_path: std::path::PathBuf,
    final_path: std::path::PathBuf,
    work: std::path::PathBuf,
    branch_points: std::collections::BTreeSet<usize>,
    resumed_at: usize,
}

impl Open<'_> {
    /// Stage `stage`'s planned mixture.
    fn mixture(&self, c: &Collection, stage: usize) -> Result<Mixture, RolloutError> {
        Mixture::new(c.space.clone(), self.planned.mixtures[stage].clone())
            .map_err(|e| self.at(stage, e.into()))
    }

    /// `e`, naming this trajectory and `stage`.
    fn at(&self, stage: usize, e: RolloutError) -> RolloutError {
        RolloutError::Stage {
            id: format!("trajectory {}", self.planned.id),
            stage,
            source: Box::new(e),
        }
    }
}

/// What opening a plan entry gave.
enum Opened<'c> {
    /// Nothing to roll here.
    Done(Outcome),
    /// Ready, with its session (boxed: both are large beside the outcome).
    Open(Box<Open<'c>>, Box<Session>),
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
        let (mut open, mut session) = match self.open(index)? {
            Opened::Done(outcome) => return Ok(outcome),
            Opened::Open(open, session) => (*open, *session),
        };
        let (cfg, steps) = (&self.collection.config, self.collection.config.steps_per_stage());
        for stage in open.resumed_at..cfg.stages {
            let mixture = open.mixture(self.collection, stage)?;
            let row = run_stage(&mut session, &self.observer, &mixture, steps, stage)
                .map_err(|e| open.at(stage, e))?;
            self.record(&mut open, &session, stage, row, &mut on_stage)?;
        }
        self.finish(open)
    }

    /// Rolls out (or resumes, or skips) the plan entries `indices` together: those that open at
    /// the same stage train as one network with stacked weights (`train_stage_batched`, issue
    /// 20), each on its own mixture and data order, and are observed, checkpointed and recorded
    /// one by one as [`Worker::run`] does; a group of one trains alone. The trajectories match
    /// their one-by-one rollouts to float rounding (the stacked products run in other shapes),
    /// not bit for bit. One outcome per index, in order.
    pub fn run_batched(
        &self,
        indices: &[u64],
        mut on_stage: impl FnMut(StageEvent<'_>),
    ) -> Result<Vec<Outcome>, RolloutError> {
        let c = self.collection;
        let (stages, steps) = (c.config.stages, c.config.steps_per_stage());
        let mut outcomes: Vec<Option<Outcome>> = vec![None; indices.len()];
        // The trajectories to roll, grouped by the stage they open at (lockstep needs one).
        let mut groups: std::collections::BTreeMap<usize, Vec<(usize, Open<'_>, Session)>> =
            Default::default();
        for (slot, &index) in indices.iter().enumerate() {
            match self.open(index)? {
                Opened::Done(outcome) => outcomes[slot] = Some(outcome),
                Opened::Open(open, session) => {
                    groups.entry(open.resumed_at).or_default().push((slot, *open, *session))
                }
            }
        }
        for (from, group) in groups {
            let (mut slots, mut opens, mut sessions) = (Vec::new(), Vec::new(), Vec::new());
            for (slot, open, session) in group {
                slots.push(slot);
                opens.push(open);
                sessions.push(session);
            }
            for stage in from..stages {
                let mixtures =
                    opens.iter().map(|o| o.mixture(c, stage)).collect::<Result<Vec<_>, _>>()?;
                let stats = if sessions.len() == 1 {
                    vec![sessions[0]
                        .train_stage(&mixtures[0], steps)
                        .map_err(|e| opens[0].at(stage, e.into()))?]
                } else {
                    mixagent_lm::train_stage_batched(&mut sessions, &mixtures, steps).map_err(
                        |e| {
                            let ids: Vec<&str> =
                                opens.iter().map(|o| o.planned.id.as_str()).collect();
                            RolloutError::Stage {
                                id: format!("trajectories {} (trained together)", ids.join(", ")),
                                stage,
                                source: Box::new(e.into()),
                            }
                        },
                    )?
                };
                for (i, stats) in stats.into_iter().enumerate() {
                    let row =
                        observe_stage(&sessions[i], &self.observer, &mixtures[i], stats, stage)
                            .map_err(|e| opens[i].at(stage, e))?;
                    self.record(&mut opens[i], &sessions[i], stage, row, &mut on_stage)?;
                }
            }
            for (slot, open) in slots.into_iter().zip(opens) {
                outcomes[slot] = Some(self.finish(open)?);
            }
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every index has an outcome")).collect())
    }

    /// Plan entry `index` with its lock taken and its session at its next stage, or what
    /// [`Worker::run`] reports without rolling it (finished, held elsewhere, waiting).
    fn open(&self, index: u64) -> Result<Opened<'_>, RolloutError> {
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
            return Ok(Opened::Done(Outcome::AlreadyDone));
        }
        let lock_path = c.dir.join("work").join(format!("{id}.lock"));
        let lock = File::create(&lock_path).map_err(|e| RolloutError::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(Opened::Done(Outcome::Busy)),
            Err(TryLockError::Error(e)) => return Err(RolloutError::io(&lock_path, e)),
        }
        // Finished by another process between the check and the lock.
        if final_path.exists() {
            return Ok(Opened::Done(Outcome::AlreadyDone));
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
        let traj = match c.latest_stage(id) {
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
                        return Ok(Opened::Done(Outcome::Waiting { parent: b.parent }));
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
        let open =
            Open { planned, traj, lock, lock_path, final_path, work, branch_points, resumed_at };
        Ok(Opened::Open(Box::new(open), Box::new(session)))
    }

    /// Records stage `stage`'s `row`: into the trajectory, and (before the last stage) with the
    /// session into the next stage's checkpoint, kept for a branch where one leaves there.
    fn record(
        &self,
        o: &mut Open<'_>,
        session: &Session,
        stage: usize,
        row: StageRow,
        on_stage: &mut impl FnMut(StageEvent<'_>),
    ) -> Result<(), RolloutError> {
        let c = self.collection;
        o.traj.stages.push(row);
        if stage + 1 < c.config.stages {
            let dir = o.work.join(format!("stage-{:03}", stage + 1));
            let json = serde_json::to_vec(&o.traj).expect("json");
            session.save(&dir, &[("trajectory.json", &json)]).map_err(|e| o.at(stage, e.into()))?;
            if o.branch_points.contains(&(stage + 1)) {
                c.keep_branch_point(&o.planned.id, stage + 1, &dir).map_err(|e| o.at(stage, e))?;
            }
            remove_stages_except(&o.work, &format!("stage-{:03}", stage + 1));
        }
        on_stage(StageEvent { id: &o.planned.id, row: o.traj.stages.last().expect("pushed") });
        Ok(())
    }

    /// Writes the finished trajectory, cleans its work folder and lock up, and lets its branch
    /// point go.
    fn finish(&self, o: Open<'_>) -> Result<Outcome, RolloutError> {
        let c = self.collection;
        o.traj.write(&o.final_path)?;
        let _ = std::fs::remove_dir_all(&o.work);
        drop(o.lock);
        let _ = std::fs::remove_file(&o.lock_path);
        if let Some(b) = o.planned.branch {
            c.release_branch_points(b.parent);
        }
        Ok(Outcome::Finished {
            resumed_at: o.resumed_at,
            stages_run: c.config.stages - o.resumed_at,
        })
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
    observe_stage(session, observer, mixture, stats, stage)
}

/// Observes the model after a stage of `mixture` that trained with `stats`: the stage's row.
fn observe_stage(
    session: &Session,
    observer: &Observer,
    mixture: &Mixture,
    stats: mixagent_lm::StageStats,
    stage: usize,
) -> Result<StageRow, RolloutError> {
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
