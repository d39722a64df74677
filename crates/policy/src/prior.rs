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
}
