//! The agent artifact: `agent.json` and `policy.safetensors` (the input is split at its first
//! 0xFF byte), loaded and asked for a decision.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

use mixagent_core::Observation;
use mixagent_policy::{DomainInfo, History, Policy};

fuzz_target!(|data: &[u8]| {
    let (json, tensors) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let dir = common::scratch().join("agent");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("agent.json"), json).unwrap();
    std::fs::write(dir.join("policy.safetensors"), tensors).unwrap();
    let _ = mixagent_policy::read_f32_tensors(tensors);
    if let Ok(policy) = Policy::load(&dir) {
        let d = |n: &str, f: &str| DomainInfo {
            name: n.into(),
            field: f.into(),
            share_in_field: 1.0,
            loss_domains: vec![n.into()],
        };
        let domains = [d("g", "general"), d("m", "math")];
        let obs = Observation {
            feedback: [("general".into(), -3.0), ("math".into(), -5.0)].into(),
            domain_loss: Default::default(),
        };
        let h = History { domains: &domains, initial: &obs, stages: &[], total_stages: 4 };
        if let Ok(w) = policy.decide(&h) {
            assert_eq!(w.len(), 2);
        }
    }
});
