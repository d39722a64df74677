//! How a plan covers the simplex and the target share over time, so a thin plan is visible
//! before hours of rollouts are spent on it.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::{PlannedTrajectory, SpaceEntry};

/// Bins of the target share in [0, 1].
const BINS: usize = 10;

/// Coverage statistics of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// Trajectories.
    pub trajectories: usize,
    /// Stages per trajectory.
    pub stages: usize,
    /// Trajectories per family.
    pub families: BTreeMap<String, usize>,
    /// Per stage, trajectories per target-share decile.
    pub share_by_stage: Vec<[usize; BINS]>,
    /// Share of (stage, decile) cells visited by at least one trajectory.
    pub share_cells_covered: f64,
    /// Per domain: the largest weight any stage gives it, and the share of stages where it
    /// gets more than a uniform mixture would (1/K).
    pub domains: Vec<DomainCoverage>,
    /// Effective number of domains, exp(entropy), over all stages: min, median, max.
    pub effective_domains: [f64; 3],
    /// Mean L1 change of the mixture between consecutive stages.
    pub mean_l1_change: f64,
}

/// One domain's coverage.
#[derive(Debug, Clone, Serialize)]
pub struct DomainCoverage {
    /// Domain.
    pub name: String,
    /// Largest weight in the plan.
    pub max_weight: f64,
    /// Share of stages above 1/K.
    pub above_uniform: f64,
}

/// Computes the coverage of `plan` over `space` (source field first).
pub fn coverage(plan: &[PlannedTrajectory], space: &[SpaceEntry]) -> Coverage {
    let stages = plan.first().map_or(0, |p| p.mixtures.len());
    let k = space.len();
    let mut families = BTreeMap::new();
    let mut share_by_stage = vec![[0usize; BINS]; stages];
    let mut max_weight = vec![0f64; k];
    let mut above = vec![0usize; k];
    let mut eff = Vec::new();
    let (mut l1_sum, mut l1_n) = (0.0, 0usize);
    for p in plan {
        *families.entry(p.family.name().to_string()).or_insert(0) += 1;
        for (t, row) in p.mixtures.iter().enumerate() {
            let target = crate::target_share(space, row);
            share_by_stage[t][((target * BINS as f64) as usize).min(BINS - 1)] += 1;
            for (d, &w) in row.iter().enumerate() {
                max_weight[d] = max_weight[d].max(w);
                above[d] += usize::from(w > 1.0 / k as f64);
            }
            let h: f64 = row.iter().filter(|&&w| w > 0.0).map(|&w| -w * w.ln()).sum();
            eff.push(h.exp());
            if t > 0 {
                l1_sum +=
                    row.iter().zip(&p.mixtures[t - 1]).map(|(a, b)| (a - b).abs()).sum::<f64>();
                l1_n += 1;
            }
        }
    }
    eff.sort_by(f64::total_cmp);
    let pick =
        |q: f64| eff.get(((eff.len().max(1) - 1) as f64 * q) as usize).copied().unwrap_or(0.0);
    let cells = share_by_stage.iter().flatten().filter(|&&c| c > 0).count();
    let total_rows = (plan.len() * stages).max(1) as f64;
    Coverage {
        trajectories: plan.len(),
        stages,
        families,
        share_cells_covered: cells as f64 / (stages * BINS).max(1) as f64,
        share_by_stage,
        domains: space
            .iter()
            .enumerate()
            .map(|(d, e)| DomainCoverage {
                name: e.name.clone(),
                max_weight: max_weight[d],
                above_uniform: above[d] as f64 / total_rows,
            })
            .collect(),
        effective_domains: [pick(0.0), pick(0.5), pick(1.0)],
        mean_l1_change: l1_sum / l1_n.max(1) as f64,
    }
}

impl Coverage {
    /// A plain-text report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{} trajectories × {} stages", self.trajectories, self.stages);
        let fam: Vec<String> = self.families.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(s, "families: {}", fam.join(", "));
        let _ = writeln!(
            s,
            "target share by stage (trajectories per decile 0-0.1 … 0.9-1); {:.0}% of stage × decile cells covered:",
            100.0 * self.share_cells_covered
        );
        for (t, bins) in self.share_by_stage.iter().enumerate() {
            let cells: Vec<String> = bins.iter().map(|c| format!("{c:>4}")).collect();
            let _ = writeln!(s, "  stage {t:>3} |{}", cells.join(""));
        }
        let [lo, med, hi] = self.effective_domains;
        let _ = writeln!(
            s,
            "effective domains per mixture (exp entropy): min {lo:.1}, median {med:.1}, max {hi:.1} of {}",
            self.domains.len()
        );
        let _ = writeln!(s, "mean L1 change between stages: {:.3}", self.mean_l1_change);
        let _ = writeln!(s, "{:<28} {:>10} {:>14}", "domain", "max weight", "stages > 1/K");
        for d in &self.domains {
            let _ = writeln!(
                s,
                "{:<28} {:>10.3} {:>13.0}%",
                d.name,
                d.max_weight,
                100.0 * d.above_uniform
            );
        }
        s
    }
}
