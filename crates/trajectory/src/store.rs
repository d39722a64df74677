//! The trajectory store: one JSON file per trajectory (`trajectories/t-00017.json`), versioned,
//! written atomically, carrying its plan, config, seeds, the base checkpoint's fingerprint and
//! one row per stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mixagent_core::{DomainSpace, Observation, Precision};
use mixagent_shard::write_atomic;
use serde::{Deserialize, Serialize};

use crate::{CollectConfig, Family, TrajectoryError};

/// Version of the trajectory file format.
pub const TRAJECTORY_VERSION: u32 = 1;

/// One domain of the space a trajectory mixed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceEntry {
    /// Domain (or field, in a field-level space) name.
    pub name: String,
    /// Its field.
    pub field: String,
}

impl SpaceEntry {
    /// The entries of `space`, in order.
    pub fn of(space: &DomainSpace) -> Vec<SpaceEntry> {
        space
            .domains()
            .iter()
            .map(|d| SpaceEntry { name: d.name.clone(), field: d.field.to_string() })
            .collect()
    }
}

/// Mass of `weights` (in `space` order) on the target fields: every field but the first
/// entry's, which is the source.
pub fn target_share(space: &[SpaceEntry], weights: &[f64]) -> f64 {
    let Some(source) = space.first().map(|e| &e.field) else { return 0.0 };
    weights.iter().zip(space).filter(|(_, e)| &e.field != source).map(|(w, _)| w).sum()
}

/// The fields of `space`, in order of first appearance (the source field first).
pub fn space_fields(space: &[SpaceEntry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in space {
        if !out.contains(&e.field) {
            out.push(e.field.clone());
        }
    }
    out
}

/// The base checkpoint a trajectory started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseInfo {
    /// The checkpoint folder, as given.
    pub checkpoint: String,
    /// First 8 bytes (hex) of the SHA-256 of its `model.safetensors`.
    pub fingerprint: String,
    /// Parameters of the model.
    pub params: usize,
}

/// What happened in one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRow {
    /// Stage index (0-based).
    pub stage: usize,
    /// The mixture trained on, in the space's domain order.
    pub weights: Vec<f64>,
    /// Training tokens of the stage.
    pub tokens: u64,
    /// Training tokens per corpus domain.
    pub tokens_by_domain: BTreeMap<String, u64>,
    /// Mean training loss.
    pub train_loss: f64,
    /// The observation after the stage.
    pub observation: Observation,
    /// Wall time of training.
    pub train_secs: f64,
    /// Wall time of the observation.
    pub eval_secs: f64,
    /// The precision of the stage's training products (`auto` resolved on the machine that
    /// trained it); float32, the default, is left out of the file.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub train_precision: Precision,
    /// The same for the observation after the stage.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub observe_precision: Precision,
}

/// One rolled-out trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trajectory {
    /// File format version.
    pub format_version: u32,
    /// `t-00017`.
    pub id: String,
    /// Index in the plan.
    pub index: u64,
    /// Trajectory seed (plan draws, data order).
    pub seed: u64,
    /// Family and parameters.
    pub family: Family,
    /// Within-field concentration drawn for it.
    pub concentration: f64,
    /// The space's domains, in weight order.
    pub space: Vec<SpaceEntry>,
    /// Fingerprint of that space.
    pub space_fingerprint: String,
    /// The proxy base.
    pub base: BaseInfo,
    /// Feedback suite fingerprint per field.
    pub suites: BTreeMap<String, String>,
    /// The collection config it was rolled out under.
    pub config: CollectConfig,
    /// The base model's observation (before stage 0).
    pub initial: Observation,
    /// Completed stages, in order.
    pub stages: Vec<StageRow>,
    /// For a branch of its plan (`families.branches`): its parent and the first stage it
    /// trained itself; the rows before it are its parent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<crate::Branch>,
    /// For a trajectory of a tilted plan entry (`families.tilted`): its strength κ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilt: Option<f64>,
}

#[derive(Deserialize)]
struct VersionOnly {
    format_version: u32,
}

impl Trajectory {
    /// The rows this trajectory trained itself: all of them, or a branch's from its branch
    /// point on (the rows before it are its parent's, copied).
    pub fn own_stages(&self) -> &[StageRow] {
        let from = self.branch.map_or(0, |b| b.at.min(self.stages.len()));
        &self.stages[from..]
    }

    /// Whether every planned stage is done.
    pub fn is_complete(&self) -> bool {
        self.stages.len() == self.config.stages
    }

    /// Mass of `weights` on the target fields.
    pub fn target_share(&self, weights: &[f64]) -> f64 {
        target_share(&self.space, weights)
    }

    /// The fields of the space, in order (source field first).
    pub fn fields(&self) -> Vec<String> {
        space_fields(&self.space)
    }

