//! A collection folder: the resolved config, the plan, finished trajectories and the work
//! folders of partial ones.
//!
//! ```text
//! <out>/collect.json               config, base fingerprint, space (checked on every rerun)
//! <out>/plan.json                  every trajectory's family and mixtures
//! <out>/trajectories/t-00017.json  finished trajectories (written atomically, once)
//! <out>/work/t-00017/stage-004/    a partial trajectory: model, optimizer, sampler and the
//!                                  rows of stages 0-3 (each folder renamed into place)
//! <out>/work/t-00017.lock          held (flock) while a process rolls t-00017 out
//! <out>/branch/t-00016/stage-014/  t-00016's checkpoint after 14 stages, kept (hard links)
//!                                  until its branches that leave it there have finished
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mixagent_core::DomainSpace;
use mixagent_lm::{read_model_config, resolve_checkpoint};
use mixagent_sampler::Corpus;
use mixagent_shard::write_atomic;
use mixagent_trajectory::{
    sample_plan, BaseInfo, CollectConfig, PlannedTrajectory, SpaceEntry, COLLECT_CONFIG_VERSION,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::RolloutError;

/// `collect.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectFile {
    format_version: u32,
    config: CollectConfig,
    base: BaseInfo,
    space: Vec<SpaceEntry>,
    space_fingerprint: String,
}

/// `plan.json` (also what `mixagent trajectories sample` writes): the space and every planned
/// trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// The space's domains, in weight order.
    pub space: Vec<SpaceEntry>,
    /// The plan.
    pub trajectories: Vec<PlannedTrajectory>,
}

/// Where a trajectory stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not started.
    Pending,
    /// This many stages saved.
    Partial(usize),
    /// Finished.
    Done,
}

/// An open collection folder.
pub struct Collection {
    /// The folder.
    pub dir: PathBuf,
    /// The resolved config.
    pub config: CollectConfig,
    /// The corpus.
    pub corpus: Corpus,
    /// The space the trajectories mix over.
    pub space: Arc<DomainSpace>,
    /// The base checkpoint folder.
    pub base_dir: PathBuf,
    /// The base's fingerprint.
    pub base: BaseInfo,
    /// Every planned trajectory.
    pub plan: Vec<PlannedTrajectory>,
}

impl Collection {
    /// Opens `dir` for `config`, creating it on first use. A folder started with another
    /// config or base is refused; a larger `trajectories` count extends the plan (the first
    /// trajectories stay the same), so a collection can grow across sessions.
    pub fn open(dir: &Path, config: CollectConfig) -> Result<Self, RolloutError> {
        config.validate()?;
        let (corpus, space, base_dir, base) = resolve(&config)?;
        let file = CollectFile {
            format_version: COLLECT_CONFIG_VERSION,
            config: config.clone(),
            base: base.clone(),
            space: SpaceEntry::of(&space),
            space_fingerprint: space.fingerprint(),
        };
        let path = dir.join("collect.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let old: CollectFile = serde_json::from_str(&text).map_err(|e| {
                RolloutError::collection(
                    &path,
                    format!("{e}: not a mixagent collection; choose another --out"),
                )
            })?;
            if old.format_version != COLLECT_CONFIG_VERSION {
                return Err(RolloutError::collection(
                    &path,
                    format!("format version {}, expected {COLLECT_CONFIG_VERSION}: start a new collection", old.format_version),
                ));
            }
            if old.base.fingerprint != base.fingerprint {
                return Err(RolloutError::collection(
                    &path,
                    format!(
                        "this collection was started from a base with fingerprint {}, but {} now has {}: restore that base or start a new collection",
                        old.base.fingerprint, base.checkpoint, base.fingerprint
                    ),
                ));
            }
            let mut same = old.config.clone();
            same.trajectories = config.trajectories;
            if same != config || old.space != file.space {
                return Err(RolloutError::collection(
                    &path,
                    format!(
                        "holds a collection with other settings ({}): choose another --out, or run it with its own config",
                        differing_keys(&old.config, &config).join(", ")
                    ),
                ));
            }
        }
        // Plan first: a config that cannot be planned must leave no folder behind.
        let plan =
            sample_plan(&space, &config.families, config.trajectories, config.stages, config.seed)?;
        std::fs::create_dir_all(dir.join("trajectories"))
            .and_then(|_| std::fs::create_dir_all(dir.join("work")))
            .map_err(|e| RolloutError::io(dir, e))?;
        write_atomic(&path, &serde_json::to_vec_pretty(&file).expect("json"))?;
        let plan_file = PlanFile { space: file.space.clone(), trajectories: plan };
        write_atomic(dir.join("plan.json"), &serde_json::to_vec(&plan_file).expect("json"))?;
        let plan = plan_file.trajectories;
        Ok(Collection { dir: dir.to_path_buf(), config, corpus, space, base_dir, base, plan })
    }

    /// The finished file of trajectory `id`.
    pub fn trajectory_path(&self, id: &str) -> PathBuf {
        self.dir.join("trajectories").join(format!("{id}.json"))
    }

    /// The work folder of trajectory `id`.
    pub fn work_dir(&self, id: &str) -> PathBuf {
        self.dir.join("work").join(id)
    }

    /// The newest complete stage checkpoint of `id` and the number of stages it holds.
    pub fn latest_stage(&self, id: &str) -> Option<(usize, PathBuf)> {
        let entries = std::fs::read_dir(self.work_dir(id)).ok()?;
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n = name.strip_prefix("stage-")?.parse::<usize>().ok()?;
                Some((n, e.path()))
            })
            .max_by_key(|(n, _)| *n)
    }

    /// Where trajectory `id` stands.
    pub fn status(&self, id: &str) -> Status {
        if self.trajectory_path(id).exists() {
            Status::Done
        } else if let Some((n, _)) = self.latest_stage(id) {
            Status::Partial(n)
        } else {
            Status::Pending
        }
    }

    /// Stages saved over the whole plan (finished trajectories count in full).
    pub fn stages_done(&self) -> usize {
        self.plan
            .iter()
            .map(|p| match self.status(&p.id) {
                Status::Done => self.config.stages,
                Status::Partial(n) => n,
                Status::Pending => 0,
            })
            .sum()
    }

    /// The stages at which branches of plan entry `index` leave it (`families.branches`).
    pub fn branch_points(&self, index: u64) -> std::collections::BTreeSet<usize> {
        self.plan
            .iter()
            .filter_map(|p| p.branch.filter(|b| b.parent == index).map(|b| b.at))
            .collect()
    }

    /// The folder where trajectory `parent` keeps its checkpoint after `at` stages for its
    /// branches.
    pub fn branch_point(&self, parent: &str, at: usize) -> PathBuf {
        self.dir.join("branch").join(parent).join(format!("stage-{at:03}"))
    }

    /// Keeps `parent`'s stage checkpoint `from` (after `at` stages) for its branches: hard
    /// links to its files (a copy where links fail), renamed into place, so a branch sees it
    /// whole or not at all. Idempotent.
    pub fn keep_branch_point(
        &self,
        parent: &str,
        at: usize,
        from: &Path,
    ) -> Result<(), RolloutError> {
        let dst = self.branch_point(parent, at);
        if dst.exists() {
            return Ok(());
        }
        let tmp = dst.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        link_tree(from, &tmp).map_err(|e| RolloutError::io(&tmp, e))?;
        std::fs::rename(&tmp, &dst).map_err(|e| RolloutError::io(&dst, e))
    }

    /// Removes the checkpoints `parent` kept for branches that have all finished.
    pub fn release_branch_points(&self, parent: u64) {
        let id = &self.plan[parent as usize].id;
        for at in self.branch_points(parent) {
            let open = self.plan.iter().any(|p| {
                p.branch.is_some_and(|b| b.parent == parent && b.at == at)
                    && !self.trajectory_path(&p.id).exists()
            });
            if !open {
                let _ = std::fs::remove_dir_all(self.branch_point(id, at));
            }
        }
        // The parent's folder, once empty (fails harmlessly while it is not).
        let _ = std::fs::remove_dir(self.dir.join("branch").join(id));
    }

    /// Plan indices of slice `shard` of `shards` that are not finished: tree `t` (a
    /// trajectory and its branches, `families.branches`; each trajectory alone without them)
    /// is in slice `t % shards`, since a branch starts from its parent's checkpoint.
    pub fn unfinished(&self, shard: usize, shards: usize) -> Vec<u64> {
        let tree = 1 + self.config.families.branches as u64;
        self.plan
            .iter()
            .filter(|p| (p.index / tree) as usize % shards.max(1) == shard)
            .filter(|p| self.status(&p.id) != Status::Done)
            .map(|p| p.index)
            .collect()
    }
}

