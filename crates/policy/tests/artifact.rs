//! The agent artifact: a round trip through files, deployment on spaces of other sizes, and
//! clear errors for artifacts that do not fit.

mod common;

use std::collections::HashMap;
use std::path::Path;

use mixagent_policy::{
    write_f32_tensors, AgentSchema, History, NetConfig, Policy, PolicyNet, StageOutcome,
};

type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

fn schema() -> AgentSchema {
    common::schema(0, Default::default())
}

fn tensors(cfg: &NetConfig) -> Tensors {
    PolicyNet::random_tensors(cfg, 7, 0.4)
}

fn write(dir: &Path, schema: &AgentSchema, t: &Tensors) {
    std::fs::write(dir.join("agent.json"), serde_json::to_vec_pretty(schema).unwrap()).unwrap();
    std::fs::write(dir.join("policy.safetensors"), write_f32_tensors(t).unwrap()).unwrap();
}

#[test]
fn a_saved_policy_reloads_and_steers_spaces_of_any_size() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("agent");
    let s = schema();
    let t = tensors(&s.net);
    // Saving twice replaces the folder; no temporary folder is left beside it.
    let small = AgentSchema { net: NetConfig { d_model: 16, ..s.net.clone() }, ..s.clone() };
    Policy::save(&dir, small.clone(), &tensors(&small.net)).unwrap();
    let in_memory = Policy::save(&dir, s.clone(), &t).unwrap();
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    let loaded = Policy::load(&dir).unwrap();
    assert_eq!(loaded.schema, s);
    // A policy that would not load is not written, and the artifact stays as it was.
    let mut nan = t.clone();
    nan.get_mut("head.weight").unwrap().1[0] = f32::NAN;
    assert!(Policy::save(&dir, s.clone(), &nan).unwrap_err().to_string().contains("head.weight"));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    for (g, m) in [(1, 1), (10, 10), (32, 32)] {
        let ds = common::space(g, m);
        let base = common::observation(&ds, -4.0, -6.0);
        let after = common::observation(&ds, -4.2, -5.0);
        let w: Vec<f64> = (0..ds.len()).map(|_| 1.0 / ds.len() as f64).collect();
        let stages = [StageOutcome::over(&ds, w.clone(), after.clone(), 0).unwrap()];
        let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
        let a = loaded.decide(&h).unwrap();
        assert_eq!(a, in_memory.decide(&h).unwrap(), "reloaded policy differs");
        assert_eq!(a.len(), g + m);
        assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(a.iter().all(|&x| x >= 0.05 / (g + m) as f64 - 1e-12));
    }
}

#[test]
fn artifacts_that_do_not_fit_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = schema();
    let t = tensors(&good.net);
    let err = |s: &AgentSchema, t: &Tensors| {
        write(dir.path(), s, t);
        Policy::load(dir.path()).unwrap_err().to_string()
    };

    let mut other_features = good.clone();
    other_features.features.names[3] = "w_latest".into();
    let e = err(&other_features, &t);
    assert!(e.contains("w_latest") && e.contains("retrain"), "{e}");

    let mut version = good.clone();
    version.format_version = 9;
    assert!(err(&version, &t).contains("format version 9, expected 6"));
    // A version-5 agent (no per-domain prior) is refused with the fix.
    version.format_version = 5;
    let e = err(&version, &t);
    assert!(e.contains("format version 5") && e.contains("no per-domain prior"), "{e}");
    // A version-4 agent (a credit that was mostly each entry's own weight) is refused too.
    version.format_version = 4;
    let e = err(&version, &t);
    assert!(e.contains("format version 4") && e.contains("own weight"), "{e}");
    // A version-1 agent (features that froze it on new spaces) is refused with the fix.
    version.format_version = 1;
    let e = err(&version, &t);
    assert!(e.contains("format version 1") && e.contains("mixagent train-agent"), "{e}");

    // A prior outside [-1, 1] names the domain and the field.
    let mut prior = good.clone();
    prior.prior.evidence.entry("g0".into()).or_default().insert("general".into(), 1.5);
    let e = err(&prior, &t);
    assert!(e.contains("`g0`") && e.contains("`general`") && e.contains("1.5"), "{e}");

    let mut nan = t.clone();
    nan.get_mut("head.weight").unwrap().1[0] = f32::NAN;
    assert!(err(&good, &nan).contains("head.weight"));

    let mut missing = t.clone();
    missing.remove("blocks.1.mlp.up.bias");
    assert!(err(&good, &missing).contains("missing tensor `blocks.1.mlp.up.bias`"));

    let mut zero_std = good.clone();
    zero_std.features.std[2] = 0.0;
    assert!(err(&zero_std, &t).contains("deviations and the clip > 0"));
    let mut no_clip = good.clone();
    no_clip.features.clip = -1.0;
    assert!(err(&no_clip, &t).contains("the clip > 0"));

    write(dir.path(), &good, &t);
    let st = dir.path().join("policy.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    let e = Policy::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("policy.safetensors") && e.contains("truncated"), "{e}");

    std::fs::remove_file(dir.path().join("agent.json")).unwrap();
    assert!(Policy::load(dir.path()).unwrap_err().to_string().contains("mixagent train-agent"));

    // A space with only source-field domains cannot be steered.
    let p = Policy::new(good, &t).unwrap();
    let ds = common::space(3, 0);
    let base = common::observation(&ds, -4.0, -6.0);
    let h = History { domains: &ds, initial: &base, stages: &[], total_stages: 4 };
    assert!(p.decide(&h).unwrap_err().to_string().contains("target field"));
}
