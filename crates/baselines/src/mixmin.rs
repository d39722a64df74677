//! MixMin (Thudi et al. 2025, "MixMin: Finding Data Mixtures via Convex Minimization",
//! arXiv 2502.10510): train one proxy per entry of the space on that entry alone, then choose
//! the mixture λ whose *ensemble* of proxies, `p_λ = Σᵢ λᵢ·pᵢ`, scores best on the target
//! data. The paper shows that for models near the Bayes optimum the model trained on mixture
//! λ is that ensemble, so the search over mixtures becomes a convex problem over the simplex
//! that needs no further training.
//!
//! Here the target data are the feedback suites and the objective is the balanced score the
//! agent and the other policies are ranked by: per field, the mean over items of the mean
//! per-token log-probability of the gold answer, relative to the base's, averaged over fields,
//!
//! `J(λ) = 1/|F| · Σ_f (1/N_f · Σ_n 1/T_n · Σ_t log Σᵢ λᵢ·pᵢ(t) − F0_f) / |F0_f|`.
//!
//! `J` is a weighted log-likelihood of a mixture with fixed components, concave in λ, and is
//! maximised by the EM fixed point `λᵢ ← Σ_t w_t·rᵢ(t) / Σ_t w_t` (responsibilities
//! `rᵢ(t) = λᵢ·pᵢ(t) / Σⱼ λⱼ·pⱼ(t)`, token weights `w_t` from the formula above), which
//! never decreases `J`. `mixagent mixmin` trains the proxies and writes the solution; the
//! policy `mixmin:DIR` runs it as one static mixture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mixagent_core::CoreError;
use serde::{Deserialize, Serialize};

use crate::{bad_state, Scheduled};

/// Version of `mixmin.json`.
pub const MIXMIN_VERSION: u32 = 1;

/// The file `mixagent mixmin` writes in its output folder and `mixmin:DIR` reads.
pub const MIXMIN_FILE: &str = "mixmin.json";

/// Per field, the log-probability of every answer token of every feedback item (nats), as
/// the evaluation crate's observer scores them; one per model.
pub type TokenLogprobs = BTreeMap<String, Vec<Vec<f64>>>;

/// The convex problem: the feedback tokens, their weights in `J`, and each entry's proxy's
/// probability of them.
#[derive(Debug, Clone)]
pub struct MixMinProblem {
    /// The entries, in the space's order.
    pub entries: Vec<String>,
    /// Per token: its weight in `J` and the log-probability under each entry's proxy.
    tokens: Vec<(f64, Vec<f64>)>,
    /// `−1/|F| · Σ_f F0_f / |F0_f|`, the constant of `J`.
    offset: f64,
}

/// A field's feedback from its token log-probabilities: the mean over items (with tokens) of
/// each item's mean.
pub fn field_feedback(items: &[Vec<f64>]) -> f64 {
    let means: Vec<f64> = items
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| t.iter().sum::<f64>() / t.len() as f64)
        .collect();
    means.iter().sum::<f64>() / means.len().max(1) as f64
}

impl MixMinProblem {
    /// The problem from the base model's token log-probabilities and each entry's proxy's.
    /// Every proxy must have scored the same fields, items and tokens as the base.
    pub fn new(
        base: &TokenLogprobs,
        entries: &[(String, TokenLogprobs)],
    ) -> Result<Self, CoreError> {
        let bad = |m: String| bad_state("mixmin", m);
        if entries.is_empty() || base.is_empty() {
            return Err(bad("no entries or no feedback fields to solve over".into()));
        }
        let fields = base.len() as f64;
        let mut tokens = Vec::new();
        let mut offset = 0.0;
        for (field, items) in base {
            if let Some(n) = items.iter().position(|t| t.iter().any(|v| !v.is_finite())) {
                return Err(bad(format!(
                    "the base gives item {n} of field `{field}` a log-probability that is not finite"
                )));
            }
            let f0 = field_feedback(items);
            let scale = f0.abs().max(1e-9);
            offset -= f0 / scale / fields;
            let scored = items.iter().filter(|t| !t.is_empty()).count().max(1) as f64;
            for (n, item) in items.iter().enumerate() {
                for t in 0..item.len() {
                    let mut lp = Vec::with_capacity(entries.len());
                    for (name, proxy) in entries {
                        let v = proxy
                            .get(field)
                            .and_then(|items| items.get(n))
                            .filter(|toks| toks.len() == item.len())
                            .map(|toks| toks[t])
                            .ok_or_else(|| {
                                bad(format!(
                                    "the proxy of `{name}` did not score item {n} of field `{field}` as the base did (other suites?): rerun `mixagent mixmin` from scratch"
                                ))
                            })?;
                        if !v.is_finite() {
                            return Err(bad(format!(
                                "the proxy of `{name}` gives item {n} of field `{field}` a log-probability of {v}"
                            )));
                        }
                        lp.push(v);
                    }
                    tokens.push((1.0 / (fields * scale * scored * item.len() as f64), lp));
                }
            }
        }
        if tokens.is_empty() {
            return Err(bad("the feedback suites have no answer tokens to solve over".into()));
        }
        let entries = entries.iter().map(|(n, _)| n.clone()).collect();
        Ok(MixMinProblem { entries, tokens, offset })
    }

