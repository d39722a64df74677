//! `run.json` of a continual pre-training run steered by a policy (`mixagent cpt --policy`):
//! written by `mixagent-rollout`, read by the comparisons without libtorch.

use std::path::Path;

use mixagent_core::{balanced_score, Observation};
use serde::{Deserialize, Serialize};

use crate::{
    space_fields, target_share, BaseInfo, CollectConfig, SpaceEntry, StageRow, TrajectoryError,
};

/// Version of `run.json`.
pub const STEERED_RUN_VERSION: u32 = 1;

/// `run.json` of a steered run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeredRun {
    /// Layout version.
    pub format_version: u32,
    /// The policy, as given to `--policy`, and its name.
    pub policy: String,
    /// The policy's display name.
    pub policy_name: String,
    /// What its decisions depend on (`MixingPolicy::identity`: for an agent, the fingerprint
    /// of its artifact files); a resume or a reuse by `compare` with another is refused.
    #[serde(default)]
    pub policy_identity: String,
    /// The run config.
    pub config: CollectConfig,
    /// The fingerprint of the prepared corpus it trained on and observed (its manifest's):
    /// a corpus prepared again with other feedback sets at the same path is another run.
    /// Empty in runs written before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub corpus_fingerprint: String,
    /// The base model.
    pub base: BaseInfo,
    /// The space mixed over.
    pub space: Vec<SpaceEntry>,
    /// The base model's observation.
    pub initial: Observation,
    /// Finished stages.
    pub stages: Vec<StageRow>,
    /// The policy's state after the last finished stage.
    pub policy_state: serde_json::Value,
    /// The final score measured apart from the run's own observations: `compare`'s
    /// `final_items` scores the base and the final model on a larger feedback set. Not written
    /// by `cpt`; attached by the reader ([`SteeredRun::with_final_eval`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_eval: Option<FinalEval>,
}

/// The base's and the final model's feedback on one item set, larger than the per-stage
/// observation's: what the final score is read from when present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalEval {
    /// Items per field.
    pub items: usize,
    /// The base model's feedback per field.
    pub base: Observation,
    /// The final model's feedback per field.
    pub last: Observation,
}

impl SteeredRun {
    /// Reads and checks a `run.json`.
    pub fn read(path: &Path) -> Result<Self, TrajectoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrajectoryError::io(path, e))?;
        let run: SteeredRun = serde_json::from_str(&text).map_err(|e| {
            TrajectoryError::malformed(path, format!("{e}: not a steered run, or truncated"))
        })?;
        if run.format_version != STEERED_RUN_VERSION {
            return Err(TrajectoryError::malformed(
                path,
                format!(
                    "format version {}, expected {STEERED_RUN_VERSION}: rerun it with this mixagent",
                    run.format_version
                ),
            ));
        }
        Ok(run)
    }

    /// Whether every stage of its config is done.
    pub fn is_complete(&self) -> bool {
        self.stages.len() == self.config.stages
    }

    /// Fields of its space, source first.
    pub fn fields(&self) -> Vec<String> {
        space_fields(&self.space)
    }

    /// Mass of `weights` (one stage's mixture) on the target fields.
    pub fn target_share(&self, weights: &[f64]) -> f64 {
        target_share(&self.space, weights)
    }

    /// The observation after the last stage (the base's before any).
    pub fn last_observation(&self) -> &Observation {
        self.stages.last().map_or(&self.initial, |r| &r.observation)
    }

    /// The run with its final score read from `eval` (see [`FinalEval`]).
    pub fn with_final_eval(mut self, eval: FinalEval) -> Self {
        self.final_eval = Some(eval);
        self
    }

    /// The two observations the final score compares, (final, base): the final evaluation's
    /// when attached, else the last stage's and the base's own.
    pub fn final_pair(&self) -> (&Observation, &Observation) {
        match &self.final_eval {
            Some(e) => (&e.last, &e.base),
            None => (self.last_observation(), &self.initial),
        }
    }

    /// Final change of `field`'s feedback relative to the base, `(f − f₀)/|f₀|`.
    pub fn final_change(&self, field: &str) -> Option<f64> {
        let (last, base) = self.final_pair();
        last.relative_change(base, field)
    }

    /// Final balanced score (mean relative feedback change over the fields).
    pub fn final_balanced(&self) -> Option<f64> {
        let fields = self.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let (last, base) = self.final_pair();
        balanced_score(last, base, &refs).ok()
    }
}
