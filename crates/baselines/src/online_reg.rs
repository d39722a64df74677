//! An online regression mixer: during the run it is steering, it regresses each finished
//! stage's gain of the balanced score on that stage's mixture and moves toward the mixture the
//! fit predicts to be better. It learns nothing before the run (unlike RegMix, which fits proxy
//! runs, and the agent, which learns from trajectories), so it shows how much a model's own
//! feedback alone can steer.
//!
//! After stages `s = 1..t` with mixtures `wₛ` and rewards `rₛ = S(obsₛ) − S(obsₛ₋₁)` (S the
//! balanced score against the start), it fits by ridge regression
//!
//! `rₛ ≈ a + b·s/T + Σᵢ βᵢ·K·(wₛᵢ − 1/K)`
//!
//! with the intercept `a` and the time trend `b` (gains shrink as training goes on) left
//! unpenalised and `λ·|β|²` on the mixture coefficients. The features sum to zero over the
//! entries, so the ridge solution has `Σβᵢ = 0`. The next mixture takes one exponentiated-
//! gradient step from the last one inside a trust region, then mixes in a seeded exploration
//! draw so the fit keeps varied mixtures to learn from:
//!
//! `w' ∝ wₜ ⊙ exp(η·β / max|β|)`, `wₜ₊₁ = (1 − ε)·w' + ε·d`, `d ~ Dirichlet(1, …, 1)`.
//!
//! Before renormalising, each weight's step is at most a factor `e^η` (so after it, at most
//! `e^2η`); exploration must be positive, or a run that starts uniform stays there (three
//! stages of one mixture give the fit nothing to learn from). The first stage is
//! uniform (plus exploration). The policy keeps no state: every decision is a function of the
//! run's history and the seed.

use mixagent_core::seed::derive;
use mixagent_core::{balanced_score, CoreError, MixingPolicy, Mixture, PolicyInput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The online regression mixer.
#[derive(Debug, Clone)]
pub struct OnlineReg {
    /// Trust region: the largest log-factor a weight moves by per stage (0.5).
    pub eta: f64,
    /// Share of each mixture drawn at random, in [0, 1) (0.2).
    pub explore: f64,
    /// Ridge penalty λ on the mixture coefficients (1.0).
    pub ridge: f64,
    seed: u64,
}

impl OnlineReg {
    /// The mixer with step `eta`, exploration share `explore` and ridge penalty `ridge`, whose
    /// exploration draws come from `seed`.
    pub fn new(eta: f64, explore: f64, ridge: f64, seed: u64) -> Self {
        OnlineReg { eta, explore, ridge, seed }
    }
}

/// Fits `r ≈ Zθ` by least squares with `penalty[j]·θⱼ²` added: solves
/// `(ZᵀZ + diag(penalty))·θ = Zᵀr`. `None` when the system is singular.
pub(crate) fn ridge_fit(rows: &[Vec<f64>], r: &[f64], penalty: &[f64]) -> Option<Vec<f64>> {
    let n = penalty.len();
    let mut a = vec![vec![0.0; n + 1]; n];
    for (z, &y) in rows.iter().zip(r) {
        for i in 0..n {
            for j in 0..n {
                a[i][j] += z[i] * z[j];
            }
            a[i][n] += z[i] * y;
        }
    }
    for (i, p) in penalty.iter().enumerate() {
        a[i][i] += p;
    }
    // Gaussian elimination with partial pivoting on the augmented matrix.
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let (done, rest) = a.split_at_mut(col + 1);
        let pivot_row = &done[col];
        for row in rest {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
        }
    }
    let mut theta = vec![0.0; n];
    for i in (0..n).rev() {
        let tail: f64 = (i + 1..n).map(|k| a[i][k] * theta[k]).sum();
        theta[i] = (a[i][n] - tail) / a[i][i];
    }
    Some(theta)
}

