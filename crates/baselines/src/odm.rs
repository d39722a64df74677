//! ODM, online data mixing (Albalak et al. 2023, "Efficient Online Data Mixing For Language
//! Model Pre-Training", arXiv 2312.02406): an EXP3 multi-armed bandit whose arms are the
//! domains. With `K` arms and exploration `εₜ = min(1/K, √(ln K / (K·t)))`, the mixture is
//! `πₜ = (1 − K·εₜ)·softmax(εₜ₋₁·R̂) + εₜ`. ODM updates after every optimizer step; here the
//! rewards arrive once per stage, and `t` counts the optimizer steps trained so far, so the
//! exploration decays as in ODM (with 20 domains the mixture is uniform until about 60 steps). After a stage, each arm's reward — here
//! the reduction of its held-out loss over the stage, as the issue asks, where ODM uses the
//! training loss — enters an importance-weighted, smoothed estimate
//! `R̂ᵢ ← α·R̂ᵢ + (1 − α)·rᵢ / πᵢ`.

use mixagent_core::{CoreError, MixingPolicy, Mixture, PolicyInput};
use serde::{Deserialize, Serialize};

use crate::bad_state;
use crate::reference::entry_losses;

/// The bandit's state between stages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    /// Reward estimates R̂.
    estimates: Vec<f64>,
    /// The mixture of the last stage (the arms' sampling probabilities).
    last: Vec<f64>,
    /// Stages decided so far.
    t: usize,
}

/// Online data mixing.
#[derive(Debug, Clone)]
pub struct Odm {
    smoothing: f64,
    state: Option<State>,
}

impl Odm {
    /// ODM with reward smoothing `α` (the paper: 0.9).
    pub fn new(smoothing: f64) -> Self {
        Odm { smoothing, state: None }
    }
}

/// EXP3 exploration rate at stage `t` (1-based) over `k` arms.
fn exploration(k: usize, t: usize) -> f64 {
    let k = k as f64;
    (1.0 / k).min((k.ln() / (k * t as f64)).sqrt())
}

impl MixingPolicy for Odm {
    fn name(&self) -> String {
        "odm".into()
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let k = input.space.len();
        let mut s = match self.state.take() {
            Some(s) if s.estimates.len() == k => s,
            _ => State { estimates: vec![0.0; k], last: vec![1.0 / k as f64; k], t: 0 },
        };
        // Rewards of the stage just finished: each entry's held-out loss reduction.
        if s.t > 0 {
            if let Some(last) = input.history.last() {
                let before = input
                    .history
                    .len()
                    .checked_sub(2)
                    .map_or(input.initial, |i| &input.history[i].observation);
                let l0 = entry_losses("odm", input, before)?;
                let l1 = entry_losses("odm", input, &last.observation)?;
                for i in 0..k {
                    // No held-out data for an entry: no reward signal this stage.
                    let (Some(a), Some(b)) = (l0[i], l1[i]) else { continue };
                    let r = (a - b) / s.last[i].max(1e-12);
                    s.estimates[i] = self.smoothing * s.estimates[i] + (1.0 - self.smoothing) * r;
                }
            }
        }
        s.t += 1;
        // Updates ODM would have made by now: one per optimizer step of the finished stages.
        let per = input.steps_per_stage.max(1) as usize;
        let eps = exploration(k, (s.t - 1) * per + 1);
        let eps_prev = if s.t > 1 { exploration(k, (s.t - 2) * per + 1) } else { eps };
        let max = s.estimates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = s.estimates.iter().map(|r| (eps_prev * (r - max)).exp()).collect();
        let z: f64 = e.iter().sum();
        let pi: Vec<f64> = e.iter().map(|x| (1.0 - k as f64 * eps) * x / z + eps).collect();
        s.last = pi.clone();
        self.state = Some(s);
        Mixture::from_unnormalised(input.space.clone(), pi)
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("serialisable")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), CoreError> {
        self.state = serde_json::from_value(state)
            .map_err(|e| bad_state("odm", format!("not an ODM state: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, simulate, Fixture};

    #[test]
    fn exp3_update_by_hand() {
        // 2-D fixture. Stage 1 (t = 1): ε₁ = min(½, √(ln2/2)) = ½, so π₁ = (1 − 2·½)·… + ½ = (½, ½).
        let f = Fixture::two_d();
        let mut p = Odm::new(0.9);
        let m0 = p.next_mixture(&fixture_input(&f, &[])).unwrap();
        assert_eq!(m0.weights(), &[0.5, 0.5]);
        // The simulated stage lowers general's loss by 0.3·½ = 0.15 and math's by 0.16:
        // R̂ = 0.1·(0.15/½, 0.16/½) = (0.03, 0.032). The fixture's stages have 10 optimizer
        // steps, so stage 2 explores at t = 11: ε = √(ln2/22) = 0.17750, and
        // π = (1 − 2ε)·softmax(ε₁·R̂) + ε with ε₁ = ½ (t = 1).
        let history = vec![simulate(&f, &[], &m0)];
        let m1 = p.next_mixture(&fixture_input(&f, &history)).unwrap();
        let e2 = (2f64.ln() / 22.0).sqrt();
        let (a, b) = ((0.5f64 * 0.03).exp(), (0.5f64 * 0.032).exp());
        let expect = (1.0 - 2.0 * e2) * a / (a + b) + e2;
        assert!((m1.weights()[0] - expect).abs() < 1e-12, "{:?} vs {expect}", m1.weights());
        assert!(m1.weights()[1] > m1.weights()[0], "the arm whose loss fell more gains");
    }
}
