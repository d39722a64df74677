//! The oracle reference line (not a competitor): a static mixture over only the domains that
//! help their own field, read from a `mixagent headroom` report's relevance ablation (the whole
//! CPT budget on each domain alone). Each field gets an equal share, spread evenly over its
//! helpful domains, as headroom's `helpful-only` mixture. It knows what no deployable policy
//! knows before training (which domains help), so tables show it apart and do not rank it.

use std::collections::BTreeMap;
use std::path::Path;

use mixagent_core::CoreError;
use serde::Deserialize;

use crate::{bad_state, Scheduled};

/// The parts of `headroom.json` the oracle reads.
#[derive(Deserialize)]
struct Report {
    relevance: Vec<Relevance>,
}

#[derive(Deserialize)]
struct Relevance {
    domain: String,
    field: String,
    help: Help,
}

#[derive(Deserialize)]
struct Help {
    mean: f64,
    /// `null` (NaN) with one selection seed: read as 0, as headroom's `helpful-only` does.
    sd: Option<f64>,
}

/// The oracle mixture of the headroom report in `dir` (or the `headroom.json` itself): the
/// domains whose help exceeds one standard deviation of it, each field half (or its equal
/// share), evenly within the field.
pub fn oracle(dir: &Path) -> Result<Scheduled, CoreError> {
    let file = if dir.is_dir() { dir.join("headroom.json") } else { dir.to_path_buf() };
    let label = format!("oracle:{}", dir.display());
    let text = std::fs::read_to_string(&file).map_err(|e| {
        bad_state(&label, format!("{}: {e}; run `mixagent headroom` first", file.display()))
    })?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        bad_state(&label, format!("{}: {e}: not a headroom report", file.display()))
    })?;
    let mut fields: Vec<&str> = Vec::new();
    for r in &report.relevance {
        if !fields.contains(&r.field.as_str()) {
            fields.push(&r.field);
        }
    }
    if fields.is_empty() {
        return Err(bad_state(&label, format!("{} has no relevance ablation", file.display())));
    }
    let mut weights = BTreeMap::new();
    for f in &fields {
        let helpful: Vec<&str> = report
            .relevance
            .iter()
            .filter(|r| r.field == *f && r.help.mean > r.help.sd.unwrap_or(0.0).max(0.0))
            .map(|r| r.domain.as_str())
            .collect();
        if helpful.is_empty() {
            return Err(bad_state(
                &label,
                format!(
                    "no domain of field `{f}` helps it in {}: there is no oracle mixture",
                    file.display()
                ),
            ));
        }
        let each = 1.0 / (fields.len() * helpful.len()) as f64;
        weights.extend(helpful.into_iter().map(|d| (d.to_string(), each)));
    }
    Scheduled::new("oracle".into(), vec![weights])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, Fixture};
    use mixagent_core::MixingPolicy;

    #[test]
    fn helpful_domains_only_each_field_half_by_hand() {
        let tmp = tempfile::tempdir().unwrap();
        let rel = |d: &str, f: &str, mean: f64, sd: f64| serde_json::json!({"domain": d, "field": f, "help": {"mean": mean, "sd": sd, "n": 3, "half": 0.0}});
        let report = serde_json::json!({"relevance": [
            rel("g0", "general", 0.02, 0.005), rel("g1", "general", 0.001, 0.004),
            rel("g2", "general", -0.01, 0.002), rel("m0", "math", 0.3, 0.01),
            rel("m1", "math", 0.1, 0.05), rel("m2", "math", 0.0, 0.0),
        ]});
        std::fs::write(tmp.path().join("headroom.json"), report.to_string()).unwrap();
        // Helpful: g0 (0.02 > 0.005); m0 and m1. general ½ on g0, math ¼ each on m0 and m1.
        let mut p = oracle(tmp.path()).unwrap();
        let f = Fixture::k_d();
        let m = p.next_mixture(&fixture_input(&f, &[])).unwrap();
        assert_eq!(m.weights(), &[0.5, 0.0, 0.0, 0.25, 0.25, 0.0]);
        assert!(!p.reads_feedback());
        let e = oracle(&tmp.path().join("none")).err().unwrap().to_string();
        assert!(e.contains("run `mixagent headroom` first"), "{e}");
        let none = serde_json::json!({"relevance": [rel("g0", "general", 0.0, 0.1)]});
        std::fs::write(tmp.path().join("headroom.json"), none.to_string()).unwrap();
        let e = oracle(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("no domain of field `general` helps it"), "{e}");
        // One selection seed: no σ (written as null); any positive help counts.
        let one = serde_json::json!({"relevance": [
            {"domain": "g0", "field": "general", "help": {"mean": 0.01, "sd": null}},
            {"domain": "m0", "field": "math", "help": {"mean": 0.2, "sd": null}},
        ]});
        std::fs::write(tmp.path().join("headroom.json"), one.to_string()).unwrap();
        assert!(oracle(tmp.path()).is_ok());
        std::fs::write(tmp.path().join("headroom.json"), none.to_string()).unwrap();
        let e = oracle(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("no domain of field `general` helps it"), "{e}");
    }
}