impl OnlineReg {
    /// The fitted mixture coefficients β after the run's finished stages: zeros before three,
    /// as the intercept and the trend fit two stages exactly.
    pub fn coefficients(&self, input: &PolicyInput<'_>) -> Result<Vec<f64>, CoreError> {
        let k = input.space.len();
        if input.history.len() < 3 {
            return Ok(vec![0.0; k]);
        }
        let fields = input.space.fields();
        let fields: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
        let total = input.total_stages.max(input.history.len()) as f64;
        let mut before = balanced_score(input.initial, input.initial, &fields)?;
        let (mut rows, mut rewards) = (Vec::new(), Vec::new());
        for (s, stage) in input.history.iter().enumerate() {
            stage.mixture.check_space(input.space)?;
            let after = balanced_score(&stage.observation, input.initial, &fields)?;
            rewards.push(after - before);
            before = after;
            let mut z = vec![1.0, (s + 1) as f64 / total];
            z.extend(stage.mixture.weights().iter().map(|w| k as f64 * (w - 1.0 / k as f64)));
            rows.push(z);
        }
        let mut penalty = vec![self.ridge; k + 2];
        // The intercept and the trend are unpenalised but for a hair, which keeps the system
        // solvable when every stage so far had the same mixture.
        penalty[0] = 1e-9;
        penalty[1] = 1e-9;
        let theta = ridge_fit(&rows, &rewards, &penalty).ok_or_else(|| CoreError::Policy {
            policy: self.name(),
            message: format!(
                "the regression over {} stages is singular: give a larger ridge (now {})",
                rows.len(),
                self.ridge
            ),
        })?;
        Ok(theta[2..].to_vec())
    }
}

