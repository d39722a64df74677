//! Learning-rate schedules: linear warmup, then cosine decay or warmup-stable-decay (WSD).

use serde::{Deserialize, Serialize};

/// The decay shape after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrShape {
    /// Cosine from the peak to `min_ratio × peak` at the last step.
    Cosine,
    /// Constant at the peak, then linear decay to `min_ratio × peak` over the last
    /// `decay_fraction` of the steps (MiniCPM's WSD).
    Wsd {
        /// Share of all steps spent decaying.
        decay_fraction: f64,
    },
}

/// A schedule over a known number of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub peak: f64,
    /// Floor as a fraction of the peak.
    pub min_ratio: f64,
    /// Linear warmup steps.
    pub warmup_steps: u64,
    /// Total steps.
    pub total_steps: u64,
    /// Shape after warmup.
    pub shape: LrShape,
}

impl LrSchedule {
    /// Learning rate at step `step` (0-based).
    pub fn at(&self, step: u64) -> f64 {
        let min = self.peak * self.min_ratio;
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        match self.shape {
            LrShape::Cosine => {
                min + (self.peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            LrShape::Wsd { decay_fraction } => {
                let start = 1.0 - decay_fraction.clamp(0.0, 1.0);
                if progress < start {
                    self.peak
                } else {
                    self.peak - (self.peak - min) * (progress - start) / (1.0 - start).max(1e-12)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_cosine_and_wsd_hit_their_endpoints() {
        let cos = LrSchedule {
            peak: 1.0,
            min_ratio: 0.1,
            warmup_steps: 10,
            total_steps: 110,
            shape: LrShape::Cosine,
        };
        assert!((cos.at(0) - 0.1).abs() < 1e-12);
        assert!((cos.at(9) - 1.0).abs() < 1e-12);
        assert!((cos.at(10) - 1.0).abs() < 1e-12);
        assert!((cos.at(60) - 0.55).abs() < 1e-12);
        assert!((cos.at(110) - 0.1).abs() < 1e-12);
        let wsd = LrSchedule { shape: LrShape::Wsd { decay_fraction: 0.2 }, ..cos };
        assert_eq!(wsd.at(50), 1.0);
        assert!((wsd.at(100) - 0.55).abs() < 1e-12);
        assert!((wsd.at(110) - 0.1).abs() < 1e-12);
    }
}