    /// `J(λ)`: the balanced score the ensemble `Σᵢ λᵢ·pᵢ` would reach.
    pub fn objective(&self, lambda: &[f64]) -> f64 {
        self.offset
            + self
                .tokens
                .iter()
                .map(|(w, lp)| {
                    let m = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = lp.iter().zip(lambda).map(|(l, x)| x * (l - m).exp()).sum();
                    w * (m + s.ln())
                })
                .sum::<f64>()
    }

    /// The λ maximising `J`, by EM from uniform until no weight moves by more than `tol` (or
    /// `max_iter` rounds), with the rounds taken (`max_iter` + 1: it had not converged; EM
    /// is slow where a weight at the optimum is 0).
    pub fn solve(&self, tol: f64, max_iter: usize) -> (Vec<f64>, usize) {
        let k = self.entries.len();
        let mut lambda = vec![1.0 / k as f64; k];
        let total: f64 = self.tokens.iter().map(|(w, _)| w).sum();
        for round in 1..=max_iter {
            let mut next = vec![0.0; k];
            for (w, lp) in &self.tokens {
                let m = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let r: Vec<f64> = lp.iter().zip(&lambda).map(|(l, x)| x * (l - m).exp()).collect();
                let z: f64 = r.iter().sum();
                for (n, r) in next.iter_mut().zip(&r) {
                    *n += w * r / z;
                }
            }
            next.iter_mut().for_each(|x| *x /= total);
            let moved = next.iter().zip(&lambda).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            lambda = next;
            if moved < tol {
                return (lambda, round);
            }
        }
        (lambda, max_iter + 1)
    }
}

/// `mixmin.json`: the solved mixture and what it was solved from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixMinResult {
    /// [`MIXMIN_VERSION`].
    pub format_version: u32,
    /// The mixture, by entry.
    pub weights: BTreeMap<String, f64>,
    /// `J` of the solution, of uniform, and of each entry alone.
    pub predicted: Predicted,
    /// EM rounds taken.
    pub rounds: usize,
    /// Whether EM converged (no weight moved by more than 1e-10 in the last round).
    pub converged: bool,
    /// The base model's feedback per field.
    pub base_feedback: BTreeMap<String, f64>,
    /// The run config the proxies were trained under, its overrides and the seed.
    pub run: PathBuf,
    /// `--set` overrides of the run config.
    pub set: Vec<String>,
    /// The proxies' training seed.
    pub seed: u64,
}

/// Predicted balanced scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicted {
    /// Of the solution.
    pub mixmin: f64,
    /// Of the uniform mixture.
    pub uniform: f64,
    /// Of each entry alone (its own proxy).
    pub single: BTreeMap<String, f64>,
}

impl MixMinResult {
    /// Reads `DIR/mixmin.json` (or the file itself).
    pub fn read(path: &Path) -> Result<Self, CoreError> {
        let file = if path.is_dir() { path.join(MIXMIN_FILE) } else { path.to_path_buf() };
        let label = format!("mixmin:{}", path.display());
        let text = std::fs::read_to_string(&file).map_err(|e| {
            bad_state(&label, format!("{}: {e}; run `mixagent mixmin` first", file.display()))
        })?;
        let r: MixMinResult = serde_json::from_str(&text).map_err(|e| {
            bad_state(&label, format!("{}: {e}; rerun `mixagent mixmin`", file.display()))
        })?;
        if r.format_version != MIXMIN_VERSION {
            return Err(bad_state(
                &label,
                format!(
                    "{} has format_version {}, this build reads {MIXMIN_VERSION}: rerun `mixagent mixmin`",
                    file.display(),
                    r.format_version
                ),
            ));
        }
        Ok(r)
    }