impl MixingPolicy for OnlineReg {
    fn name(&self) -> String {
        "online-reg".into()
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let k = input.space.len();
        let last = match input.history.last() {
            Some(stage) => stage.mixture.weights().to_vec(),
            None => vec![1.0 / k as f64; k],
        };
        let beta = self.coefficients(input)?;
        let scale = beta.iter().fold(0.0f64, |m, b| m.max(b.abs()));
        let stepped: Vec<f64> = if scale > 0.0 {
            last.iter().zip(&beta).map(|(w, b)| w * (self.eta * b / scale).exp()).collect()
        } else {
            last
        };
        let sum: f64 = stepped.iter().sum();
        let mut rng = ChaCha8Rng::seed_from_u64(derive(
            self.seed,
            "online-reg.explore",
            input.history.len() as u64,
        ));
        let draw: Vec<f64> = (0..k).map(|_| -(1.0 - rng.gen::<f64>()).ln()).collect();
        let draw_sum: f64 = draw.iter().sum();
        let w = stepped
            .iter()
            .zip(&draw)
            .map(|(s, d)| (1.0 - self.explore) * s / sum + self.explore * d / draw_sum)
            .collect();
        Mixture::new(input.space.clone(), w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, simulate, Fixture};
    use mixagent_core::{Observation, StageOutcome};

    #[test]
    fn ridge_fit_by_hand() {
        // One coefficient, r = 2z on z = 1, 2 (Σz² = 5, Σzr = 10): λ = 0 gives 2, λ = 5 gives
        // 10 / (5 + 5) = 1.
        let rows = vec![vec![1.0], vec![2.0]];
        assert!((ridge_fit(&rows, &[2.0, 4.0], &[0.0]).unwrap()[0] - 2.0).abs() < 1e-12);
        assert!((ridge_fit(&rows, &[2.0, 4.0], &[5.0]).unwrap()[0] - 1.0).abs() < 1e-12);
        assert!(ridge_fit(&[vec![0.0]], &[1.0], &[0.0]).is_none());
    }

    /// Stages over the K-D fixture whose balanced gains are exactly
    /// `0.01 − 0.004·s/T + Σ βᵢ·K·(wᵢ − 1/K)` for the given β (Σβ = 0).
    fn linear_history(f: &Fixture, beta: &[f64], mixtures: &[Vec<f64>]) -> Vec<StageOutcome> {
        let k = beta.len() as f64;
        let mut score = 0.0;
        let mut out = Vec::new();
        for (s, w) in mixtures.iter().enumerate() {
            let x: f64 = beta.iter().zip(w).map(|(b, w)| b * k * (w - 1.0 / k)).sum();
            score += 0.01 - 0.004 * (s + 1) as f64 / mixtures.len() as f64 + x;
            // S = mean of the relative changes; put it all on general (f₀ = −3) and math
            // (f₀ = −6) equally: f = f₀ + S·|f₀|.
            let observation = Observation {
                feedback: [
                    ("general".into(), -3.0 + 3.0 * score),
                    ("math".into(), -6.0 + 6.0 * score),
                ]
                .into(),
                domain_loss: f.initial.domain_loss.clone(),
            };
            let mixture = Mixture::new(f.space.clone(), w.clone()).unwrap();
            out.push(StageOutcome { mixture, observation, tokens: 1000 });
        }
        out
    }

    #[test]
    fn recovers_a_linear_response_and_steps_toward_it() {
        let f = Fixture::k_d();
        let beta = [0.03, -0.01, -0.02, 0.02, 0.0, -0.02];
        let mixtures = vec![
            vec![0.3, 0.1, 0.1, 0.2, 0.2, 0.1],
            vec![0.1, 0.3, 0.1, 0.1, 0.2, 0.2],
            vec![0.1, 0.1, 0.3, 0.2, 0.1, 0.2],
            vec![0.2, 0.2, 0.1, 0.3, 0.1, 0.1],
            vec![0.1, 0.2, 0.2, 0.1, 0.3, 0.1],
            vec![0.2, 0.1, 0.2, 0.1, 0.1, 0.3],
            vec![0.15, 0.15, 0.2, 0.2, 0.15, 0.15],
            vec![0.25, 0.05, 0.15, 0.15, 0.25, 0.15],
        ];
        let history = linear_history(&f, &beta, &mixtures);
        // A vanishing penalty recovers β exactly: eight stages for the intercept, the trend and
        // the five directions of mixture change (the sixth, all weights up, does not exist).
        let p = OnlineReg::new(0.5, 0.0, 1e-10, 0);
        let fitted = p.coefficients(&fixture_input(&f, &history)).unwrap();
        for (b, want) in fitted.iter().zip(beta) {
            assert!((b - want).abs() < 1e-6, "{fitted:?} vs {beta:?}");
        }
        // The step, by hand: max|β| = 0.03, so w' ∝ w₈ ⊙ exp(0.5·β/0.03).
        let mut p = p;
        let next = p.next_mixture(&fixture_input(&f, &history)).unwrap();
        let v: Vec<f64> =
            mixtures[7].iter().zip(beta).map(|(w, b)| w * (0.5 * b / 0.03).exp()).collect();
        let z: f64 = v.iter().sum();
        for (got, v) in next.weights().iter().zip(&v) {
            assert!((got - v / z).abs() < 1e-6, "{:?}", next.weights());
        }
        // A heavier penalty shrinks β in norm (to 0.7 of it here), its direction kept, its sum
        // still zero.
        let shrunk = OnlineReg::new(0.5, 0.0, 1.0, 0).coefficients(&fixture_input(&f, &history));
        let shrunk = shrunk.unwrap();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let cos =
            shrunk.iter().zip(beta).map(|(s, b)| s * b).sum::<f64>() / norm(&shrunk) / norm(&beta);
        assert!(norm(&shrunk) < 0.8 * norm(&beta) && cos > 0.95, "{shrunk:?}");
        assert!(shrunk.iter().sum::<f64>().abs() < 1e-9, "{shrunk:?}");
    }

    #[test]
    fn in_the_simulated_run_it_moves_toward_math() {
        // The conformance simulation rewards the math share (its balanced gain grows with it).
        let f = Fixture::two_d();
        let mut p = OnlineReg::new(0.5, 0.2, 1e-3, 3);
        let mut history = Vec::new();
        for _ in 0..6 {
            let m = p.next_mixture(&fixture_input(&f, &history)).unwrap();
            history.push(simulate(&f, &history, &m));
        }
        let math = |s: &StageOutcome| s.mixture.weights()[1];
        assert!(math(&history[5]) > 0.6, "{:?}", history.iter().map(math).collect::<Vec<_>>());
    }
}
