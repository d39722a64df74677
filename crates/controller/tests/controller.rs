//! The controller against a simulated trainer: it decides what the policy decides when driven
//! directly, a controller rebuilt from its JSON state at any point decides the same, and every
//! bad input is refused with a message that names it.

use std::collections::BTreeMap;
use std::sync::Arc;

use mixagent_controller::{Controller, ControllerError, ControllerState, DomainEntry};
use mixagent_core::{
    Domain, DomainInfo, DomainSpace, Field, MixingPolicy, Mixture, Observation, PolicyInput,
    StageOutcome,
};

const STAGES: usize = 5;

fn domains() -> Vec<DomainEntry> {
    [
        ("web", "general", 600),
        ("books", "general", 200),
        ("proofs", "math", 100),
        ("qa", "math", 300),
    ]
    .iter()
    .map(|&(n, f, t)| DomainEntry {
        name: n.into(),
        field: f.into(),
        tokens: Some(t),
        members: None,
    })
    .collect()
}

/// A trainer's model: source feedback falls and target feedback rises with the target share;
/// each domain's loss falls with its weight.
fn observe(names: &[String], weights: &[f64], before: &Observation) -> Observation {
    let target: f64 = weights[2..].iter().sum();
    let mut feedback = before.feedback.clone();
    *feedback.get_mut("general").unwrap() -= 0.2 * target - 0.05;
    *feedback.get_mut("math").unwrap() += 0.3 * target;
    let domain_loss = names
        .iter()
        .zip(weights)
        .map(|(n, w)| (n.clone(), before.domain_loss[n] * (1.0 - 0.1 * w)))
        .collect();
    Observation { feedback, domain_loss }
}

fn base() -> Observation {
    Observation {
        feedback: [("general".into(), -3.0), ("math".into(), -5.0)].into(),
        domain_loss: ["web", "books", "proofs", "qa"]
            .iter()
            .map(|n| (n.to_string(), 4.0))
            .collect(),
    }
}

fn names() -> Vec<String> {
    domains().into_iter().map(|d| d.name).collect()
}

/// Runs a whole simulated run through the controller, rebuilding it from its JSON state
/// before every call when `rebuild` is set; returns the mixtures handed out.
fn run(policy: &str, rebuild: bool) -> Vec<Vec<f64>> {
    let mut c = Controller::new(policy, 7, domains(), STAGES).unwrap();
    let roundtrip = |c: Controller| {
        if rebuild {
            let text = c.state().to_json();
            Controller::from_state(ControllerState::from_json(&text, "state").unwrap()).unwrap()
        } else {
            c
        }
    };
    c.observe(base(), 0).unwrap();
    let mut last = base();
    let mut out = Vec::new();
    for _ in 0..STAGES {
        c = roundtrip(c);
        let m = c.next_mixture().unwrap();
        c = roundtrip(c);
        assert_eq!(c.next_mixture().unwrap(), m, "asking twice gives the same mixture");
        let obs = observe(&names(), m.weights(), &last);
        c = roundtrip(c);
        c.observe(obs.clone(), 1000).unwrap();
        last = obs;
        out.push(m.weights().to_vec());
    }
    assert!(c.next_mixture().unwrap_err().to_string().contains("all 5 stages are done"));
    out
}

/// The same run with the policy driven directly, as `mixagent cpt` drives it.
fn direct(policy: &str) -> Vec<Vec<f64>> {
    let space = Arc::new(
        DomainSpace::new(
            domains()
                .iter()
                .map(|d| {
                    Domain::new(d.name.as_str(), Field::new(d.field.as_str()).unwrap()).unwrap()
                })
                .collect(),
        )
        .unwrap(),
    );
    let mut p: Box<dyn MixingPolicy> = mixagent_baselines::parse_policy(policy, 7).unwrap();
    let share = [0.75, 0.25, 0.25, 0.75];
    let infos: Vec<DomainInfo> = domains()
        .iter()
        .zip(share)
        .map(|(d, share_in_field)| DomainInfo {
            name: d.name.clone(),
            field: d.field.clone(),
            share_in_field,
            members: vec![d.name.clone()],
        })
        .collect();
    let initial = base();
    let mut history: Vec<StageOutcome> = Vec::new();
    let mut out = Vec::new();
    for _ in 0..STAGES {
        let input = PolicyInput {
            space: &space,
            domains: &infos,
            initial: &initial,
            history: &history,
            total_stages: STAGES,
            steps_per_stage: 1,
        };
        let m: Mixture = p.next_mixture(&input).unwrap();
        let before = history.last().map_or(&initial, |s| &s.observation).clone();
        let obs = observe(&names(), m.weights(), &before);
        out.push(m.weights().to_vec());
        history.push(StageOutcome { mixture: m, observation: obs, tokens: 1000 });
    }
    out
}