/// The corpus, the space, the base checkpoint folder and its fingerprint of a config.
pub(crate) fn resolve(
    config: &CollectConfig,
) -> Result<(Corpus, Arc<DomainSpace>, PathBuf, BaseInfo), RolloutError> {
    let corpus = Corpus::open(&config.corpus).map_err(|e| RolloutError::key("corpus", e))?;
    let space = config
        .space
        .resolve(&corpus.manifest.domain_space()?)
        .map_err(|e| RolloutError::key("space", e))?;
    let base_dir = resolve_checkpoint(&config.base).map_err(|e| {
        let hint = RolloutError::collection(
            &config.base,
            format!(
                "{e}\n  the base must exist first: `mixagent pretrain --preset <preset> --out {}`",
                config.base.display()
            ),
        );
        RolloutError::key("base", hint)
    })?;
    let base = base_info(&config.base, &base_dir)?;
    Ok((corpus, space, base_dir, base))
}

/// What a run records of its base `base` (as given), whose checkpoint folder is `dir`.
fn base_info(base: &Path, dir: &Path) -> Result<BaseInfo, RolloutError> {
    let (model, _) = read_model_config(dir)?;
    Ok(BaseInfo {
        checkpoint: base.display().to_string(),
        fingerprint: file_fingerprint(&dir.join("model.safetensors"))?,
        params: model.n_params(),
    })
}

/// What a run trained from the checkpoint `base` names (a checkpoint folder, or a run folder
/// whose `checkpoints/latest` names one) records of it.
pub fn base_record(base: &Path) -> Result<BaseInfo, RolloutError> {
    let dir =
        resolve_checkpoint(base).map_err(|e| RolloutError::collection(base, e.to_string()))?;
    base_info(base, &dir)
}

/// First 8 bytes (hex) of the SHA-256 of a file.
pub fn file_fingerprint(path: &Path) -> Result<String, RolloutError> {
    let mut f = std::fs::File::open(path).map_err(|e| RolloutError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| RolloutError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let d = hasher.finalize();
    Ok(d[..8].iter().map(|b| format!("{b:02x}")).collect())
}

/// Top-level keys whose values differ (for the error message).
fn differing_keys(a: &CollectConfig, b: &CollectConfig) -> Vec<String> {
    let (a, b) = (serde_json::to_value(a).expect("json"), serde_json::to_value(b).expect("json"));
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return vec![] };
    a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect()
}

/// Hard-links every file under `from` into a new folder `to` (copies where a link fails).
fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dst = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &dst)?;
        } else if std::fs::hard_link(entry.path(), &dst).is_err() {
            std::fs::copy(entry.path(), &dst)?;
        }
    }
    Ok(())
}
