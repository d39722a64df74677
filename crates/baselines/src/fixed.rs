//! Fixed source/target ratios, the hand-made mixtures practitioners use for continual
//! pre-training (e.g. 0.9/0.1 replay of the source field): the source field gets `source`, the
//! target fields share the rest equally, and within a field entries are weighted by their
//! share of the field's training tokens (the natural mixture). Target-only is `source = 0`.

use mixagent_core::{spread_over_fields, CoreError, MixingPolicy, Mixture, PolicyInput};

use crate::bad_state;

/// A static source share.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedRatio {
    source: f64,
}

impl FixedRatio {
    /// `source` in [0, 1]: the share of the source field (the space's first field).
    pub fn new(source: f64) -> Result<Self, CoreError> {
        if !(0.0..=1.0).contains(&source) {
            return Err(bad_state("fixed", format!("source share {source} must be in [0, 1]")));
        }
        Ok(FixedRatio { source })
    }

    /// Everything on the target fields.
    pub fn target_only() -> Self {
        FixedRatio { source: 0.0 }
    }
}

impl MixingPolicy for FixedRatio {
    fn reads_feedback(&self) -> bool {
        false
    }

    fn name(&self) -> String {
        if self.source == 0.0 {
            "target-only".into()
        } else {
            format!("fixed-{}", self.source)
        }
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let targets = input.space.fields().len().saturating_sub(1);
        if targets == 0 && self.source < 1.0 {
            return Err(bad_state(
                &self.name(),
                "the space has only the source field: add a target field to the space",
            ));
        }
        let source = self.source;
        spread_over_fields(input, |f| if f == 0 { source } else { (1.0 - source) / targets as f64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, Fixture};

    #[test]
    fn source_share_then_natural_shares_within_each_field() {
        // K-D fixture: general g0..g2 with token shares 0.5, 0.3, 0.2; math m0..m2 with 0.6,
        // 0.3, 0.1. Source 0.7: g = 0.7·(0.5, 0.3, 0.2), m = 0.3·(0.6, 0.3, 0.1).
        let f = Fixture::k_d();
        let m = FixedRatio::new(0.7).unwrap().next_mixture(&fixture_input(&f, &[])).unwrap();
        let expect = [0.35, 0.21, 0.14, 0.18, 0.09, 0.03];
        for (w, e) in m.weights().iter().zip(expect) {
            assert!((w - e).abs() < 1e-12, "{:?}", m.weights());
        }
        let f2 = Fixture::two_d();
        let t = FixedRatio::target_only().next_mixture(&fixture_input(&f2, &[])).unwrap();
        assert_eq!(t.weights(), &[0.0, 1.0]);
        assert!(FixedRatio::new(1.5).is_err());
    }
}
