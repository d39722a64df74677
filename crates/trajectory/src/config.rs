//! The collection config (`experiments/collect-*.toml`): corpus, proxy base, space, plan size,
//! stage budget, the proxies' optimisation, the observation and the family mix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mixagent_core::{Device, ObserveConfig, Precision, SpaceSpec};
use serde::{Deserialize, Serialize};

use crate::{FamilyConfig, TrajectoryError};

/// Version of the collection config as stored in `collect.json` and every trajectory.
pub const COLLECT_CONFIG_VERSION: u32 = 1;

/// How each proxy trains during a rollout (CPT from the base; one learning-rate schedule over
/// the whole trajectory: cosine, or WSD so that data seen in the decay phase counts more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageTraining {
    /// Rows per batch.
    pub batch_size: usize,
    /// Tokens per row.
    pub seq_len: usize,
    /// Peak learning rate.
    pub peak_lr: f64,
    /// Final learning rate as a fraction of the peak.
    pub min_lr_ratio: f64,
    /// Warmup steps at the start of the trajectory.
    pub warmup_steps: u64,
    /// `cosine` (default) or `wsd`: constant at the peak, then linear decay over the last
    /// `decay_fraction` of the trajectory's steps (DESIGN §10, principle 3).
    #[serde(default = "default_lr_shape", skip_serializing_if = "is_cosine")]
    pub lr_shape: String,
    /// The decay phase's share of the steps under `wsd`.
    #[serde(default = "default_decay_fraction", skip_serializing_if = "is_default_decay")]
    pub decay_fraction: f64,
    /// Per corpus domain, the most training tokens it is read from (its first ones): a small
    /// domain that repeats and saturates (DESIGN §10, principle 3). `{}`: every domain whole.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub token_caps: BTreeMap<String, u64>,
    /// Precision of the training step's matrix products: `f32` (the default, left out of
    /// `collect.json`), `bf16` or `auto` (`mixagent_core::Precision`). The observation has its
    /// own, `observe.precision`.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

fn default_lr_shape() -> String {
    "cosine".into()
}

fn is_cosine(s: &str) -> bool {
    s == "cosine"
}

fn default_decay_fraction() -> f64 {
    0.2
}

fn is_default_decay(x: &f64) -> bool {
    *x == default_decay_fraction()
}

/// A whole collection: what to roll out and how. Saved (resolved) as `collect.json` in the
/// collection folder and inside every trajectory file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    /// The prepared corpus.
    pub corpus: PathBuf,
    /// The proxy base checkpoint (a run or checkpoint folder), pretrained on the source field.
    pub base: PathBuf,
    /// The space the trajectories mix over (source field first).
    pub space: SpaceSpec,
    /// Root seed: trajectory `i`'s seed is derived from it and `i`.
    pub seed: u64,
    /// Trajectories in the plan.
    pub trajectories: usize,
    /// Stages per trajectory.
    pub stages: usize,
    /// Training tokens per stage (rounded up to whole optimizer steps).
    pub stage_tokens: u64,
    /// `cpu` or `cuda`.
    #[serde(default)]
    pub device: Device,
    /// Proxy optimisation.
    pub train: StageTraining,
    /// What is measured after each stage.
    pub observe: ObserveConfig,
    /// The family mix.
    #[serde(default)]
    pub families: FamilyConfig,
}

