//! The reward the agent is trained on (DESIGN §4): the change of the balanced score
//! S = mean over fields of (f − f₀)/|f₀|, minus an optional penalty while the source field's
//! feedback is more than `tolerance` (relative) below its start.

use mixagent_core::{balanced_score, CoreError, Observation};
use serde::{Deserialize, Serialize};

/// How rewards are computed and discounted; written into the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardConfig {
    /// Discount γ. Default 1: the sum of the rewards is then the final balanced score, the
    /// objective (DESIGN §11); on held-out demo proxy runs 0.95 let the actor run to a 90%
    /// target share and lost to uniform, 1.0 held about 40% and tied it (RESULTS.md).
    pub gamma: f64,
    /// Relative drop of the source feedback allowed before the penalty starts (e.g. 0.05).
    pub source_tolerance: f64,
    /// Penalty per unit of relative drop beyond the tolerance, per stage (0: no penalty).
    pub source_penalty: f64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        RewardConfig { gamma: 1.0, source_tolerance: 0.05, source_penalty: 0.0 }
    }
}

impl RewardConfig {
    /// Reward of the stage that moved the model from `before` to `after`; `fields` lists the
    /// fields, source first. An error when a field's feedback is missing.
    pub fn reward(
        &self,
        base: &Observation,
        before: &Observation,
        after: &Observation,
        fields: &[&str],
    ) -> Result<f64, CoreError> {
        let gain = balanced_score(after, base, fields)? - balanced_score(before, base, fields)?;
        let source = fields.first().ok_or(CoreError::NoFields)?;
        let missing = || CoreError::MissingFeedback(source.to_string());
        let f0 = base.field_feedback(source).ok_or_else(missing)?;
        let f = after.field_feedback(source).ok_or_else(missing)?;
        let drop = (f0 - f) / f0.abs().max(1e-9);
        Ok(gain - self.source_penalty * (drop - self.source_tolerance).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(g: f64, m: f64) -> Observation {
        Observation {
            feedback: [("general".into(), g), ("math".into(), m)].into(),
            domain_loss: Default::default(),
        }
    }

    #[test]
    fn reward_is_the_balanced_gain_minus_the_source_penalty() {
        let base = obs(-4.0, -8.0);
        let fields = ["general", "math"];
        let plain = RewardConfig::default();
        // S: 0 → ((−4.4+4)/4 + (−6+8)/8)/2 = (−0.1 + 0.25)/2 = 0.075.
        let r = plain.reward(&base, &base, &obs(-4.4, -6.0), &fields).unwrap();
        assert!((r - 0.075).abs() < 1e-12);
        // Source down 10%, tolerance 5%: penalty 2 × 0.05 = 0.1.
        let strict = RewardConfig { source_penalty: 2.0, ..plain };
        let r = strict.reward(&base, &base, &obs(-4.4, -6.0), &fields).unwrap();
        assert!((r - (0.075 - 0.1)).abs() < 1e-12);
        assert_eq!(
            plain.reward(&base, &base, &base, &["code"]).unwrap_err(),
            CoreError::MissingFeedback("code".into())
        );
    }
}