#[test]
fn the_controller_decides_as_the_policy_does_and_a_rebuilt_one_the_same() {
    for policy in ["uniform", "fixed:0.7", "dbl", "doremi", "odm"] {
        let direct = direct(policy);
        let live = run(policy, false);
        let rebuilt = run(policy, true);
        assert_eq!(live, direct, "{policy}: controller vs direct");
        assert_eq!(rebuilt, direct, "{policy}: rebuilt from its state at every call");
    }
    // The policies that read feedback did move away from their first mixture.
    let doremi = direct("doremi");
    assert_ne!(doremi[0], doremi[STAGES - 1]);
}

#[test]
fn a_stage_of_the_trainers_own_mixture_is_recorded_and_moves_the_policy_on() {
    let mut c = Controller::new("odm", 1, domains(), STAGES).unwrap();
    c.observe(base(), 0).unwrap();
    let own: BTreeMap<String, f64> = [("web".to_string(), 0.5), ("proofs".to_string(), 0.5)].into();
    let obs = observe(&names(), &[0.5, 0.0, 0.5, 0.0], &base());
    c.record(own, obs, 10).unwrap();
    let m = c.next_mixture().unwrap();
    let text = c.state().to_json();
    let mut again =
        Controller::from_state(ControllerState::from_json(&text, "s").unwrap()).unwrap();
    assert_eq!(again.next_mixture().unwrap(), m);
    assert_eq!(c.state().stages[0].weights["books"], 0.0, "the file lists every entry");
}

#[test]
fn first_departure_finds_the_first_stage_a_policy_would_have_trained_otherwise() {
    // A feedback-reading policy's own stages: it departs from none of them.
    let mut c = Controller::new("doremi", 7, domains(), STAGES).unwrap();
    c.observe(base(), 0).unwrap();
    let mut last = base();
    for _ in 0..3 {
        let m = c.next_mixture().unwrap();
        let obs = observe(&names(), m.weights(), &last);
        c.observe(obs.clone(), 1000).unwrap();
        last = obs;
    }
    assert_eq!(c.first_departure().unwrap(), None);
    // The same stages under uniform: the first one DoReMi did not train uniformly.
    let mut state = c.state().clone();
    let off = state.stages.iter().position(|s| s.weights.values().any(|w| (w - 0.25).abs() > 1e-9));
    assert!(off.is_some(), "DoReMi moved off uniform");
    state.policy = "uniform".into();
    state.policy_identity.clear();
    let uniform = Controller::from_state(state).unwrap();
    assert_eq!(uniform.first_departure().unwrap(), off);
    // A stage of the trainer's own mixture is a departure at that stage.
    let mut c = Controller::new("uniform", 1, domains(), STAGES).unwrap();
    c.observe(base(), 0).unwrap();
    let own: BTreeMap<String, f64> = [("web".to_string(), 0.5), ("proofs".to_string(), 0.5)].into();
    c.record(own, observe(&names(), &[0.5, 0.0, 0.5, 0.0], &base()), 10).unwrap();
    assert_eq!(c.first_departure().unwrap(), Some(0));
}

