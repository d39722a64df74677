//! The pre-flight check on a hand-computed schedule.

use mixagent_controller::export::{PlannedSchedule, PlannedStage};
use mixagent_controller::preflight::{preflight, PreflightOptions};

fn schedule() -> PlannedSchedule {
    PlannedSchedule {
        domains: ["web", "books", "proofs", "qa"].map(String::from).to_vec(),
        stages: vec![
            PlannedStage { tokens: 1000, weights: vec![0.5, 0.02, 0.48, 0.0] },
            PlannedStage { tokens: 3000, weights: vec![0.5, 0.01, 0.49, 0.0] },
        ],
    }
}

#[test]
fn epochs_exhaustion_and_starvation_are_computed() {
    let counts = [("web", 100_000), ("books", 10_000), ("proofs", 600), ("qa", 50)]
        .iter()
        .map(|(n, t)| (n.to_string(), *t as u64))
        .collect();
    let opts = PreflightOptions { tokens_per_step: Some(100), ..Default::default() };
    let r = preflight(&schedule(), &counts, &opts).unwrap();
    // proofs reads 480 in stage 0 and 1470 in stage 1: 1950 of 600 tokens, 3.25 epochs. It runs
    // out 120 / 1470 of the way into stage 1: token 1000 + 244 = 1244, step 12.
    let proofs = &r.domains[2];
    assert!((proofs.planned - 1950.0).abs() < 1e-9);
    assert!((proofs.epochs - 3.25).abs() < 1e-12);
    let x = proofs.exhausted.as_ref().unwrap();
    assert_eq!((x.stage, x.token, x.step), (1, 1244, Some(12)));
    // web lasts; books (50 of 4000 tokens = 1.25%, under 20% of 25%) and qa (never read) starve.
    assert!(r.domains[0].exhausted.is_none() && !r.domains[0].starved);
    assert!(r.domains[1].starved && r.domains[3].starved && !r.domains[2].starved);
    assert_eq!(r.problems.len(), 3, "{:?}", r.problems);
    let text = r.render();
    assert!(text.contains("stage 1, step 12") && text.contains("`books` is starved"), "{text}");
    // Over 3 epochs is flagged with a lower limit.
    let strict = PreflightOptions { max_epochs: 3.0, ..opts };
    assert_eq!(preflight(&schedule(), &counts, &strict).unwrap().problems.len(), 4);
}

#[test]
fn a_domain_without_a_count_is_named() {
    let counts = [("web".to_string(), 10u64)].into();
    let e = preflight(&schedule(), &counts, &PreflightOptions::default()).unwrap_err().to_string();
    assert!(e.contains("`books` has no token count") && e.contains("cover: web"), "{e}");
}
