//! DoReMi (Xie et al. 2023, "DoReMi: Optimizing Data Mixtures Speeds Up Language Model
//! Pre-training", arXiv 2305.10429, Algorithm 1): domain weights follow exponentiated-gradient
//! ascent on the excess loss against a reference model, `αᵢ ← αᵢ·exp(η·max(Lᵢ − refᵢ, 0))`,
//! renormalised and smoothed towards uniform, `α ← (1 − c)·α + c/K`; the weights DoReMi hands
//! on are the average of the α over training, so each stage here trains on the running
//! average of the α so far (starting from the natural mixture).

use mixagent_core::{spread_over_fields, CoreError, MixingPolicy, Mixture, PolicyInput};
use serde::{Deserialize, Serialize};

use crate::bad_state;
use crate::dbl::excess_update;
use crate::reference::{entry_losses, Reference};

/// DoReMi's online state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    /// Current α.
    alpha: Vec<f64>,
    /// Sum of the α so far, and how many.
    sum: Vec<f64>,
    count: usize,
}

/// DoReMi.
#[derive(Debug, Clone)]
pub struct DoReMi {
    reference: Reference,
    eta: f64,
    smoothing: f64,
    state: Option<State>,
}

impl DoReMi {
    /// DoReMi against `reference`, step size `eta` (the paper: 1) and smoothing `c` (1e-3).
    pub fn new(reference: Reference, eta: f64, smoothing: f64) -> Self {
        DoReMi { reference, eta, smoothing, state: None }
    }
}

impl MixingPolicy for DoReMi {
    fn name(&self) -> String {
        "doremi".into()
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let k = input.space.len();
        let state = match (self.state.take(), input.history.last()) {
            (Some(mut s), Some(last)) if s.alpha.len() == k => {
                let loss = entry_losses("doremi", input, &last.observation)?;
                let reference = self.reference.losses("doremi", input)?;
                let a = excess_update(&s.alpha, &loss, &reference, self.eta);
                s.alpha = a
                    .iter()
                    .map(|x| (1.0 - self.smoothing) * x + self.smoothing / k as f64)
                    .collect();
                s.sum.iter_mut().zip(&s.alpha).for_each(|(m, a)| *m += a);
                s.count += 1;
                s
            }
            _ => {
                let fields = input.space.fields().len() as f64;
                let alpha = spread_over_fields(input, |_| 1.0 / fields)?.weights().to_vec();
                State { sum: alpha.clone(), alpha, count: 1 }
            }
        };
        let average: Vec<f64> = state.sum.iter().map(|s| s / state.count as f64).collect();
        self.state = Some(state);
        Mixture::from_unnormalised(input.space.clone(), average)
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("serialisable")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), CoreError> {
        self.state = serde_json::from_value(state)
            .map_err(|e| bad_state("doremi", format!("not a DoReMi state: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, simulate, Fixture};

    #[test]
    fn plays_the_running_average_of_alpha_by_hand() {
        // 2-D fixture, natural start α₀ = (½, ½). After stage 0 (simulated at α₀) the losses
        // are general 4 − 0.3·½ = 3.85 and math 4 − 0.3·½ − 0.01 = 3.84; references from the
        // base with target_gain 0.25: (4, 3). Δ = (0, 0.84), so α₁ ∝ (½, ½e^0.84) (c = 0),
        // and stage 1 plays (α₀ + α₁)/2.
        let f = Fixture::two_d();
        let mut p = DoReMi::new(Reference::FromBase { target_gain: 0.25 }, 1.0, 0.0);
        let m0 = p.next_mixture(&fixture_input(&f, &[])).unwrap();
        assert_eq!(m0.weights(), &[0.5, 0.5]);
        let history = vec![simulate(&f, &[], &m0)];
        let m1 = p.next_mixture(&fixture_input(&f, &history)).unwrap();
        let e = 0.84f64.exp();
        let a1 = 1.0 / (1.0 + e);
        let expect = (0.5 + a1) / 2.0;
        assert!((m1.weights()[0] - expect).abs() < 1e-9, "{:?} vs {expect}", m1.weights());
    }
}
