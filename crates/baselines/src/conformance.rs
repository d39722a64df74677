//! The conformance harness every policy passes (STYLE: one harness for every algorithm): on a
//! 2-D field-level space and a K-D space, over a simulated run whose feedback follows the
//! mixtures, a policy must
//!
//! - always return a valid simplex over the space it was given;
//! - be deterministic: two policies built with the same seed decide the same;
//! - resume: a policy restored mid-run from a JSON round trip of its `state()` decides what
//!   the uninterrupted one decides, and a state of the wrong shape is refused with an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use mixagent_core::{
    CoreError, Domain, DomainInfo, DomainSpace, Field, MixingPolicy, Mixture, Observation,
    PolicyInput, StageOutcome,
};

/// Stages of the simulated run.
pub const STAGES: usize = 6;

/// A space with its token shares and a base observation.
#[derive(Clone)]
pub struct Fixture {
    /// The space (general first).
    pub space: Arc<DomainSpace>,
    /// Each entry's share of its field's tokens and corpus domains.
    pub domains: Vec<DomainInfo>,
    /// The base model's observation.
    pub initial: Observation,
}

impl Fixture {
    fn new(entries: &[(&str, &str, f64)]) -> Self {
        let domains = entries
            .iter()
            .map(|(n, f, _)| Domain::new(*n, Field::new(*f).expect("valid")).expect("valid"))
            .collect();
        let space = Arc::new(DomainSpace::new(domains).expect("valid space"));
        let initial = Observation {
            feedback: [("general".into(), -3.0), ("math".into(), -6.0)].into(),
            domain_loss: entries.iter().map(|(n, _, _)| (n.to_string(), 4.0)).collect(),
        };
        Fixture {
            space,
            domains: entries
                .iter()
                .map(|&(n, f, share)| DomainInfo {
                    name: n.into(),
                    field: f.into(),
                    share_in_field: share,
                    members: vec![n.into()],
                })
                .collect(),
            initial,
        }
    }

    /// general | math, one entry per field.
    pub fn two_d() -> Self {
        Fixture::new(&[("general", "general", 1.0), ("math", "math", 1.0)])
    }

    /// Three general and three math domains with unequal token shares.
    pub fn k_d() -> Self {
        Fixture::new(&[
            ("g0", "general", 0.5),
            ("g1", "general", 0.3),
            ("g2", "general", 0.2),
            ("m0", "math", 0.6),
            ("m1", "math", 0.3),
            ("m2", "math", 0.1),
        ])
    }
}

/// The input of the next decision after `history`.
pub fn fixture_input<'a>(f: &'a Fixture, history: &'a [StageOutcome]) -> PolicyInput<'a> {
    PolicyInput {
        space: &f.space,
        domains: &f.domains,
        initial: &f.initial,
        history,
        total_stages: STAGES,
        steps_per_stage: 10,
    }
}

/// A simulated stage: math feedback rises with the math share, general feedback falls with it,
/// and each entry's held-out loss falls with its weight (and with its index, so entries differ).
pub fn simulate(f: &Fixture, history: &[StageOutcome], mixture: &Mixture) -> StageOutcome {
    let before = history.last().map_or(&f.initial, |s| &s.observation);
    let math: f64 = f
        .space
        .domains()
        .iter()
        .zip(mixture.weights())
        .filter(|(d, _)| d.field.as_str() == "math")
        .map(|(_, w)| w)
        .sum();
    let mut feedback = BTreeMap::new();
    feedback.insert("general".into(), before.feedback["general"] - 0.2 * math + 0.05);
    feedback.insert("math".into(), before.feedback["math"] + 0.5 * math);
    let domain_loss = f
        .space
        .names()
        .zip(mixture.weights())
        .enumerate()
        .map(|(i, (n, w))| (n.to_string(), before.domain_loss[n] - 0.3 * w - 0.01 * i as f64))
        .collect();
    StageOutcome {
        mixture: mixture.clone(),
        observation: Observation { feedback, domain_loss },
        tokens: 1000,
    }
}

/// Runs `policy` from `history` to the end of the simulated run; returns every stage.
fn run(
    f: &Fixture,
    policy: &mut dyn MixingPolicy,
    mut history: Vec<StageOutcome>,
) -> Result<Vec<StageOutcome>, String> {
    while history.len() < STAGES {
        let m = policy
            .next_mixture(&fixture_input(f, &history))
            .map_err(|e| format!("stage {}: {e}", history.len()))?;
        if m.space().as_ref() != f.space.as_ref() {
            return Err(format!("stage {}: a mixture over another space", history.len()));
        }
        let sum: f64 = m.weights().iter().sum();
        if m.weights().iter().any(|w| !(w.is_finite() && *w >= 0.0)) || (sum - 1.0).abs() > 1e-9 {
            return Err(format!("stage {}: not a simplex point: {:?}", history.len(), m.weights()));
        }
        let outcome = simulate(f, &history, &m);
        history.push(outcome);
    }
    Ok(history)
}

/// Checks a policy family: `make(seed)` builds a fresh policy. Returns what failed.
pub fn check(make: &dyn Fn(u64) -> Box<dyn MixingPolicy>) -> Result<(), CoreError> {
    for (label, f) in [("2-D", Fixture::two_d()), ("K-D", Fixture::k_d())] {
        let name = make(7).name();
        let at = |m: String| CoreError::Policy {
            policy: name.to_string(),
            message: format!("conformance on the {label} space: {m}"),
        };
        let first = run(&f, make(7).as_mut(), Vec::new()).map_err(at)?;
        let again = run(&f, make(7).as_mut(), Vec::new()).map_err(at)?;
        if first != again {
            return Err(at("two runs with the same seed differ".into()));
        }
        // Interrupt after half the stages, save, restore into a fresh policy, continue.
        let half = STAGES / 2;
        let mut p = make(7);
        let mut partial = Vec::new();
        for _ in 0..half {
            let m = p.next_mixture(&fixture_input(&f, &partial)).map_err(|e| at(e.to_string()))?;
            let o = simulate(&f, &partial, &m);
            partial.push(o);
        }
        let text = serde_json::to_string(&p.state()).map_err(|e| at(e.to_string()))?;
        let mut resumed = make(7);
        resumed
            .restore(serde_json::from_str(&text).map_err(|e| at(e.to_string()))?)
            .map_err(|e| at(format!("restoring its own state: {e}")))?;
        let rest = run(&f, resumed.as_mut(), partial).map_err(at)?;
        if rest != first {
            return Err(at(format!("resumed after stage {half}, it decided differently")));
        }
        if !make(7).reads_feedback() {
            // Its schedule is fixed before training: under opposite feedback it decides the same.
            let mut flipped = f.clone();
            let obs = &mut flipped.initial;
            obs.feedback.values_mut().chain(obs.domain_loss.values_mut()).for_each(|v| *v *= 2.0);
            let other = run(&flipped, make(7).as_mut(), Vec::new()).map_err(at)?;
            let weights = |h: &[StageOutcome]| -> Vec<Vec<f64>> {
                h.iter().map(|s| s.mixture.weights().to_vec()).collect()
            };
            if weights(&other) != weights(&first) {
                return Err(at(
                    "says it does not read feedback, but decided differently under other feedback"
                        .into(),
                ));
            }
        }
        if make(7).restore(serde_json::json!("not a policy state")).is_ok() {
            return Err(at("accepted a state of the wrong shape".into()));
        }
    }
    Ok(())
}
