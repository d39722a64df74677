//! The comparison table.

use mixagent_trajectory::SteeredRun;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::mean_interval;

/// One policy's summary over its seeds. Values are `(mean, 95% half-width)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyRow {
    /// The policy spec.
    pub policy: String,
    /// Seeds summarised.
    pub seeds: usize,
    /// Per field: final feedback change relative to the base, (f − f₀)/|f₀|.
    pub fields: BTreeMap<String, (f64, f64)>,
    /// The source field's change.
    pub source: (f64, f64),
    /// Mean over the target fields' changes.
    pub target: (f64, f64),
    /// Balanced score (mean over all fields).
    pub balanced: (f64, f64),
    /// Mean target share over stages and seeds.
    pub target_share: f64,
    /// Mean training tokens per field per run.
    pub tokens: BTreeMap<String, f64>,
    /// The agent's balanced score minus this one's ([`Table::paired_against`]), paired by
    /// seed (same seed, same data order) over the seeds both ran: (mean, 95% half-width,
    /// seeds). `None` for the agent itself, without an agent, or when no seed is shared.
    pub paired: Option<(f64, f64, usize)>,
}

/// The whole table, best balanced score first, reference lines last.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Fields, source first.
    pub fields: Vec<String>,
    /// One row per policy.
    pub rows: Vec<PolicyRow>,
    /// The policy the paired differences are taken from: the first agent (`agent:…`), if any.
    pub paired_against: Option<String>,
}

/// A reference line, shown but not ranked: the oracle mixture.
pub fn is_reference(policy: &str) -> bool {
    policy.starts_with("oracle:")
}

/// Final balanced score by seed.
fn by_seed(group: &[SteeredRun]) -> BTreeMap<u64, f64> {
    group.iter().map(|r| (r.config.seed, r.final_balanced().unwrap_or(f64::NAN))).collect()
}

/// `agent − other` over the seeds both have: (mean, 95% half-width, seeds).
fn paired(agent: &BTreeMap<u64, f64>, other: &BTreeMap<u64, f64>) -> Option<(f64, f64, usize)> {
    let d: Vec<f64> = agent.iter().filter_map(|(s, a)| other.get(s).map(|b| a - b)).collect();
    if d.is_empty() {
        return None;
    }
    let (m, h) = mean_interval(&d);
    Some((m, h, d.len()))
}

/// Summarises finished runs, grouped by policy (in the order given).
pub fn summarise(runs: &[(String, Vec<SteeredRun>)]) -> Table {
    let fields =
        runs.iter().flat_map(|(_, r)| r.first()).map(SteeredRun::fields).next().unwrap_or_default();
    let agent = runs
        .iter()
        .find(|(p, r)| p.starts_with("agent:") && !r.is_empty())
        .map(|(p, r)| (p, by_seed(r)));
    let mut rows: Vec<PolicyRow> = runs
        .iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(policy, group)| {
            let change = |r: &SteeredRun, f: &str| r.final_change(f).unwrap_or(f64::NAN);
            let per_field: BTreeMap<String, (f64, f64)> = fields
                .iter()
                .map(|f| {
                    let v: Vec<f64> = group.iter().map(|r| change(r, f)).collect();
                    (f.clone(), mean_interval(&v))
                })
                .collect();
            let source: Vec<f64> = group.iter().map(|r| change(r, &fields[0])).collect();
            let target: Vec<f64> = group
                .iter()
                .map(|r| {
                    let t = &fields[1..];
                    t.iter().map(|f| change(r, f)).sum::<f64>() / t.len().max(1) as f64
                })
                .collect();
            let balanced: Vec<f64> =
                group.iter().map(|r| r.final_balanced().unwrap_or(f64::NAN)).collect();
            let mut shares = Vec::new();
            let mut tokens: BTreeMap<String, f64> = BTreeMap::new();
            for r in group {
                // Entries and, for grouped entries (`a+b`), their member domains.
                let field_of: BTreeMap<String, String> = r
                    .space
                    .iter()
                    .flat_map(|e| {
                        let members = e.name.split(mixagent_core::GROUP_SEPARATOR);
                        members.map(|d| (d.to_string(), e.field.clone()))
                    })
                    .collect();
                for row in &r.stages {
                    shares.push(r.target_share(&row.weights));
                    let per_run = 1.0 / group.len() as f64;
                    if row.tokens_by_domain.keys().all(|d| field_of.contains_key(d)) {
                        for (d, n) in &row.tokens_by_domain {
                            *tokens.entry(field_of[d].clone()).or_insert(0.0) +=
                                *n as f64 * per_run;
                        }
                    } else {
                        // A field-level space counts tokens per corpus domain, which the run
                        // file does not map to fields: split the stage's tokens by the mixture
                        // (what the sampler does, up to rounding).
                        for (e, w) in r.space.iter().zip(&row.weights) {
                            *tokens.entry(e.field.clone()).or_insert(0.0) +=
                                row.tokens as f64 * w * per_run;
                        }
                    }
                }
            }
            PolicyRow {
                policy: policy.clone(),
                seeds: group.len(),
                fields: per_field,
                source: mean_interval(&source),
                target: mean_interval(&target),
                balanced: mean_interval(&balanced),
                target_share: shares.iter().sum::<f64>() / shares.len().max(1) as f64,
                tokens,
                paired: agent
                    .as_ref()
                    .filter(|(p, _)| *p != policy)
                    .and_then(|(_, r)| paired(r, &by_seed(group))),
            }
        })
        .collect();
    // Reference lines (`oracle:…`, which know which domains help) come after every ranked row.
    rows.sort_by(|a, b| {
        is_reference(&a.policy)
            .cmp(&is_reference(&b.policy))
            .then(b.balanced.0.total_cmp(&a.balanced.0))
    });
    Table { fields, rows, paired_against: agent.map(|(p, _)| p.clone()) }
}

