//! Does a collected set carry the trade-off the agent must learn? More target share should
//! raise the target field's feedback and lower the source field's. Measured by correlations at
//! two grains: each stage's share against the feedback change it caused, and each
//! trajectory's mean share against its final change.

use std::collections::BTreeMap;
use std::fmt::Write;

use mixagent_core::balanced_score;
use serde::Serialize;

use crate::Trajectory;

/// Trajectories whose mean target share falls in `[lo, hi)`.
#[derive(Debug, Clone, Serialize)]
pub struct ShareBucket {
    /// Lower bound of the mean target share.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Trajectories in it.
    pub n: usize,
    /// Mean final feedback change per field.
    pub delta: BTreeMap<String, f64>,
    /// Mean final balanced score.
    pub balanced: f64,
}

/// The trade-off statistics of a set of finished trajectories (one space).
#[derive(Debug, Clone, Serialize)]
pub struct Tradeoff {
    /// Trajectories used.
    pub trajectories: usize,
    /// Stage rows used.
    pub stages: usize,
    /// Fields, source first.
    pub fields: Vec<String>,
    /// Pearson r of a stage's target share with that stage's feedback change, per field.
    pub stage_share_vs_delta: BTreeMap<String, f64>,
    /// The same within stage indices: share and change are centred on their mean at each stage
    /// index first, which removes "early stages move more" (the first stage moves the most).
    pub within_stage_share_vs_delta: BTreeMap<String, f64>,
    /// Pearson r of a trajectory's mean target share with its final feedback change, per field.
    pub mean_share_vs_final: BTreeMap<String, f64>,
    /// Pearson r of the mean target share with the final balanced score.
    pub mean_share_vs_balanced: f64,
    /// Trajectories bucketed by mean target share (quintiles of [0, 1]).
    pub buckets: Vec<ShareBucket>,
}

/// Pearson correlation (NaN with fewer than 3 points or no variance).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 3 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n as f64, y.iter().sum::<f64>() / n as f64);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    sxy / (sxx * syy).sqrt()
}

/// `values` minus the mean of the values sharing their group.
fn centred_by(groups: &[usize], values: &[f64]) -> Vec<f64> {
    let mut sum: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for (&g, &v) in groups.iter().zip(values) {
        let e = sum.entry(g).or_insert((0.0, 0));
        e.0 += v;
        e.1 += 1;
    }
    groups.iter().zip(values).map(|(g, v)| v - sum[g].0 / sum[g].1 as f64).collect()
}

/// Computes the statistics over the complete trajectories of `set`.
pub fn tradeoff(set: &[Trajectory]) -> Tradeoff {
    let done: Vec<&Trajectory> =
        set.iter().filter(|t| t.is_complete() && !t.stages.is_empty()).collect();
    let fields = done.first().map(|t| t.fields()).unwrap_or_default();
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut stage_index = Vec::new();
    let mut stage_share = Vec::new();
    let mut stage_delta: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut mean_share = Vec::new();
    let mut final_delta: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut balanced = Vec::new();
    for t in &done {
        let mut prev = &t.initial;
        for row in &t.stages {
            stage_index.push(row.stage);
            stage_share.push(t.target_share(&row.weights));
            for f in &fields {
                stage_delta
                    .entry(f.clone())
                    .or_default()
                    .push(row.observation.feedback[f] - prev.feedback[f]);
            }
            prev = &row.observation;
        }
        let shares: Vec<f64> = t.stages.iter().map(|r| t.target_share(&r.weights)).collect();
        mean_share.push(shares.iter().sum::<f64>() / shares.len() as f64);
        let last = &t.stages.last().expect("non-empty").observation;
        for f in &fields {
            final_delta
                .entry(f.clone())
                .or_default()
                .push(last.feedback[f] - t.initial.feedback[f]);
        }
        balanced.push(balanced_score(last, &t.initial, &refs).unwrap_or(f64::NAN));
    }
    let buckets = (0..5)
        .map(|b| {
            let (lo, hi) = (b as f64 / 5.0, (b + 1) as f64 / 5.0);
            let idx: Vec<usize> = (0..mean_share.len())
                .filter(|&i| {
                    mean_share[i] >= lo && (mean_share[i] < hi || (b == 4 && mean_share[i] <= hi))
                })
                .collect();
            let mean = |v: &[f64]| idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len().max(1) as f64;
            ShareBucket {
                lo,
                hi,
                n: idx.len(),
                delta: fields.iter().map(|f| (f.clone(), mean(&final_delta[f]))).collect(),
                balanced: mean(&balanced),
            }
        })
        .collect();
    let within_share = centred_by(&stage_index, &stage_share);
    Tradeoff {
        within_stage_share_vs_delta: fields
            .iter()
            .map(|f| {
                (f.clone(), pearson(&within_share, &centred_by(&stage_index, &stage_delta[f])))
            })
            .collect(),
        trajectories: done.len(),
        stages: stage_share.len(),
        stage_share_vs_delta: fields
            .iter()
            .map(|f| (f.clone(), pearson(&stage_share, &stage_delta[f])))
            .collect(),
        mean_share_vs_final: fields
            .iter()
            .map(|f| (f.clone(), pearson(&mean_share, &final_delta[f])))
            .collect(),
        mean_share_vs_balanced: pearson(&mean_share, &balanced),
        fields,
        buckets,
    }
}

impl Tradeoff {
    /// A plain-text report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{} finished trajectories, {} stages", self.trajectories, self.stages);
        let _ = writeln!(
            s,
            "Pearson r of the target share with the feedback change (stage: the stage's own change; within stage: centred per stage index; trajectory: mean share vs final change)"
        );
        for f in &self.fields {
            let _ = writeln!(
                s,
                "{f:>10}: per stage {:+.3}   within stage {:+.3}   per trajectory {:+.3}",
                self.stage_share_vs_delta[f],
                self.within_stage_share_vs_delta[f],
                self.mean_share_vs_final[f]
            );
        }
        let _ = writeln!(
            s,
            "r(mean target share, final balanced score) = {:+.3}",
            self.mean_share_vs_balanced
        );
        let head: Vec<String> =
            self.fields.iter().map(|f| format!("{:>14}", format!("Δ{f}"))).collect();
        let _ = writeln!(s, "mean target share   n {} {:>10}", head.join(""), "balanced");
        for b in &self.buckets {
            let cells: Vec<String> =
                self.fields.iter().map(|f| format!("{:>14.3}", b.delta[f])).collect();
            let _ = writeln!(
                s,
                "  {:.1}-{:.1}        {:>4} {} {:>10.4}",
                b.lo,
                b.hi,
                b.n,
                cells.join(""),
                b.balanced
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_known_series() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(pearson(&[1.0, 2.0], &[1.0, 2.0]).is_nan());
    }
}