    /// Reads and checks a trajectory file.
    pub fn read(path: &Path) -> Result<Self, TrajectoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrajectoryError::io(path, e))?;
        let version: VersionOnly = serde_json::from_str(&text).map_err(|e| {
            TrajectoryError::malformed(
                path,
                format!("{e}: not a trajectory file, or truncated; delete it and re-run `mixagent collect`"),
            )
        })?;
        if version.format_version != TRAJECTORY_VERSION {
            return Err(TrajectoryError::Version {
                path: path.into(),
                found: version.format_version,
                expected: TRAJECTORY_VERSION,
                hint: "collect it again with this version of mixagent",
            });
        }
        let t: Trajectory = serde_json::from_str(&text)
            .map_err(|e| TrajectoryError::malformed(path, format!("{e}; collect it again")))?;
        t.check().map_err(|m| TrajectoryError::malformed(path, m))?;
        Ok(t)
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<(), TrajectoryError> {
        let bytes = serde_json::to_vec(self).expect("serialisable");
        write_atomic(path, &bytes).map_err(|e| TrajectoryError::malformed(path, e.to_string()))
    }

    /// Internal consistency: stage order, weights on the simplex over the space.
    fn check(&self) -> Result<(), String> {
        for (i, row) in self.stages.iter().enumerate() {
            if row.stage != i {
                return Err(format!("stage row {i} says stage {}", row.stage));
            }
            if row.weights.len() != self.space.len() {
                return Err(format!(
                    "stage {i}: {} weights for {} domains",
                    row.weights.len(),
                    self.space.len()
                ));
            }
            let sum: f64 = row.weights.iter().sum();
            if row.weights.iter().any(|w| !w.is_finite() || *w < 0.0) || (sum - 1.0).abs() > 1e-6 {
                return Err(format!("stage {i}: weights are not a simplex point (sum {sum})"));
            }
        }
        if self.stages.len() > self.config.stages {
            return Err(format!(
                "{} stages, but the config plans {}",
                self.stages.len(),
                self.config.stages
            ));
        }
        Ok(())
    }
}

/// The folder holding a collection's trajectory files: `dir/trajectories` when `dir` is a
/// collection folder, else `dir` itself.
pub fn store_dir(dir: &Path) -> PathBuf {
    let inner = dir.join("trajectories");
    if inner.is_dir() {
        inner
    } else {
        dir.to_path_buf()
    }
}

/// Every finished trajectory of a collection folder (or of a folder of trajectory files),
/// in id order.
pub fn read_collection(dir: &Path) -> Result<Vec<Trajectory>, TrajectoryError> {
    let store = store_dir(dir);
    if !store.is_dir() {
        return Err(TrajectoryError::malformed(
            &store,
            "no such folder (give a collection folder or its trajectories/ folder)",
        ));
    }
    list_trajectories(&store)?.iter().map(|f| Trajectory::read(f)).collect()
}

/// The trajectory files (`t-*.json`) of a folder, sorted by name.
pub fn list_trajectories(dir: &Path) -> Result<Vec<PathBuf>, TrajectoryError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| TrajectoryError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("t-"))
        })
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trajectory {
        let cfg =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
        let config = CollectConfig::load(&cfg, &["stages=2".into()]).unwrap();
        let obs = |g: f64, m: f64| Observation {
            feedback: [("general".to_string(), g), ("math".to_string(), m)].into(),
            domain_loss: [("a".to_string(), 3.0), ("b".to_string(), 4.0)].into(),
        };
        let row = |stage: usize, w: f64| StageRow {
            stage,
            weights: vec![w, 1.0 - w],
            tokens: 4096,
            tokens_by_domain: [("a".to_string(), 2048), ("b".to_string(), 2048)].into(),
            train_loss: 5.0,
            observation: obs(-4.0, -5.0),
            train_secs: 0.1,
            eval_secs: 0.01,
            train_precision: Default::default(),
            observe_precision: Default::default(),
        };
        Trajectory {
            format_version: TRAJECTORY_VERSION,
            branch: None,
            tilt: None,
            id: "t-00000".into(),
            index: 0,
            seed: 1,
            family: Family::Constant { target_share: 0.5 },
            concentration: 1.0,
            space: vec![
                SpaceEntry { name: "a".into(), field: "general".into() },
                SpaceEntry { name: "b".into(), field: "math".into() },
            ],
            space_fingerprint: "x".into(),
            base: BaseInfo { checkpoint: "b".into(), fingerprint: "0".repeat(16), params: 1 },
            suites: BTreeMap::new(),
            config,
            initial: obs(-4.5, -6.0),
            stages: vec![row(0, 0.5), row(1, 0.25)],
        }
    }

    #[test]
    fn round_trip_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let t = sample();
        t.write(&dir.path().join("t-00000.json")).unwrap();
        std::fs::write(dir.path().join("notes.json"), "{}").unwrap();
        assert_eq!(Trajectory::read(&dir.path().join("t-00000.json")).unwrap(), t);
        assert!(t.is_complete());
        assert_eq!(t.fields(), ["general", "math"]);
        assert_eq!(list_trajectories(dir.path()).unwrap().len(), 1);
        // A stage's resolved precision: float32 is left out of the file, bf16 is written.
        let text = std::fs::read_to_string(dir.path().join("t-00000.json")).unwrap();
        assert!(!text.contains("precision"), "float32 stages write no precision");
        let mut b = t.clone();
        b.stages[1].train_precision = Precision::Bf16;
        b.write(&dir.path().join("t-00000.json")).unwrap();
        let back = Trajectory::read(&dir.path().join("t-00000.json")).unwrap();
        assert_eq!(
            (back.stages[0].train_precision, back.stages[1].train_precision),
            (Precision::F32, Precision::Bf16)
        );
    }

    #[test]
    fn inconsistent_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-00000.json");
        type Spoil = fn(&mut Trajectory);
        let cases: [(Spoil, &str); 3] = [
            (|t| t.stages[1].stage = 0, "says stage 0"),
            (|t| t.stages[0].weights = vec![0.9, 0.3], "not a simplex point"),
            (|t| t.stages[0].weights = vec![1.0], "1 weights for 2 domains"),
        ];
        for (spoil, message) in cases {
            let mut t = sample();
            spoil(&mut t);
            t.write(&path).unwrap();
            let e = Trajectory::read(&path).unwrap_err().to_string();
            assert!(e.contains("t-00000.json") && e.contains(message), "{e}");
        }
    }
}
