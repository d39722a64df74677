//! Fixtures shared by the policy crate's integration tests.

use mixagent_core::Observation;
use mixagent_policy::{AgentSchema, DecisionConfig, DomainInfo};

/// A valid schema for a small network (`AgentSchema::untrained` with a non-trivial
/// normalisation and floor), with `critics` critics and `decision` settings.
pub fn schema(critics: usize, decision: DecisionConfig) -> AgentSchema {
    let mut s = AgentSchema::untrained(32, 4, 64, 2);
    let f = s.net.input_width();
    s.features.mean = vec![0.1; f];
    s.features.std = vec![0.5; f];
    s.features.clip = 5.0;
    s.floor = 0.05;
    s.critics = critics;
    s.decision = decision;
    s.training = serde_json::json!({"test": true});
    s
}

/// `general` source and `math` target domains, each an even share of its field.
pub fn space(general: usize, math: usize) -> Vec<DomainInfo> {
    let d = |n: String, f: &str, share: f64| DomainInfo {
        members: vec![n.clone()],
        name: n,
        field: f.into(),
        share_in_field: share,
    };
    let mut v: Vec<DomainInfo> =
        (0..general).map(|i| d(format!("g{i}"), "general", 1.0 / general as f64)).collect();
    v.extend((0..math).map(|i| d(format!("m{i}"), "math", 1.0 / math as f64)));
    v
}

/// Feedback `g` (general) and `m` (math), and a distinct held-out loss per domain.
pub fn observation(domains: &[DomainInfo], g: f64, m: f64) -> Observation {
    Observation {
        feedback: [("general".into(), g), ("math".into(), m)].into(),
        domain_loss: domains
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), 3.0 + i as f64 * 0.1))
            .collect(),
    }
}