impl CollectConfig {
    /// Reads a TOML config, applies `--set key=value` overrides, validates, and resolves
    /// relative paths against the current directory (where the command runs).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, TrajectoryError> {
        let cfg: CollectConfig = mixagent_core::load_config(path, overrides)?;
        cfg.validate().map_err(|e| TrajectoryError::malformed(path, e.to_string()))?;
        Ok(cfg)
    }

    /// Range checks serde cannot express.
    pub fn validate(&self) -> Result<(), TrajectoryError> {
        let bad = |m: String| Err(TrajectoryError::Config(m));
        if self.trajectories == 0 || self.stages == 0 || self.stage_tokens == 0 {
            return bad("trajectories, stages and stage_tokens must be > 0".into());
        }
        let t = &self.train;
        if t.batch_size == 0 || t.seq_len == 0 {
            return bad("train.batch_size and train.seq_len must be > 0".into());
        }
        if !(t.peak_lr > 0.0 && t.peak_lr.is_finite() && (0.0..=1.0).contains(&t.min_lr_ratio)) {
            return bad(format!(
                "train.peak_lr = {} must be > 0 and train.min_lr_ratio = {} in [0, 1]",
                t.peak_lr, t.min_lr_ratio
            ));
        }
        if !["cosine", "wsd"].contains(&t.lr_shape.as_str()) {
            return bad(format!("train.lr_shape = {:?}: use \"cosine\" or \"wsd\"", t.lr_shape));
        }
        if !(t.decay_fraction > 0.0 && t.decay_fraction <= 1.0) {
            return bad(format!("train.decay_fraction = {} must be in (0, 1]", t.decay_fraction));
        }
        if let Some((d, _)) = t.token_caps.iter().find(|(_, &c)| c == 0) {
            return bad(format!("train.token_caps.{d} = 0: a cap must be ≥ one window (seq_len + 1) of tokens; remove it to read the domain whole"));
        }
        if self.observe.items_per_field == 0 || self.observe.batch_size == 0 {
            return bad("observe.items_per_field and observe.batch_size must be > 0".into());
        }
        self.families.validate()
    }

    /// Optimizer steps per stage.
    pub fn steps_per_stage(&self) -> u64 {
        self.stage_tokens.div_ceil((self.train.batch_size * self.train.seq_len) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_collection_configs_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("collect-") && name.ends_with(".toml") {
                let c = CollectConfig::load(&p, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(c.steps_per_stage() >= 1);
                n += 1;
            }
        }
        assert!(n >= 4, "expected smoke, demo, study and paper configs");
    }

    #[test]
    fn overrides_and_bad_values_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let smoke =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
        std::fs::copy(smoke, &path).unwrap();
        let c =
            CollectConfig::load(&path, &["stages=7".into(), "train.peak_lr=1e-3".into()]).unwrap();
        assert_eq!((c.stages, c.train.peak_lr), (7, 1e-3));
        let e = CollectConfig::load(&path, &["train.peak_lr=-1".into()]).unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("peak_lr"), "{e}");
        let e = CollectConfig::load(&path, &["families.floor=1.5".into()]).unwrap_err().to_string();
        assert!(e.contains("floor"), "{e}");
        let e = CollectConfig::load(&path, &["device=tpu".into()]).unwrap_err().to_string();
        assert!(e.contains("tpu"), "{e}");
        // The learning-rate shape: cosine by default (and not written, so configs saved before
        // it existed read back identical), WSD on request, anything else refused.
        assert_eq!(c.train.lr_shape, "cosine");
        assert!(!serde_json::to_string(&c).unwrap().contains("lr_shape"));
        let w = CollectConfig::load(&path, &["train.lr_shape=\"wsd\"".into()]).unwrap();
        assert_eq!((w.train.lr_shape.as_str(), w.train.decay_fraction), ("wsd", 0.2));
        let e = CollectConfig::load(&path, &["train.lr_shape=\"step\"".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("lr_shape") && e.contains("wsd"), "{e}");
        // Token caps: none by default (and not written), one per domain by dotted key.
        assert!(c.train.token_caps.is_empty());
        assert!(!serde_json::to_string(&c).unwrap().contains("token_caps"));
        let k = CollectConfig::load(&path, &["train.token_caps.web=4096".into()]).unwrap();
        assert_eq!(k.train.token_caps.get("web"), Some(&4096));
        let e =
            CollectConfig::load(&path, &["train.token_caps.web=0".into()]).unwrap_err().to_string();
        assert!(e.contains("train.token_caps.web = 0"), "{e}");
        // Precision: f32 by default (and not written), bf16 or auto on request, others refused.
        assert_eq!(c.train.precision, Precision::F32);
        assert!(!serde_json::to_string(&c).unwrap().contains("precision"));
        let b = CollectConfig::load(&path, &["train.precision=\"bf16\"".into()]).unwrap();
        assert_eq!(b.train.precision, Precision::Bf16);
        assert!(serde_json::to_string(&b).unwrap().contains("\"precision\":\"bf16\""));
        let e = CollectConfig::load(&path, &["train.precision=\"fp16\"".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("precision") && e.contains("fp16"), "{e}");
        assert_eq!(c.observe.precision, Precision::F32);
        let o = CollectConfig::load(&path, &["observe.precision=\"auto\"".into()]).unwrap();
        assert_eq!((o.observe.precision, o.train.precision), (Precision::Auto, Precision::F32));
    }
}
