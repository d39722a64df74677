//! Every policy passes the conformance harness.

use mixagent_baselines::{conformance::check, parse_policy};

#[test]
fn every_policy_conforms() {
    for spec in [
        "uniform",
        "fixed:0.9",
        "fixed:0.7",
        "fixed:0.5",
        "target-only",
        "dbl",
        "doremi",
        "odm",
        "online-reg",
    ] {
        check(&|seed| parse_policy(spec, seed).unwrap()).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The weights `spec` chooses over 4 stages of the K-D fixture.
fn decisions(spec: &str) -> Vec<Vec<f64>> {
    use mixagent_baselines::conformance::{fixture_input, simulate, Fixture};
    let f = Fixture::k_d();
    let mut policy = parse_policy(spec, 7).unwrap();
    let mut history = Vec::new();
    for _ in 0..4 {
        let m = policy.next_mixture(&fixture_input(&f, &history)).unwrap();
        history.push(simulate(&f, &history, &m));
    }
    history.iter().map(|s| s.mixture.weights().to_vec()).collect()
}

#[test]
fn set_parameters_conform_and_change_the_decisions() {
    for (spec, default) in [
        ("dbl:eta=3", "dbl"),
        ("dbl:target_gain=0.5", "dbl"),
        ("doremi:eta=3,smoothing=0.1", "doremi"),
        ("doremi:target_gain=0.5", "doremi"),
        ("odm:smoothing=0.1", "odm"),
        ("online-reg:eta=2", "online-reg"),
        ("online-reg:explore=0.5", "online-reg"),
        ("online-reg:ridge=100", "online-reg"),
    ] {
        check(&|seed| parse_policy(spec, seed).unwrap()).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(decisions(spec), decisions(default), "{spec} decides as {default} does");
    }
    // Written out, the defaults are the defaults.
    assert_eq!(decisions("dbl:eta=1,target_gain=0.2"), decisions("dbl"));
    assert_eq!(decisions("doremi:eta=1,smoothing=0.001,target_gain=0.2"), decisions("doremi"));
    assert_eq!(decisions("odm:smoothing=0.9"), decisions("odm"));
    assert_eq!(decisions("online-reg:eta=0.5,explore=0.2,ridge=1"), decisions("online-reg"));
}

/// RegMix fitted on 24 simulated proxy runs (named for both fixture spaces).
#[test]
fn regmix_conforms() {
    use mixagent_baselines::{RegMix, RegMixSample};
    let samples: Vec<RegMixSample> = (0..24)
        .map(|i| {
            let m = (i as f64 + 0.5) / 24.0;
            let mut weights: std::collections::BTreeMap<String, f64> =
                [("general".to_string(), 1.0 - m), ("math".to_string(), m)].into();
            for (n, share) in [("g0", 0.5), ("g1", 0.3), ("g2", 0.2)] {
                weights.insert(n.into(), (1.0 - m) * share);
            }
            for (n, share) in [("m0", 0.6), ("m1", 0.3), ("m2", 0.1)] {
                weights.insert(n.into(), m * share);
            }
            RegMixSample { weights, score: m * (1.0 - m) + 0.01 * (i % 3) as f64 }
        })
        .collect();
    check(&|seed| {
        let mut r = RegMix::new(samples.clone(), seed);
        r.candidates = 2_000;
        r.top_k = 10;
        Box::new(r)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// An untrained agent (pseudo-random weights: conformance does not depend on them).
fn agent() -> mixagent_baselines::AgentPolicy {
    use mixagent_policy::{AgentSchema, Policy, PolicyNet};
    let schema = AgentSchema::untrained(16, 2, 32, 2);
    let tensors = PolicyNet::random_tensors(&schema.net, 3, 0.5);
    mixagent_baselines::AgentPolicy::new(Policy::new(schema, &tensors).unwrap())
}

#[test]
fn the_agent_conforms() {
    check(&|_| Box::new(agent())).unwrap_or_else(|e| panic!("{e}"));
}

/// A policy that counts its decisions but forgets the count in its state: the harness must
/// catch it when resuming, and must catch a policy that leaves the simplex.
struct Forgetful {
    calls: usize,
    broken_simplex: bool,
}

impl mixagent_core::MixingPolicy for Forgetful {
    fn name(&self) -> String {
        "forgetful".into()
    }
    fn next_mixture(
        &mut self,
        input: &mixagent_core::PolicyInput<'_>,
    ) -> Result<mixagent_core::Mixture, mixagent_core::CoreError> {
        self.calls += 1;
        let k = input.space.len();
        let mut w = vec![0.0; k];
        w[self.calls % k] = 1.0;
        if self.broken_simplex {
            // Through the checked constructor this cannot leave the simplex; another space can.
            let other = mixagent_baselines::conformance::Fixture::k_d().space;
            let other = if other.len() == k {
                mixagent_baselines::conformance::Fixture::two_d().space
            } else {
                other
            };
            return Ok(mixagent_core::Mixture::uniform(other));
        }
        mixagent_core::Mixture::new(input.space.clone(), w)
    }
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, state: serde_json::Value) -> Result<(), mixagent_core::CoreError> {
        if state.is_null() {
            Ok(())
        } else {
            Err(mixagent_core::CoreError::Policy {
                policy: "forgetful".into(),
                message: "no".into(),
            })
        }
    }
}

#[test]
fn the_harness_catches_a_policy_that_forgets_or_leaves_its_space() {
    let e = check(&|_| Box::new(Forgetful { calls: 0, broken_simplex: false }))
        .unwrap_err()
        .to_string();
    assert!(e.contains("resumed after stage 3"), "{e}");
    let e =
        check(&|_| Box::new(Forgetful { calls: 0, broken_simplex: true })).unwrap_err().to_string();
    assert!(e.contains("another space"), "{e}");
}