fn err(r: Result<impl std::fmt::Debug, ControllerError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn bad_input_is_refused_with_what_to_fix() {
    let mut c = Controller::new("uniform", 0, domains(), STAGES).unwrap();
    let e = err(c.next_mixture());
    assert!(e.contains("observe() the base model"), "{e}");
    let mut no_math = base();
    no_math.feedback.remove("math");
    let e = err(c.observe(no_math, 0));
    assert!(e.contains("initial observation") && e.contains("field `math`"), "{e}");
    let mut nan = base();
    nan.feedback.insert("general".into(), f64::NAN);
    let e = err(c.observe(nan, 0));
    assert!(e.contains("`general` is NaN"), "{e}");
    c.observe(base(), 0).unwrap();
    let e = err(c.observe(base(), 0));
    assert!(e.contains("no mixture is pending for stage 0"), "{e}");
    let bad: BTreeMap<String, f64> = [("poems".to_string(), 1.0)].into();
    let e = err(c.record(bad, base(), 0));
    assert!(e.contains("stage 0's weights") && e.contains("unknown domain `poems`"), "{e}");
    let half: BTreeMap<String, f64> = [("web".to_string(), 0.5)].into();
    let e = err(c.record(half, base(), 0));
    assert!(e.contains("sum to 0.5"), "{e}");

    let one_field: Vec<DomainEntry> =
        domains().into_iter().filter(|d| d.field == "general").collect();
    let e = err(Controller::new("uniform", 0, one_field, 3));
    assert!(e.contains("only the field `general`"), "{e}");
    let mut partial = domains();
    partial[1].tokens = None;
    let e = err(Controller::new("uniform", 0, partial, 3));
    assert!(e.contains("not for books"), "{e}");
    let e = err(Controller::new("agent:/nowhere", 0, domains(), 3));
    assert!(e.contains("/nowhere"), "{e}");
    let e = err(Controller::new("uniform", 0, domains(), 0));
    assert!(e.contains("total_stages"), "{e}");

    let e = err(ControllerState::from_json(r#"{"format_version": 9}"#, "s.json"));
    assert!(e.contains("s.json") && e.contains("version 9"), "{e}");
    let e = err(ControllerState::from_json(r#"{"policy": "uniform"}"#, "s.json"));
    assert!(e.contains("no `format_version`"), "{e}");
    let e = err(ControllerState::from_json("{\"format_version\": 1, \"polic", "s.json"));
    assert!(e.contains("s.json") && e.contains("not a controller state"), "{e}");
    let mut state = ControllerState::new("uniform", 0, domains(), 3);
    state.policy_identity = "uniform but older".into();
    let e = err(Controller::from_state(state));
    assert!(e.contains("its files changed"), "{e}");
}

#[test]
fn the_state_file_is_written_atomically_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut c = Controller::new("fixed:0.5", 0, domains(), 2).unwrap();
    c.observe(base(), 0).unwrap();
    c.next_mixture().unwrap();
    c.state().write(&path).unwrap();
    let back = ControllerState::read(&path).unwrap();
    assert_eq!(&back, c.state());
    let e = err(ControllerState::read(&dir.path().join("missing.json")));
    assert!(e.contains("missing.json"), "{e}");
}

#[test]
fn the_standalone_binary_answers_and_links_no_libtorch() {
    let bin = env!("CARGO_BIN_EXE_mixagent-next");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut c = Controller::new("fixed:0.6", 0, domains(), 3).unwrap();
    c.observe(base(), 0).unwrap();
    c.state().write(&path).unwrap();
    let out = std::process::Command::new(bin).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["stage"], 0);
    let general =
        answer["weights"]["web"].as_f64().unwrap() + answer["weights"]["books"].as_f64().unwrap();
    assert!((general - 0.6).abs() < 1e-12);
    std::fs::write(&path, "{\"format_version\": 1, \"policy\": \"uniform\"").unwrap();
    let out = std::process::Command::new(bin).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("state.json"));
    if let Ok(ldd) = std::process::Command::new("ldd").arg(bin).output() {
        let libs = String::from_utf8_lossy(&ldd.stdout);
        assert!(!libs.contains("libtorch"), "{libs}");
    }
}

#[test]
fn the_documented_example_state_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/controller/state.json");
    let mut state = ControllerState::read(&path).unwrap();
    assert_eq!(state.policy, "agent:runs/agent-demo");
    state.policy = "fixed:0.5".into(); // the agent artifact is not part of the repository
    let mut c = Controller::from_state(state).unwrap();
    assert_eq!(c.stage(), 1);
    let m = c.next_mixture().unwrap();
    assert!((m.weights()[2] - 0.5).abs() < 1e-12);
}
