//! RegMix (Liu et al. 2024, "RegMix: Data Mixture as Regression for Language Model
//! Pre-training", arXiv 2407.01492): fit a regression from many small proxy runs' mixtures to
//! the score they reached, then search the simplex for the mixture the regression scores best,
//! and train the large model on that one static mixture.
//!
//! Here the proxy runs are collected trajectories: each gives its time-averaged mixture (mapped
//! onto the deployment space through each entry's corpus domains, so a K-D collection also
//! fits a 2-D space) and its final balanced score. The regression is ridge regression on the
//! weights and their squares (RegMix uses LightGBM or a linear model; the quadratic terms let
//! it find an interior optimum such as the trade-off's inverted U), its penalty chosen by
//! leave-one-out error. The search draws `candidates` mixtures, predicts them, and averages the
//! `top_k` best, as RegMix does. RegMix draws its candidates from the distribution its proxy
//! mixtures came from; here they are random convex combinations of three proxy mixtures, so
//! the regression interpolates inside the data instead of extrapolating to corners no proxy
//! visited (with 32 proxy runs over 20 domains, whole-simplex candidates chose a 94% target
//! share that scored half as well as uniform).

use std::collections::BTreeMap;

use mixagent_core::linalg::{cholesky, cholesky_solve};
use mixagent_core::{CoreError, MixingPolicy, Mixture, PolicyInput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bad_state;

/// One proxy run: corpus domain (or field-level entry) → mean weight, and its final score.
#[derive(Debug, Clone, PartialEq)]
pub struct RegMixSample {
    /// Time-averaged weights by name.
    pub weights: BTreeMap<String, f64>,
    /// The score to maximise (final balanced score).
    pub score: f64,
}

impl RegMixSample {
    /// A finished trajectory's time-averaged mixture (by space entry) and final balanced score.
    pub fn from_trajectory(t: &mixagent_trajectory::Trajectory) -> Result<Self, CoreError> {
        let n = t.stages.len();
        if n == 0 {
            return Err(bad_state("regmix", format!("{} has no finished stage", t.id)));
        }
        let mut weights = BTreeMap::new();
        for row in &t.stages {
            for (e, w) in t.space.iter().zip(&row.weights) {
                *weights.entry(e.name.clone()).or_insert(0.0) += w / n as f64;
            }
        }
        let fields = t.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let last = &t.stages[n - 1].observation;
        let score = mixagent_core::balanced_score(last, &t.initial, &refs)
            .map_err(|e| bad_state("regmix", format!("{}: {e}", t.id)))?;
        Ok(RegMixSample { weights, score })
    }
}

/// RegMix: a static mixture chosen by a regression fitted on proxy runs.
#[derive(Debug, Clone)]
pub struct RegMix {
    samples: Vec<RegMixSample>,
    seed: u64,
    /// Candidate mixtures drawn in the search.
    pub candidates: usize,
    /// Best candidates averaged into the answer.
    pub top_k: usize,
    /// Ridge penalties tried (the one with the lowest leave-one-out error is used).
    pub ridges: Vec<f64>,
    /// The answer, computed on the first decision. Nothing needs checkpointing: the fit is
    /// deterministic in the samples and the seed (so the trait's stateless default applies).
    chosen: Option<Vec<f64>>,
}

impl RegMix {
    /// A RegMix over `samples`; the search is seeded by `seed`.
    pub fn new(samples: Vec<RegMixSample>, seed: u64) -> Self {
        let ridges = vec![1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];
        RegMix { samples, seed, candidates: 100_000, top_k: 100, ridges, chosen: None }
    }

    /// The fitted regression's prediction for `w` (weights over the space of the last fit).
    fn features(w: &[f64]) -> Vec<f64> {
        let mut x = Vec::with_capacity(2 * w.len() + 1);
        x.push(1.0);
        x.extend_from_slice(w);
        x.extend(w.iter().map(|v| v * v));
        x
    }

    /// Fits on the samples mapped onto `input`'s space and searches the simplex.
    fn fit_and_search(&self, input: &PolicyInput<'_>) -> Result<Vec<f64>, CoreError> {
        let k = input.space.len();
        if self.samples.len() < 2 {
            return Err(bad_state("regmix", "needs at least two proxy runs to fit"));
        }
        let rows: Vec<(Vec<f64>, f64)> = self
            .samples
            .iter()
            .map(|s| {
                let w: Vec<f64> = input
                    .domains
                    .iter()
                    .zip(input.space.names())
                    .map(|(info, name)| {
                        s.weights.get(name).copied().unwrap_or_else(|| {
                            info.members.iter().filter_map(|d| s.weights.get(d)).sum::<f64>()
                        })
                    })
                    .collect();
                (w, s.score)
            })
            .collect();
        // Every proxy run's whole mixture must land on this space's entries (by name, or as a
        // member of a field-level or grouped entry); mass left over means other domains.
        if let Some((s, _)) =
            self.samples.iter().zip(&rows).find(|(_, (w, _))| w.iter().sum::<f64>() < 0.99)
        {
            let held = |d: &str| {
                input.space.names().any(|n| n == d)
                    || input.domains.iter().any(|i| i.members.iter().any(|m| m == d))
            };
            let mut lost: Vec<&str> = s
                .weights
                .iter()
                .filter(|(d, &w)| w > 0.0 && !held(d))
                .map(|(d, _)| d.as_str())
                .collect();
            lost.sort_unstable();
            return Err(bad_state(
                "regmix",
                format!(
                    "the proxy runs mix over domains this space does not hold ({}): collect on the same corpus and fields",
                    lost.join(", ")
                ),
            ));
        }
        let mut best: Option<(f64, Vec<f64>)> = None;
        for &ridge in &self.ridges {
            let (beta, loo) = ridge_fit(&rows, ridge)?;
            if best.as_ref().is_none_or(|b| loo < b.0) {
                best = Some((loo, beta));
            }
        }
        let beta = best.ok_or_else(|| bad_state("regmix", "no ridge penalty to try"))?.1;
        let predict =
            |w: &[f64]| Self::features(w).iter().zip(&beta).map(|(x, b)| x * b).sum::<f64>();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut scored: Vec<(f64, Vec<f64>)> = (0..self.candidates.max(1))
            .map(|_| {
                // A random convex combination of three proxy mixtures (uniform on the triangle).
                let e: Vec<f64> = (0..3).map(|_| -(rng.gen::<f64>().max(1e-300)).ln()).collect();
                let z: f64 = e.iter().sum();
                let mut w = vec![0.0; k];
                for lambda in e {
                    let (row, _) = &rows[rng.gen_range(0..rows.len())];
                    let total: f64 = row.iter().sum::<f64>().max(1e-12);
                    w.iter_mut().zip(row).for_each(|(x, r)| *x += lambda / z * r / total);
                }
                (predict(&w), w)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let top = &scored[..self.top_k.clamp(1, scored.len())];
        let mut mean = vec![0.0; k];
        for (_, w) in top {
            mean.iter_mut().zip(w).for_each(|(m, x)| *m += x / top.len() as f64);
        }
        Ok(mean)
    }
}

/// Ridge regression on quadratic features by the normal equations (Cholesky); returns the
/// coefficients and the leave-one-out squared error (from the hat matrix's diagonal, without
/// refitting).
fn ridge_fit(rows: &[(Vec<f64>, f64)], ridge: f64) -> Result<(Vec<f64>, f64), CoreError> {
    let xs: Vec<Vec<f64>> = rows.iter().map(|(w, _)| RegMix::features(w)).collect();
    let p = xs[0].len();
    let mut a = vec![0.0; p * p];
    let mut b = vec![0.0; p];
    for (x, (_, y)) in xs.iter().zip(rows) {
        for i in 0..p {
            b[i] += x[i] * y;
            for j in 0..p {
                a[i * p + j] += x[i] * x[j];
            }
        }
    }
    // The intercept is not penalised.
    for i in 1..p {
        a[i * p + i] += ridge * rows.len() as f64;
    }
    let l = cholesky(&a, p)
        .ok_or_else(|| bad_state("regmix", "the regression is singular: give more proxy runs"))?;
    let beta = cholesky_solve(&l, p, &b);
    let mut loo = 0.0;
    for (x, (_, y)) in xs.iter().zip(rows) {
        let fit: f64 = x.iter().zip(&beta).map(|(x, b)| x * b).sum();
        let h: f64 = x.iter().zip(cholesky_solve(&l, p, x)).map(|(x, s)| x * s).sum();
        loo += ((y - fit) / (1.0 - h).max(1e-9)).powi(2);
    }
    Ok((beta, loo / rows.len() as f64))
}

impl MixingPolicy for RegMix {
    fn reads_feedback(&self) -> bool {
        false
    }

    fn name(&self) -> String {
        "regmix".into()
    }

    fn identity(&self) -> String {
        let text = format!("{:?}", self.samples);
        format!("regmix {} runs {}", self.samples.len(), mixagent_core::fnv64_hex(text.as_bytes()))
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let w = match &self.chosen {
            Some(w) if w.len() == input.space.len() => w.clone(),
            _ => {
                let w = self.fit_and_search(input)?;
                self.chosen = Some(w.clone());
                w
            }
        };
        Mixture::from_unnormalised(input.space.clone(), w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, Fixture};

    #[test]
    fn recovers_the_optimum_of_a_quadratic_score() {
        // Score = −(w_math − 0.3)²: the best static mixture has 30% math.
        let samples: Vec<RegMixSample> = (0..=10)
            .map(|i| {
                let m = i as f64 / 10.0;
                RegMixSample {
                    weights: [("general".into(), 1.0 - m), ("math".into(), m)].into(),
                    score: -(m - 0.3) * (m - 0.3),
                }
            })
            .collect();
        let f = Fixture::two_d();
        let mut r = RegMix::new(samples.clone(), 0);
        r.candidates = 20_000;
        r.top_k = 20;
        let w = r.next_mixture(&fixture_input(&f, &[])).unwrap();
        assert!((w.weights()[1] - 0.3).abs() < 0.01, "{:?}", w.weights());
        // Fitted on K-D names, it also steers the field-level space (sums over members).
        let kd: Vec<RegMixSample> = samples
            .iter()
            .map(|s| RegMixSample {
                weights: [("g0".into(), s.weights["general"]), ("m0".into(), s.weights["math"])]
                    .into(),
                score: s.score,
            })
            .collect();
        let mut r = RegMix::new(kd, 0);
        r.candidates = 20_000;
        r.top_k = 20;
        let mut f2 = Fixture::two_d();
        f2.domains[0].members = vec!["g0".into()];
        f2.domains[1].members = vec!["m0".into()];
        let w = r.next_mixture(&fixture_input(&f2, &[])).unwrap();
        assert!((w.weights()[1] - 0.3).abs() < 0.01, "{:?}", w.weights());
        // Proxy mass on a domain no entry holds is refused by name, not dropped.
        f2.domains[1].members = vec!["m1".into()];
        let mut r = RegMix::new(r.samples.clone(), 0);
        let e = r.next_mixture(&fixture_input(&f2, &[])).unwrap_err().to_string();
        assert!(e.contains("does not hold (m0)"), "{e}");
    }
}
