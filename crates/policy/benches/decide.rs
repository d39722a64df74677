//! Decision latency of the pure-Rust policy on one core: encode the state, normalise, run the
//! network, softmax with the floor. Goal (issue 6): ≤ 1 ms per decision for 64 domains.
//!
//!     cargo bench -p mixagent-policy --bench decide
//!
//! Weights are pseudo-random (latency does not depend on their values); the history has 10
//! finished stages, and 24 (the default history window, full) in the last column of the first
//! table. The second table adds the critics' pessimistic choice among candidates
//! (issue 21): two critics, `decision.candidates` mixtures drawn and scored.

use std::time::Instant;

use mixagent_core::Observation;
use mixagent_policy::{
    critic_prefix, AgentSchema, CriticNet, DecisionConfig, DomainInfo, History, Policy, PolicyNet,
    StageOutcome,
};

fn policy(d_model: usize, d_ff: usize, critics: usize, candidates: usize) -> (Policy, usize) {
    let mut schema = AgentSchema::untrained(d_model, 4, d_ff, 2);
    schema.floor = 0.05;
    schema.critics = critics;
    schema.decision = DecisionConfig { candidates, trust_region: 0.5, ..Default::default() };
    let mut tensors = PolicyNet::random_tensors(&schema.net, 1, 0.2);
    let params = tensors.values().map(|(_, v)| v.len()).sum();
    for j in 0..critics {
        tensors.extend(CriticNet::random_tensors(
            &schema.net,
            &critic_prefix(j),
            2 + j as u64,
            0.2,
        ));
    }
    (Policy::new(schema, &tensors).expect("valid"), params)
}

fn main() {
    println!(
        "| d_model | d_ff | params | domains | median µs / decision | p90 µs | median µs, 24 stages |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (d, ff) in [(64, 256), (96, 384), (128, 512)] {
        let (p, params) = policy(d, ff, 0, 0);
        for k in [2usize, 20, 64] {
            let (median, p90) = latency(&p, k, 10);
            let (full, _) = latency(&p, k, 24);
            println!("| {d} | {ff} | {params} | {k} | {median:.1} | {p90:.1} | {full:.1} |");
        }
    }
    println!();
    println!("| critics | candidates | domains | median µs / decision | p90 µs |");
    println!("|---|---|---|---|---|");
    for candidates in [0, 16, 64] {
        let (p, _) = policy(64, 256, 2, candidates);
        for k in [2usize, 20, 64] {
            let (median, p90) = latency(&p, k, 10);
            println!("| 2 | {candidates} | {k} | {median:.1} | {p90:.1} |");
        }
    }
}

/// Median and 90th percentile µs of 2,000 decisions over `k` domains after `stages` stages.
fn latency(p: &Policy, k: usize, stages: usize) -> (f64, f64) {
    let domains: Vec<DomainInfo> = (0..k)
        .map(|i| DomainInfo {
            name: format!("d{i}"),
            field: if i < k / 2 { "general" } else { "math" }.into(),
            share_in_field: 2.0 / k as f64,
            members: vec![format!("d{i}")],
        })
        .collect();
    let obs = |x: f64| Observation {
        feedback: [("general".into(), -4.0 - x), ("math".into(), -6.0 + x)].into(),
        domain_loss: domains.iter().map(|d| (d.name.clone(), 3.0 + x)).collect(),
    };
    let base = obs(0.0);
    let after: Vec<Observation> = (0..stages).map(|i| obs(0.1 * i as f64)).collect();
    let w = vec![1.0 / k as f64; k];
    let stages: Vec<StageOutcome> = after
        .iter()
        .map(|o| StageOutcome::over(&domains, w.clone(), o.clone(), 0).unwrap())
        .collect();
    let h = History { domains: &domains, initial: &base, stages: &stages, total_stages: 32 };
    let reps = 2000;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        std::hint::black_box(p.decide(std::hint::black_box(&h)).expect("decides"));
        times.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[reps / 2], times[reps * 9 / 10])
}