/// `mean ± half-width` (the mean alone for one seed).
pub(crate) fn cell((m, h): (f64, f64), decimals: usize) -> String {
    if m.is_nan() {
        "–".into()
    } else if h.is_nan() {
        format!("{m:+.decimals$}")
    } else {
        format!("{m:+.decimals$} ± {h:.decimals$}")
    }
}

impl crate::Tabular for Table {
    /// Header and rows: per policy, each field's change, source and target averages, the
    /// balanced score (mean ± 95% half-width over seeds), the mean target share and the tokens
    /// per field.
    fn cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header: Vec<String> = vec!["policy".into(), "seeds".into()];
        header.extend(self.fields.iter().map(|f| format!("{f} Δ")));
        header.extend(["source avg", "target avg", "balanced", "target share"].map(String::from));
        header.extend(self.fields.iter().map(|f| format!("{f} tokens")));
        if self.paired_against.is_some() {
            header.push("agent − this, paired".into());
        }
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let name = if is_reference(&r.policy) {
                    format!("{} (reference, not ranked)", r.policy)
                } else {
                    r.policy.clone()
                };
                let mut row = vec![name, r.seeds.to_string()];
                row.extend(self.fields.iter().map(|f| cell(r.fields[f], 4)));
                row.push(cell(r.source, 4));
                row.push(cell(r.target, 4));
                row.push(format!("**{}**", cell(r.balanced, 4)));
                row.push(format!("{:.1}%", 100.0 * r.target_share));
                row.extend(
                    self.fields
                        .iter()
                        .map(|f| format!("{:.0}", r.tokens.get(f).copied().unwrap_or(0.0))),
                );
                if self.paired_against.is_some() {
                    row.push(match r.paired {
                        // A win is an interval above zero: marked so a reader need not check.
                        Some((m, h, n)) => {
                            let mark = if m - h > 0.0 {
                                " ▲"
                            } else if m + h < 0.0 {
                                " ▼"
                            } else {
                                ""
                            };
                            format!("{} ({n}){mark}", cell((m, h), 4))
                        }
                        None => "–".into(),
                    });
                }
                row
            })
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mixagent_core::Observation;
    use mixagent_trajectory::{BaseInfo, CollectConfig, SpaceEntry, StageRow, STEERED_RUN_VERSION};

    use super::*;
    use crate::Tabular;

    fn obs(g: f64, m: f64) -> Observation {
        Observation {
            feedback: [("general".into(), g), ("math".into(), m)].into(),
            domain_loss: BTreeMap::new(),
        }
    }

    /// A one-stage run whose final feedback is (g, m), from a base at (−4, −8).
    fn run(policy: &str, g: f64, m: f64, math_weight: f64) -> SteeredRun {
        let cfg =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
        let config = CollectConfig::load(&cfg, &["stages=1".into()]).unwrap();
        let entry = |n: &str, f: &str| SpaceEntry { name: n.into(), field: f.into() };
        SteeredRun {
            format_version: STEERED_RUN_VERSION,
            policy: policy.into(),
            policy_name: policy.into(),
            policy_identity: policy.into(),
            config,
            corpus_fingerprint: String::new(),
            base: BaseInfo { checkpoint: "b".into(), fingerprint: "0".repeat(16), params: 1 },
            space: vec![entry("g", "general"), entry("m", "math")],
            initial: obs(-4.0, -8.0),
            stages: vec![StageRow {
                stage: 0,
                weights: vec![1.0 - math_weight, math_weight],
                tokens: 100,
                tokens_by_domain: [
                    ("g".into(), 100 - (100.0 * math_weight) as u64),
                    ("m".into(), (100.0 * math_weight) as u64),
                ]
                .into(),
                train_loss: 1.0,
                observation: obs(g, m),
                train_secs: 0.0,
                eval_secs: 0.0,
                train_precision: Default::default(),
                observe_precision: Default::default(),
            }],
            policy_state: serde_json::Value::Null,
            final_eval: None,
        }
    }

    #[test]
    fn means_intervals_and_order_by_hand() {
        // Policy a: general changes −0.1 and −0.2 (of |−4|: −4.4, −4.8), math +0.5 and +0.25
        // (−4, −6): balanced 0.2 and 0.025, mean 0.1125, half-width t₁·s/√2 = 12.706·s/√2 with
        // s = 0.175/√2. Policy b: one seed, balanced (0 + 0.75)/2 = 0.375: listed first.
        let table = summarise(&[
            ("a".into(), vec![run("a", -4.4, -4.0, 0.5), run("a", -4.8, -6.0, 0.5)]),
            ("b".into(), vec![run("b", -4.0, -2.0, 0.2)]),
        ]);
        assert_eq!(table.fields, ["general", "math"]);
        assert_eq!(table.rows[0].policy, "b");
        let a = &table.rows[1];
        assert!((a.balanced.0 - 0.1125).abs() < 1e-12);
        let s = 0.175 / 2f64.sqrt();
        assert!((a.balanced.1 - 12.706 * s / 2f64.sqrt()).abs() < 1e-9, "{:?}", a.balanced);
        assert!((a.fields["general"].0 + 0.15).abs() < 1e-12);
        assert!((a.target.0 - 0.375).abs() < 1e-12);
        assert_eq!(a.tokens["math"], 50.0);
        assert!((table.rows[0].target_share - 0.2).abs() < 1e-12);
        // A field-level run counts tokens per corpus domain: split by the mixture instead.
        let mut field_level = run("c", -4.0, -2.0, 0.25);
        field_level.stages[0].tokens_by_domain =
            [("brown_press".into(), 60), ("math_algebra".into(), 40)].into();
        let t = summarise(&[("c".into(), vec![field_level])]);
        assert_eq!((t.rows[0].tokens["general"], t.rows[0].tokens["math"]), (75.0, 25.0));
        let md = table.to_markdown();
        assert!(md.contains("| b | 1 |") && md.contains("± "), "{md}");
    }

    #[test]
    fn paired_differences_to_the_agent_by_hand() {
        // Balanced score (m + 8)/16 with general unchanged: the run of score b has m = 16b − 8.
        let scored = |policy: &str, seed: u64, b: f64| {
            let mut r = run(policy, -4.0, 16.0 * b - 8.0, 0.5);
            r.config.seed = seed;
            r
        };
        let agent = "agent:runs/a";
        let table = summarise(&[
            (
                "uniform".into(),
                [0.05, 0.10, 0.20].iter().zip(0..).map(|(b, s)| scored("uniform", s, *b)).collect(),
            ),
            (
                agent.into(),
                [0.10, 0.20, 0.30].iter().zip(0..).map(|(b, s)| scored(agent, s, *b)).collect(),
            ),
            (
                "odm".into(),
                [0.30, 0.10, 0.90].iter().zip(1..).map(|(b, s)| scored("odm", s, *b)).collect(),
            ),
        ]);
        assert_eq!(table.paired_against.as_deref(), Some(agent));
        let oracle = summarise(&[
            ("oracle:runs/h".into(), vec![scored("oracle:runs/h", 0, 0.9)]),
            ("uniform".into(), vec![scored("uniform", 0, 0.1)]),
        ]);
        assert_eq!(oracle.rows[1].policy, "oracle:runs/h", "the best score, but not ranked");
        assert!(oracle.to_markdown().contains("oracle:runs/h (reference, not ranked)"));
        let row = |p: &str| table.rows.iter().find(|r| r.policy == p).unwrap();
        assert_eq!(row(agent).paired, None);
        // Agent − uniform on seeds 0-2: 0.05, 0.10, 0.10; mean 0.08333, s = 0.028868,
        // half-width 4.303·s/√3 = 0.071719: above zero.
        let (m, h, n) = row("uniform").paired.unwrap();
        assert!(
            (m - 0.25 / 3.0).abs() < 1e-12
                && (h - 4.303 * 0.028_867_513 / 3f64.sqrt()).abs() < 1e-6
        );
        assert_eq!(n, 3);
        // Agent − ODM on the seeds both ran (1, 2): 0.20 − 0.30, 0.30 − 0.10.
        let (m, _, n) = row("odm").paired.unwrap();
        assert!((m - 0.05).abs() < 1e-12 && n == 2);
        let md = table.to_markdown();
        assert!(md.contains("agent − this, paired") && md.contains("(3) ▲"), "{md}");
        // Without an agent there is no such column.
        let plain = summarise(&[("uniform".into(), vec![scored("uniform", 0, 0.1)])]);
        assert!(plain.paired_against.is_none() && !plain.to_markdown().contains("paired"));
    }
}
