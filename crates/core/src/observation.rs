//! What a policy observes after a stage: feedback per field and held-out loss per domain, and
//! the balanced score that the reward is built from (DESIGN §4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// Version of `mixagent eval`'s JSON report (`format_version`), read by the report crate
/// without libtorch.
pub const EVAL_REPORT_VERSION: u32 = 1;

/// The model's state after a stage, as the evaluation environment measures it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// Field → mean per-token log-probability of the gold answers of its feedback suite
    /// (higher is better; negative).
    pub feedback: BTreeMap<String, f64>,
    /// Corpus domain → held-out cross-entropy in nats per token (lower is better).
    pub domain_loss: BTreeMap<String, f64>,
}

impl Observation {
    /// The feedback of `field`, if measured.
    pub fn field_feedback(&self, field: &str) -> Option<f64> {
        self.feedback.get(field).copied()
    }

    /// The change of `field`'s feedback relative to `base`, `(f − f₀) / |f₀|`, if both measured it.
    pub fn relative_change(&self, base: &Observation, field: &str) -> Option<f64> {
        let (now, start) = (self.field_feedback(field)?, base.field_feedback(field)?);
        Some((now - start) / start.abs().max(1e-9))
    }
}

/// How much the evaluation environment measures per stage (the suites' size and seed).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveConfig {
    /// Items per field's feedback suite.
    pub items_per_field: usize,
    /// Held-out windows per domain for the per-domain loss (0: no per-domain loss).
    pub heldout_windows: usize,
    /// Tokens per held-out window.
    pub heldout_seq_len: usize,
    /// Seed of the item selection.
    pub seed: u64,
    /// Sequences per forward pass.
    pub batch_size: usize,
    /// Precision of the observation's matrix products: `f32` (the default, left out of saved
    /// configs) or `bf16` / `auto` (see [`crate::Precision`]; the softmax and the scores stay
    /// float32).
    #[serde(default, skip_serializing_if = "crate::Precision::is_f32")]
    pub precision: crate::Precision,
}

/// Balanced score S (DESIGN §4): the mean over `fields` of each field's feedback change
/// relative to the base model, `(f − f₀) / |f₀|`. It is 0 at the base; +0.1 means the fields
/// gained 10% of their starting magnitude on average. Normalising by each field's own start
/// keeps one field's scale from swamping the other's. A field missing from either observation
/// is an error.
pub fn balanced_score(
    obs: &Observation,
    base: &Observation,
    fields: &[&str],
) -> Result<f64, CoreError> {
    if fields.is_empty() {
        return Err(CoreError::NoFields);
    }
    let mut sum = 0.0;
    for &f in fields {
        sum += obs
            .relative_change(base, f)
            .ok_or_else(|| CoreError::MissingFeedback(f.to_string()))?;
    }
    Ok(sum / fields.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(general: f64, math: f64) -> Observation {
        Observation {
            feedback: [("general".to_string(), general), ("math".to_string(), math)].into(),
            domain_loss: BTreeMap::new(),
        }
    }

    #[test]
    fn balanced_score_is_the_mean_relative_change() {
        let base = obs(-4.0, -8.0);
        // general loses 25% (−4 → −5), math gains 50% (−8 → −4): mean (−0.25 + 0.5) / 2.
        let s = balanced_score(&obs(-5.0, -4.0), &base, &["general", "math"]).unwrap();
        assert!((s - 0.125).abs() < 1e-12);
        assert_eq!(balanced_score(&base, &base, &["general", "math"]).unwrap(), 0.0);
        assert_eq!(
            balanced_score(&base, &base, &["code"]).unwrap_err(),
            CoreError::MissingFeedback("code".into())
        );
        assert_eq!(balanced_score(&base, &base, &[]).unwrap_err(), CoreError::NoFields);
    }
}
