//! What the collection says each corpus domain does to each field's feedback (issue 21): the
//! agent's per-domain prior.
//!
//! One run cannot tell which of its domains help: its own credit (`credit_source`,
//! `credit_target`, read over a dozen stages) ranks the helpful domains little better than
//! chance (AUC 0.60 / 0.56 on the version-2 study collection), while the same credit averaged
//! over the collection's runs ranks them almost perfectly (1.00 / 0.97 over 384 runs, 0.91 /
//! 0.78 over 32; `docs/results/collect-env2/in_run_credit.md`). The paper's agent learns this
//! from the domains' fixed positions in its one space; ours steers any space, so the evidence
//! is kept by domain *name* and read through each entry's members: a re-grouped entry reads
//! the mean of its members', and a domain the collection never mixed (a new target field, a
//! new source) reads as unknown, with its own flag, so the agent falls back on what the run
//! itself shows.
//!
//! The evidence of a domain for a field is the mean of its runs' last-stage credits divided by
//! their standard error, clipped to ±3 and divided by 3 (the credit's own convention: 0 where
//! the runs disagree or are few, ±1 on consistent evidence).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Per corpus domain and field, the collection's evidence that the domain raises that field's
/// feedback, in [−1, 1].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainPrior {
    /// Runs the evidence was drawn from.
    pub runs: usize,
    /// Domain name → field name → evidence.
    pub evidence: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The least runs a domain's evidence is drawn from (fewer: unknown).
const MIN_RUNS: usize = 3;