    /// The solution as a policy: one static mixture for every stage.
    pub fn policy(&self) -> Result<Scheduled, CoreError> {
        Scheduled::new("mixmin".into(), vec![self.weights.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logprobs(field: &str, items: &[&[f64]]) -> TokenLogprobs {
        [(field.to_string(), items.iter().map(|t| t.to_vec()).collect())].into()
    }

    #[test]
    fn em_finds_the_optimum_by_hand() {
        // One field, three items of one token: proxy a gives them p = 0.9, 0.9, 0.1 and proxy
        // b 0.1, 0.1, 0.9. With λ on a, J = 1/3·(2·log(0.1 + 0.8λ) + log(0.9 − 0.8λ)) + 1
        // (the base's feedback is −1), maximal where 1.6/(0.1 + 0.8λ) = 0.8/(0.9 − 0.8λ),
        // at λ = 1.7/2.4.
        let (hi, lo) = (0.9f64.ln(), 0.1f64.ln());
        let base = logprobs("math", &[&[-1.0], &[-1.0], &[-1.0]]);
        let a = logprobs("math", &[&[hi], &[hi], &[lo]]);
        let b = logprobs("math", &[&[lo], &[lo], &[hi]]);
        let p = MixMinProblem::new(&base, &[("a".into(), a), ("b".into(), b)]).unwrap();
        let (lambda, rounds) = p.solve(1e-13, 100_000);
        assert!((lambda[0] - 1.7 / 2.4).abs() < 1e-9 && rounds <= 100_000, "{lambda:?}");
        let (x, y) = (0.1 + 0.8 * lambda[0], 0.9 - 0.8 * lambda[0]);
        let want = (2.0 * x.ln() + y.ln()) / 3.0 + 1.0;
        assert!((p.objective(&lambda) - want).abs() < 1e-12);
        assert!(p.objective(&lambda) > p.objective(&[0.5, 0.5]));
        // Items weigh alike whatever their length (a field's feedback is a mean of item
        // means): items {a: 0.9, b: 0.1} and {a: 0.1 0.1, b: 0.9 0.9} make a symmetric
        // problem, solved at one half (pooled over tokens it would favour b).
        let base = logprobs("math", &[&[-1.0], &[-1.0, -1.0]]);
        let a = logprobs("math", &[&[hi], &[lo, lo]]);
        let b = logprobs("math", &[&[lo], &[hi, hi]]);
        let p = MixMinProblem::new(&base, &[("a".into(), a), ("b".into(), b)]).unwrap();
        assert!((p.solve(1e-13, 100_000).0[0] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn proxies_that_scored_other_items_are_refused() {
        let base = logprobs("math", &[&[-1.0], &[-1.0]]);
        let short = logprobs("math", &[&[-1.0]]);
        let e = MixMinProblem::new(&base, &[("a".into(), base.clone()), ("b".into(), short)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`b`") && e.contains("item 1"), "{e}");
        let nan = logprobs("math", &[&[f64::NAN], &[-1.0]]);
        let e = MixMinProblem::new(&base, &[("a".into(), nan.clone())]).unwrap_err().to_string();
        assert!(e.contains("NaN"), "{e}");
        let e = MixMinProblem::new(&nan, &[("a".into(), base.clone())]).unwrap_err().to_string();
        assert!(e.contains("the base") && e.contains("not finite"), "{e}");
        let empty = logprobs("math", &[&[]]);
        let e = MixMinProblem::new(&empty, &[("a".into(), empty.clone())]).unwrap_err().to_string();
        assert!(e.contains("no answer tokens"), "{e}");
    }

    #[test]
    fn result_file_round_trips_and_old_versions_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let r = MixMinResult {
            format_version: MIXMIN_VERSION,
            weights: [("g".to_string(), 0.25), ("m".to_string(), 0.75)].into(),
            predicted: Predicted { mixmin: 0.1, uniform: 0.05, single: Default::default() },
            rounds: 12,
            converged: true,
            base_feedback: Default::default(),
            run: "experiments/collect-smoke.toml".into(),
            set: vec![],
            seed: 0,
        };
        std::fs::write(tmp.path().join(MIXMIN_FILE), serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(MixMinResult::read(tmp.path()).unwrap(), r);
        let old = serde_json::json!({"format_version": 0, "weights": {}});
        std::fs::write(tmp.path().join(MIXMIN_FILE), old.to_string()).unwrap();
        let e = MixMinResult::read(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("rerun `mixagent mixmin`"), "{e}");
        let e = MixMinResult::read(&tmp.path().join("none")).unwrap_err().to_string();
        assert!(e.contains("run `mixagent mixmin` first"), "{e}");
    }
}
