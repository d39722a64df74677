//! DBL, dynamic batch loading (Xia et al. 2023, "Sheared LLaMA: Accelerating Language Model
//! Pre-training via Structured Pruning", arXiv 2310.06694, Algorithm 1): after each interval
//! (here a stage), the excess loss of every domain over its reference, `Δᵢ = max(Lᵢ − refᵢ, 0)`,
//! raises its weight multiplicatively: `wᵢ ← wᵢ·exp(η·Δᵢ)`, renormalised. Domains that lag
//! their reference get more data. The first stage uses the natural mixture (each entry's
//! share of the tokens, field shares equal).

use mixagent_core::{spread_over_fields, CoreError, MixingPolicy, Mixture, PolicyInput};
use serde_json::json;

use crate::bad_state;
use crate::reference::{entry_losses, Reference};

/// Dynamic batch loading.
#[derive(Debug, Clone)]
pub struct Dbl {
    reference: Reference,
    eta: f64,
    weights: Option<Vec<f64>>,
}

impl Dbl {
    /// DBL against `reference` with step size `eta` (Sheared LLaMA uses 1).
    pub fn new(reference: Reference, eta: f64) -> Self {
        Dbl { reference, eta, weights: None }
    }
}

/// `w ⊙ exp(η·max(L − ref, 0))`, normalised; an entry without a loss has no excess.
pub(crate) fn excess_update(
    w: &[f64],
    loss: &[Option<f64>],
    reference: &[f64],
    eta: f64,
) -> Vec<f64> {
    let v: Vec<f64> = w
        .iter()
        .zip(loss.iter().zip(reference))
        .map(|(w, (l, r))| match l {
            Some(l) if r.is_finite() => w * (eta * (l - r).max(0.0)).exp(),
            _ => *w,
        })
        .collect();
    let sum: f64 = v.iter().sum();
    v.iter().map(|x| x / sum).collect()
}

impl MixingPolicy for Dbl {
    fn name(&self) -> String {
        "dbl".into()
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let fields = input.space.fields().len() as f64;
        let w = match (&self.weights, input.history.last()) {
            (Some(w), Some(last)) if w.len() == input.space.len() => {
                let loss = entry_losses("dbl", input, &last.observation)?;
                let reference = self.reference.losses("dbl", input)?;
                excess_update(w, &loss, &reference, self.eta)
            }
            _ => spread_over_fields(input, |_| 1.0 / fields)?.weights().to_vec(),
        };
        self.weights = Some(w.clone());
        Mixture::from_unnormalised(input.space.clone(), w)
    }

    fn state(&self) -> serde_json::Value {
        json!({ "weights": self.weights })
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), CoreError> {
        let w = state
            .get("weights")
            .ok_or_else(|| bad_state("dbl", format!("expected {{\"weights\": …}}, got {state}")))?;
        self.weights = serde_json::from_value(w.clone())
            .map_err(|e| bad_state("dbl", format!("weights: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lagging_domains_gain_weight_by_hand() {
        // w = (½, ½), losses (3.0, 2.0), references (2.5, 2.5), η = 1: Δ = (0.5, 0), so
        // w ∝ (½e^0.5, ½) = (0.62246, 0.37754).
        let w = excess_update(&[0.5, 0.5], &[Some(3.0), Some(2.0)], &[2.5, 2.5], 1.0);
        let e = 0.5f64.exp();
        assert!((w[0] - e / (e + 1.0)).abs() < 1e-12 && (w[0] - 0.62246).abs() < 1e-5, "{w:?}");
        assert!((w[0] + w[1] - 1.0).abs() < 1e-12);
        // A domain without held-out loss keeps its weight relative to the unmoved ones.
        let w =
            excess_update(&[0.25, 0.25, 0.5], &[None, Some(2.0), Some(3.0)], &[2.0, 2.0, 2.0], 1.0);
        assert!((w[0] / w[1] - 1.0).abs() < 1e-12 && w[2] > 0.5, "{w:?}");
    }
}