impl DomainPrior {
    /// The mean evidence of `members` (corpus domain names) for `field`, over the members the
    /// prior knows; `None` when it knows none of them.
    pub fn lookup(&self, members: &[String], field: &str) -> Option<f64> {
        let known: Vec<f64> =
            members.iter().filter_map(|m| self.evidence.get(m)?.get(field).copied()).collect();
        (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
    }

    /// What the prior says of an entry with these `members`: its evidence for the `source`
    /// field, and the mean of its evidence over the `targets` it knows (`None` where it knows
    /// none). What the state's prior features and the decision's tilts both read.
    pub fn for_entry(
        &self,
        members: &[String],
        source: &str,
        targets: &[&str],
    ) -> (Option<f64>, Option<f64>) {
        let known: Vec<f64> = targets.iter().filter_map(|f| self.lookup(members, f)).collect();
        let target = (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64);
        (self.lookup(members, source), target)
    }

    /// This prior with nothing known about `field` (a view that trains the agent for a field
    /// the collection never read).
    pub fn without(&self, field: &str) -> DomainPrior {
        let evidence = self
            .evidence
            .iter()
            .map(|(d, by_field)| {
                let kept = by_field.iter().filter(|(f, _)| *f != field);
                (d.clone(), kept.map(|(f, v)| (f.clone(), *v)).collect::<BTreeMap<_, _>>())
            })
            .filter(|(_, by_field)| !by_field.is_empty())
            .collect();
        DomainPrior { runs: self.runs, evidence }
    }

    /// Checks that every value is finite and in [−1, 1].
    pub fn validate(&self) -> Result<(), String> {
        for (d, by_field) in &self.evidence {
            for (f, v) in by_field {
                if !(v.is_finite() && (-1.0..=1.0).contains(v)) {
                    return Err(format!(
                        "prior evidence of domain `{d}` for field `{f}` is {v}, not in [-1, 1]"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Gathers runs' credits into a [`DomainPrior`].
#[derive(Debug, Clone, Default)]
pub struct PriorBuilder {
    runs: usize,
    credits: BTreeMap<(String, String), Vec<f64>>,
}

impl PriorBuilder {
    /// Counts one more run.
    pub fn add_run(&mut self) {
        self.runs += 1;
    }

    /// One run's credit of `domain` for `field` (non-finite values are skipped).
    pub fn add(&mut self, domain: &str, field: &str, credit: f64) {
        if credit.is_finite() {
            self.credits.entry((domain.to_string(), field.to_string())).or_default().push(credit);
        }
    }

    /// The evidence: each (domain, field)'s mean credit over its standard error, clipped to ±3,
    /// divided by 3; pairs with fewer than three runs are left out (unknown). Credits that
    /// never varied read as their sign (a constant non-zero credit is consistent evidence).
    pub fn finish(&self) -> DomainPrior {
        let mut evidence: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for ((d, f), c) in &self.credits {
            if c.len() < MIN_RUNS {
                continue;
            }
            let n = c.len() as f64;
            let mean = c.iter().sum::<f64>() / n;
            let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let se = (var / n).sqrt();
            let t = if se > 1e-12 {
                mean / se
            } else if mean.abs() > 1e-12 {
                3f64.copysign(mean)
            } else {
                0.0
            };
            evidence.entry(d.clone()).or_default().insert(f.clone(), t.clamp(-3.0, 3.0) / 3.0);
        }
        DomainPrior { runs: self.runs, evidence }
    }
}

/// Gathers runs' token shares and final feedback changes into a [`DomainPrior`] by a
/// regression across runs: the collection's linear reading of which domains raise each field.
///
/// Each field's final relative change is regressed on the runs' token shares per domain
/// (ridge, intercept unpenalised; the shares sum to one, so the ridge also picks the
/// coefficients' common level), and a domain's evidence is its coefficient over its standard
/// error, divided by the largest such standard score of the field, or by 3 where none reaches
/// 3 (so noise stays below ±1, as the credit's convention). Not clipped at ±3 as the credit's:
/// across 384 runs the helpful domains score 4 to 14 and a clip would make them all alike
/// (and the second tier, at 2, two thirds as good: the first version, commit 76f2eee, lost
/// the held-out proxy probe on general by spreading it so). Unlike the mean in-run credit
/// ([`PriorBuilder`]), which reads each run's within-run correlations and is confounded by
/// what moved together, the regression separates the domains by how the runs differ: on the
/// version-2 study collection it ranks exactly the relevance ablation's helpful domains first in
/// each field, where the credit put two unhelpful math domains and a general one among math's
/// top five (`docs/results/env2-regression-prior/`).
#[derive(Debug, Clone, Default)]
pub struct RegressionPriorBuilder {
    /// Per run: domain → share of its tokens, field → final relative feedback change.
    runs: Vec<(BTreeMap<String, f64>, BTreeMap<String, f64>)>,
}

/// The ridge of the regression prior, relative to the mean variance of the domains' shares.
const RIDGE: f64 = 1e-3;

impl RegressionPriorBuilder {
    /// One run: each domain's share of its tokens (absent: 0) and each field's final relative
    /// feedback change (non-finite values: the run is left out of that field's fit).
    pub fn add_run(&mut self, shares: BTreeMap<String, f64>, changes: BTreeMap<String, f64>) {
        self.runs.push((shares, changes));
    }

    /// The evidence of every domain for every field; a field with fewer runs than domains + 3
    /// (too few to estimate the noise) stays unknown.
    pub fn finish(&self) -> DomainPrior {
        let domains: Vec<&String> = {
            let all: std::collections::BTreeSet<&String> =
                self.runs.iter().flat_map(|(s, _)| s.keys()).collect();
            all.into_iter().collect()
        };
        let fields: std::collections::BTreeSet<&String> =
            self.runs.iter().flat_map(|(_, c)| c.keys()).collect();
        let mut evidence: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for field in fields {
            let rows: Vec<(Vec<f64>, f64)> = self
                .runs
                .iter()
                .filter_map(|(shares, changes)| {
                    let y = *changes.get(field)?;
                    y.is_finite().then(|| {
                        (
                            domains
                                .iter()
                                .map(|d| shares.get(*d).copied().unwrap_or(0.0))
                                .collect(),
                            y,
                        )
                    })
                })
                .collect();
            let Some(t) = regression_t(&rows, domains.len()) else { continue };
            // Scaled by the field's strongest standard score, or by 3 where none reaches it.
            let scale = t.iter().fold(3.0f64, |m, t| m.max(t.abs()));
            for (d, t) in domains.iter().zip(t) {
                evidence.entry((*d).clone()).or_default().insert(field.clone(), t / scale);
            }
        }
        DomainPrior { runs: self.runs.len(), evidence }
    }
}

/// Each coefficient's standard score in the ridge regression of `y` on the `p` columns of `x`
/// with an unpenalised intercept; `None` with fewer than `p + 3` rows or a singular system. A
/// column that never varies scores 0.
fn regression_t(rows: &[(Vec<f64>, f64)], p: usize) -> Option<Vec<f64>> {
    use mixagent_core::linalg::{cholesky, cholesky_solve};
    let n = rows.len();
    if n < p + 3 {
        return None;
    }
    let mean_x: Vec<f64> =
        (0..p).map(|j| rows.iter().map(|(x, _)| x[j]).sum::<f64>() / n as f64).collect();
    let mean_y = rows.iter().map(|(_, y)| y).sum::<f64>() / n as f64;
    // M = XcᵀXc and Xcᵀyc on the centred data.
    let mut m = vec![0.0; p * p];
    let mut b = vec![0.0; p];
    for (x, y) in rows {
        let xc: Vec<f64> = x.iter().zip(&mean_x).map(|(x, m)| x - m).collect();
        for i in 0..p {
            b[i] += xc[i] * (y - mean_y);
            for j in 0..p {
                m[i * p + j] += xc[i] * xc[j];
            }
        }
    }
    let ridge = RIDGE * (0..p).map(|i| m[i * p + i]).sum::<f64>() / p as f64 + 1e-12;
    let mut a = m.clone();
    (0..p).for_each(|i| a[i * p + i] += ridge);
    let l = cholesky(&a, p)?;
    let beta = cholesky_solve(&l, p, &b);
    let sse: f64 = rows
        .iter()
        .map(|(x, y)| {
            let fit: f64 = (0..p).map(|j| (x[j] - mean_x[j]) * beta[j]).sum();
            (y - mean_y - fit).powi(2)
        })
        .sum();
    // The shares sum to one, so the centred columns span p − 1 dimensions, plus the intercept.
    let s2 = sse / (n - p) as f64;
    // Var(β) = s²·A⁻¹·M·A⁻¹: its diagonal from A⁻¹'s columns.
    Some(
        (0..p)
            .map(|d| {
                let mut e = vec![0.0; p];
                e[d] = 1.0;
                let v = cholesky_solve(&l, p, &e);
                let var: f64 = (0..p)
                    .map(|i| v[i] * (0..p).map(|j| m[i * p + j] * v[j]).sum::<f64>())
                    .sum::<f64>()
                    * s2;
                if var > 1e-24 {
                    beta[d] / var.sqrt()
                } else {
                    0.0
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_the_clipped_standard_score_of_the_runs_credits() {
        let mut b = PriorBuilder::default();
        // a: mean 0.2, sample variance 0.04/3 over 4 runs -> se 0.0577, t = 3.46 -> clipped to 1.
        for c in [0.1, 0.3, 0.1, 0.3] {
            b.add_run();
            b.add("a", "math", c);
        }
        // b: mean 0.05, the same se -> t = 0.866 -> 0.289.
        for c in [-0.05, 0.15, -0.05, 0.15] {
            b.add("b", "math", c);
        }
        // c: too few runs.
        b.add("c", "math", 0.5);
        b.add("c", "math", 0.5);
        let p = b.finish();
        assert_eq!(p.runs, 4);
        assert!((p.evidence["a"]["math"] - 1.0).abs() < 1e-12);
        let se = (0.04f64 / 3.0 / 4.0).sqrt();
        assert!((p.evidence["b"]["math"] - 0.05 / se / 3.0).abs() < 1e-9, "{:?}", p.evidence);
        assert!(!p.evidence.contains_key("c"));
        assert!(p.validate().is_ok());
        // Members read as their mean over the known ones; unknown ones are skipped.
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mean_ab = (1.0 + 0.05 / se / 3.0) / 2.0;
        assert!((p.lookup(&m(&["a", "b", "c"]), "math").unwrap() - mean_ab).abs() < 1e-9);
        assert_eq!(p.lookup(&m(&["c"]), "math"), None);
        assert_eq!(p.lookup(&m(&["a"]), "general"), None);
        assert_eq!(p.without("math").evidence.len(), 0);
    }

    /// A field that rises by 0.5 per unit share of `a` and falls by 0.5 per unit of `b` (`c`
    /// does nothing), measured with noise over 40 runs of varied shares: `a` reads +1, `b` −1,
    /// `c` near 0; a field of pure noise reads near 0 everywhere; too few runs leave a field
    /// unknown.
    #[test]
    fn the_regression_prior_reads_the_coefficients_standard_scores() {
        let mut state = 12345u64;
        let mut uniform = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut b = RegressionPriorBuilder::default();
        for _ in 0..40 {
            let raw = [uniform(), uniform(), uniform()];
            let total: f64 = raw.iter().sum();
            let s: Vec<f64> = raw.iter().map(|x| x / total).collect();
            let shares = [("a", s[0]), ("b", s[1]), ("c", s[2])]
                .into_iter()
                .map(|(d, v)| (d.to_string(), v))
                .collect();
            let changes = [
                ("math", 0.5 * s[0] - 0.5 * s[1] + 0.01 * (uniform() - 0.5)),
                ("general", 0.01 * (uniform() - 0.5)),
            ]
            .into_iter()
            .map(|(f, v)| (f.to_string(), v))
            .collect();
            b.add_run(shares, changes);
        }
        let p = b.finish();
        assert_eq!(p.runs, 40);
        assert!(p.validate().is_ok());
        // The strongest score is ±1, the other about as strong (the same size of effect).
        let (ea, eb) = (p.evidence["a"]["math"], p.evidence["b"]["math"]);
        assert!(ea > 0.8 && eb < -0.8 && (ea.max(-eb) - 1.0).abs() < 1e-12, "{p:?}");
        assert!(p.evidence["c"]["math"].abs() < 0.5, "{p:?}");
        for d in ["a", "b", "c"] {
            assert!(p.evidence[d]["general"].abs() < 1.0, "noise is not evidence: {p:?}");
        }
        // Five runs over three domains: too few to tell the noise.
        let mut few = RegressionPriorBuilder::default();
        for run in b.runs.iter().take(5) {
            few.add_run(run.0.clone(), run.1.clone());
        }
        assert!(few.finish().evidence.is_empty());
    }
}
