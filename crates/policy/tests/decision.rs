//! How a decision is taken from the policy's proposal: the trust region, the critics'
//! pessimistic choice among candidates, and the artifacts that cannot score.

mod common;

use std::collections::HashMap;

use mixagent_policy::{
    critic_prefix, encode, pessimistic, share_band, share_step, tilt_within, trust_region,
    with_target_share, CriticNet, DecisionConfig, History, NetConfig, Policy, PolicyNet,
    StageOutcome,
};

type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// The policy's tensors and `critics` critics' (random, of a visible scale).
fn tensors(cfg: &NetConfig, critics: usize) -> Tensors {
    let mut t = PolicyNet::random_tensors(cfg, 7, 0.4);
    for j in 0..critics {
        t.extend(CriticNet::random_tensors(cfg, &critic_prefix(j), 100 + j as u64, 0.4));
    }
    t
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

#[test]
fn the_trust_region_moves_a_mixture_toward_the_last_one_by_hand() {
    let last = [0.5, 0.3, 0.2];
    // L1 distance 0.6; a radius of 0.3 keeps half the step: last + 0.5·(w − last).
    let w = trust_region(vec![0.8, 0.1, 0.1], &last, 0.3);
    for (a, b) in w.iter().zip([0.65, 0.2, 0.15]) {
        assert!((a - b).abs() < 1e-12, "{w:?}");
    }
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // Inside the region, or unbounded (2 is the largest L1 distance of two mixtures): unchanged.
    assert_eq!(trust_region(vec![0.8, 0.1, 0.1], &last, 0.6), vec![0.8, 0.1, 0.1]);
    assert_eq!(trust_region(vec![1.0, 0.0, 0.0], &last, 2.0), vec![1.0, 0.0, 0.0]);
}

#[test]
fn the_critics_choose_the_pessimistically_best_candidate_inside_the_trust_region() {
    let ds = common::space(3, 3);
    let base = common::observation(&ds, -4.0, -6.0);
    let last = vec![0.3, 0.3, 0.1, 0.1, 0.1, 0.1];
    let stages =
        [StageOutcome::over(&ds, last.clone(), common::observation(&ds, -4.1, -5.5), 0).unwrap()];
    let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
    let decision = DecisionConfig {
        candidates: 16,
        trust_region: 0.4,
        share_step: 1.0,
        share_band: [0.0, 1.0],
        pessimism: 1.0,
        explore: 0.0,
        prior_tilts: Vec::new(),
        share_grid: 0,
        tilt: 0.0,
        seed: 3,
    };
    let s = common::schema(3, decision.clone());
    let mut t = tensors(&s.net, 3);
    // Random critics peak near the middle of the simplex; ones that read the mixture only
    // through their weighted pool (no per-domain action input) favour some domains, so a drawn
    // candidate beats the mean action and the choice is exercised.
    for (name, (_, v)) in t.iter_mut() {
        if name.contains("phi_action") {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    let policy = Policy::new(s.clone(), &t).unwrap();
    let d = policy.decide_checked(&h).unwrap();
    let scored = d.scored.expect("scored with critics and candidates");
    assert_eq!(scored.candidates, 16);
    assert!(scored.chosen > 0 && scored.value > scored.mean_value, "{scored:?}");
    assert!(l1(&d.weights, &last) <= 0.4 + 1e-9, "outside the trust region: {:?}", d.weights);
    assert!((d.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(d.weights.iter().all(|&w| w >= 0.05 / 6.0 - 1e-12));
    // The reported value is mean − κ·sd of the three critics on the chosen mixture, by hand.
    let mut state = encode(&h, s.net.history);
    policy.normalise(&mut state.values);
    let q: Vec<f64> = (0..3)
        .map(|j| {
            let c = CriticNet::from_tensors(s.net.clone(), &t, &critic_prefix(j)).unwrap();
            let hidden = c.encode(&state.values, state.tokens).unwrap();
            f64::from(c.score(&hidden, &d.weights))
        })
        .collect();
    let mean = q.iter().sum::<f64>() / 3.0;
    let sd = (q.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    assert!((scored.value - (mean - sd)).abs() < 1e-9, "{scored:?} against {q:?}");
    // A decision is a function of the history and the seed: a replay decides alike.
    assert_eq!(policy.decide_checked(&h).unwrap(), d);
    // Without candidates the critics are not asked, and the mean action (bounded) is taken.
    let plain =
        Policy::new(common::schema(3, DecisionConfig { candidates: 0, ..decision.clone() }), &t)
            .unwrap()
            .decide_checked(&h)
            .unwrap();
    assert!(plain.scored.is_none());
    assert!(l1(&plain.weights, &last) <= 0.4 + 1e-9);
    // With the mean action the only candidate, it is chosen.
    let one = Policy::new(common::schema(3, DecisionConfig { candidates: 1, ..decision }), &t)
        .unwrap()
        .decide_checked(&h)
        .unwrap();
    assert_eq!(one.weights, plain.weights);
    assert_eq!(one.scored.unwrap().chosen, 0);
}

#[test]
fn a_decision_that_needs_critics_is_refused_without_them_and_old_artifacts_still_load() {
    let decision = DecisionConfig { candidates: 8, ..Default::default() };
    let s = common::schema(0, decision);
    let err = Policy::new(s.clone(), &tensors(&s.net, 0)).unwrap_err().to_string();
    assert!(err.contains("decision.candidates = 8") && err.contains("none"), "{err}");
    // Critics announced but missing from the tensors: the missing tensor is named.
    let s = common::schema(2, DecisionConfig::default());
    let err = Policy::new(s.clone(), &tensors(&s.net, 1)).unwrap_err().to_string();
    assert!(err.contains("critic.1."), "{err}");
    // Bad settings are named.
    let bad = DecisionConfig { trust_region: 0.0, ..Default::default() };
    let err = Policy::new(common::schema(0, bad), &tensors(&s.net, 0)).unwrap_err().to_string();
    assert!(err.contains("decision.trust_region"), "{err}");
    // An artifact written before critics and decisions existed loads, deciding as it did.
    let dir = tempfile::tempdir().unwrap();
    let s = common::schema(0, DecisionConfig::default());
    let t = tensors(&s.net, 0);
    let policy = Policy::save(dir.path(), s.clone(), &t).unwrap();
    let path = dir.path().join("agent.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let o = json.as_object_mut().unwrap();
    assert!(o.remove("critics").is_some() && o.remove("decision").is_some());
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let old = Policy::load(dir.path()).unwrap();
    assert_eq!(old.schema, s);
    let ds = common::space(3, 3);
    let base = common::observation(&ds, -4.0, -6.0);
    let h = History { domains: &ds, initial: &base, stages: &[], total_stages: 10 };
    assert_eq!(old.decide(&h).unwrap(), policy.decide(&h).unwrap());
}

#[test]
fn critic_values_are_what_a_scored_decision_weighs() {
    let ds = common::space(2, 2);
    let base = common::observation(&ds, -4.0, -6.0);
    let stages = [StageOutcome::over(
        &ds,
        vec![0.4, 0.2, 0.2, 0.2],
        common::observation(&ds, -4.1, -5.5),
        0,
    )
    .unwrap()];
    let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
    let decision = DecisionConfig {
        candidates: 8,
        trust_region: 2.0,
        share_step: 1.0,
        share_band: [0.0, 1.0],
        pessimism: 0.5,
        explore: 0.0,
        prior_tilts: Vec::new(),
        share_grid: 0,
        tilt: 0.0,
        seed: 1,
    };
    let s = common::schema(2, decision);
    let policy = Policy::new(s.clone(), &tensors(&s.net, 2)).unwrap();
    let d = policy.decide_checked(&h).unwrap();
    let q = policy.critic_values(&h, std::slice::from_ref(&d.weights)).unwrap();
    assert_eq!((q.len(), q[0].len()), (1, 2));
    let value = pessimistic(&q[0], 0.5);
    assert!((value - d.scored.unwrap().value).abs() < 1e-9, "{value} vs {:?}", d.scored);
    // A candidate of the wrong length is refused, naming both lengths.
    let err = policy.critic_values(&h, &[vec![0.5, 0.5]]).unwrap_err().to_string();
    assert!(err.contains("2 weights") && err.contains("4 entries"), "{err}");
}

#[test]
fn a_target_share_keeps_each_fields_proportions_by_hand() {
    let is_target = [false, false, true, true];
    // Source 0.6 split 2:1, target 0.4 split 3:1; at share 0.8: source 0.2 → (0.133, 0.067),
    // target 0.8 → (0.6, 0.2).
    let w = with_target_share(&[0.4, 0.2, 0.3, 0.1], &is_target, 0.8);
    for (a, b) in w.iter().zip([0.2 * 2.0 / 3.0, 0.2 / 3.0, 0.6, 0.2]) {
        assert!((a - b).abs() < 1e-12, "{w:?}");
    }
    // A field with no mass gets equal weights.
    assert_eq!(with_target_share(&[1.0, 0.0], &[false, true], 0.25), vec![0.75, 0.25]);
    let w = with_target_share(&[0.5, 0.5, 0.0, 0.0], &is_target, 0.5);
    assert_eq!(w, vec![0.25, 0.25, 0.25, 0.25]);
}

#[test]
fn exploration_moves_the_split_within_each_field_and_keeps_its_total() {
    let ds = common::space(3, 3);
    let base = common::observation(&ds, -4.0, -6.0);
    let stages = [StageOutcome::over(
        &ds,
        vec![0.3, 0.3, 0.1, 0.1, 0.1, 0.1],
        common::observation(&ds, -4.1, -5.5),
        0,
    )
    .unwrap()];
    let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
    let t = tensors(&common::schema(0, DecisionConfig::default()).net, 0);
    let decide = |explore: f64, seed: u64| {
        let decision = DecisionConfig { explore, seed, ..Default::default() };
        Policy::new(common::schema(0, decision), &t).unwrap().decide(&h).unwrap()
    };
    let (plain, explored) = (decide(0.0, 0), decide(0.5, 0));
    let target = |w: &[f64]| w[3..].iter().sum::<f64>();
    assert!((target(&plain) - target(&explored)).abs() < 1e-9, "the field totals stay");
    assert!((explored.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(explored.iter().all(|&w| w >= 0.05 / 6.0 - 1e-12), "the floor holds");
    assert!(l1(&plain, &explored) > 0.01, "no exploration: {plain:?} vs {explored:?}");
    // A function of the seed and the stage: the same again, another seed differs.
    assert_eq!(explored, decide(0.5, 0));
    assert_ne!(explored, decide(0.5, 1));
    // Explored before the trust region: the result stays within it.
    let bounded = DecisionConfig { explore: 1.0, trust_region: 0.05, ..Default::default() };
    let w = Policy::new(common::schema(0, bounded), &t).unwrap().decide(&h).unwrap();
    assert!(l1(&w, stages[0].mixture.weights()) <= 0.05 + 1e-9, "{w:?}");
    let bad = DecisionConfig { explore: f64::NAN, ..Default::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("decision.explore"));
}

#[test]
fn prior_tilts_add_candidates_that_move_toward_the_priors_domains_within_fields() {
    let ds = common::space(2, 2);
    let base = common::observation(&ds, -4.0, -6.0);
    let stages = [StageOutcome::over(
        &ds,
        vec![0.3, 0.3, 0.2, 0.2],
        common::observation(&ds, -4.1, -5.5),
        0,
    )
    .unwrap()];
    let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
    let mut b = mixagent_policy::PriorBuilder::default();
    for c in [0.5, 0.7, 0.6] {
        b.add_run();
        b.add("g0", "general", c); // g0 helps the source field
        b.add("m1", "math", c); // m1 helps the target
        b.add("g1", "math", c); // read only for math: g1 is a source entry
    }
    let decision =
        DecisionConfig { candidates: 4, prior_tilts: vec![1.0, 3.0], ..Default::default() };
    let mut s = common::schema(2, decision);
    s.prior = b.finish();
    let policy = Policy::new(s.clone(), &tensors(&s.net, 2)).unwrap();
    assert_eq!(policy.own_field_evidence(&h), vec![1.0, 0.0, 0.0, 1.0]);
    let d = policy.decide_checked(&h).unwrap();
    assert_eq!(d.scored.unwrap().candidates, 6, "4 of the policy's and 2 tilts");
    // A tilt keeps the field totals and moves each field toward its prior's domain, further
    // at κ = 3; an entry the prior does not know keeps its place relative to its field-mates.
    let w = [0.3, 0.3, 0.2, 0.2];
    let ev = policy.own_field_evidence(&h);
    let within = |w: &[f64], i: usize, f: std::ops::Range<usize>| w[i] / w[f].iter().sum::<f64>();
    let (t1, t3) = (tilt_within(&w, &ds, &ev, 1.0, 0.05), tilt_within(&w, &ds, &ev, 3.0, 0.05));
    for t in [&t1, &t3] {
        assert!((t[0] + t[1] - 0.6).abs() < 1e-9 && (t[2] + t[3] - 0.4).abs() < 1e-9, "{t:?}");
        assert!(t.iter().all(|&x| x >= 0.05 / 4.0 - 1e-12), "the floor holds: {t:?}");
    }
    assert!(
        within(&w, 0, 0..2) < within(&t1, 0, 0..2) && within(&t1, 0, 0..2) < within(&t3, 0, 0..2)
    );
    assert!(within(&t1, 3, 2..4) > 0.5 && within(&t3, 3, 2..4) > within(&t1, 3, 2..4));
    // By hand: above the floor (0.0125 each), general holds 0.2875 + 0.2875; ×e on g0.
    let e = std::f64::consts::E;
    let g0 = 0.0125 + 0.95 * (0.575 / 0.95) * e / (e + 1.0);
    assert!((t1[0] - g0).abs() < 1e-9, "{} vs {g0}", t1[0]);
    // `tilt` moves the policy's own proposal (no critics needed) and keeps its field split.
    let decide = |tilt: f64| {
        let mut t = s.clone();
        t.decision = DecisionConfig { tilt, ..Default::default() };
        Policy::new(t, &tensors(&s.net, 2)).unwrap().decide(&h).unwrap()
    };
    let (plain, tilted) = (decide(0.0), decide(2.0));
    assert!((plain[2] + plain[3] - tilted[2] - tilted[3]).abs() < 1e-9);
    assert!(within(&tilted, 0, 0..2) > within(&plain, 0, 0..2));
    assert!(within(&tilted, 3, 2..4) > within(&plain, 3, 2..4));
    // Bad strengths and tilts without candidates are refused.
    for (tilts, candidates, tilt) in
        [(vec![f64::NAN], 4, 0.0), (vec![1.0], 0, 0.0), (vec![], 0, f64::INFINITY)]
    {
        let mut bad = s.clone();
        bad.decision =
            DecisionConfig { candidates, prior_tilts: tilts, tilt, ..Default::default() };
        assert!(Policy::new(bad, &tensors(&s.net, 2)).is_err());
    }
}

#[test]
fn the_share_step_bounds_how_far_the_field_split_moves_a_stage() {
    let is_target = [false, false, true, true];
    let last = [0.3, 0.3, 0.2, 0.2];
    // Share 0.4 → 0.8: a step of 0.1 keeps a quarter of the move, by hand.
    let w = share_step(vec![0.1, 0.1, 0.4, 0.4], &last, &is_target, 0.1);
    for (a, b) in w.iter().zip([0.25, 0.25, 0.25, 0.25]) {
        assert!((a - b).abs() < 1e-12, "{w:?}");
    }
    // Within the step (the within-field split may move freely), or unbounded: unchanged.
    assert_eq!(share_step(vec![0.5, 0.1, 0.3, 0.1], &last, &is_target, 0.1), [0.5, 0.1, 0.3, 0.1]);
    assert_eq!(share_step(vec![0.0, 0.0, 0.5, 0.5], &last, &is_target, 1.0), [0.0, 0.0, 0.5, 0.5]);
    // In a decision: the policy's proposal and every candidate stay within the step of the
    // last stage's share, above the floor; the first stage (no last mixture) is not bounded.
    let ds = common::space(3, 3);
    let base = common::observation(&ds, -4.0, -6.0);
    let last = vec![0.3, 0.3, 0.1, 0.1, 0.1, 0.1];
    let stages =
        [StageOutcome::over(&ds, last.clone(), common::observation(&ds, -4.1, -5.5), 0).unwrap()];
    let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
    let target = |w: &[f64]| w[3..].iter().sum::<f64>();
    let mut t = tensors(&common::schema(2, DecisionConfig::default()).net, 2);
    // A policy that wants much more target: its share head's mean bias.
    t.get_mut("share.bias").expect("a share head").1[0] = 3.0;
    let decide = |share: f64, candidates: usize, h: &History<'_>| {
        let d = DecisionConfig { share_step: share, candidates, seed: 5, ..Default::default() };
        Policy::new(common::schema(2, d), &t).unwrap().decide(h).unwrap()
    };
    let free = decide(1.0, 0, &h);
    assert!(target(&free) - target(&last) > 0.1, "the proposal moves the share: {free:?}");
    for candidates in [0, 8] {
        let w = decide(0.05, candidates, &h);
        assert!((target(&w) - target(&last)).abs() <= 0.05 + 1e-9, "{w:?}");
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(w.iter().all(|&x| x >= 0.05 / 6.0 - 1e-12), "the floor holds: {w:?}");
    }
    let first = History { stages: &[], ..h };
    assert_eq!(decide(0.05, 0, &first), decide(1.0, 0, &first));
    // Written only when bounded (older readers load the unbounded default), and checked.
    let json = serde_json::to_string(&DecisionConfig::default()).unwrap();
    assert!(!json.contains("share_step"), "{json}");
    let bad = DecisionConfig { share_step: 0.0, ..Default::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("decision.share_step"));
}

#[test]
fn the_share_band_keeps_the_field_split_within_bounds() {
    let is_target = [false, false, true, true];
    // Floor 0.04 over 4 entries: 0.01 each. Share 0.9 → 0.7: the target side's 0.88 above the
    // floor becomes 0.68 (0.40 : 0.48 kept), the source side's 0.08 becomes 0.28, by hand.
    let w = share_band(vec![0.05, 0.05, 0.41, 0.49], &is_target, [0.2, 0.7], 0.04);
    let want = [0.15, 0.15, 0.01 + 0.40 * 0.68 / 0.88, 0.01 + 0.48 * 0.68 / 0.88];
    for (a, b) in w.iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{w:?}");
    }
    // From below: share 0.02 → 0.2; a side with nothing above the floor gets equal shares.
    let w = share_band(vec![0.49, 0.49, 0.01, 0.01], &is_target, [0.2, 0.7], 0.04);
    let want = [0.4, 0.4, 0.1, 0.1];
    for (a, b) in w.iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{w:?}");
    }
    // A 2-entry (field-level) space: the split is the two entries. Share 0.9 → 0.7 over a floor
    // of 0.01 each: target 0.01 + 0.89 · 0.69 / 0.89, source 0.01 + 0.29.
    let w = share_band(vec![0.1, 0.9], &[false, true], [0.2, 0.7], 0.02);
    assert!((w[0] - 0.3).abs() < 1e-12 && (w[1] - 0.7).abs() < 1e-12, "{w:?}");
    // Inside the band, or unbounded: unchanged.
    assert_eq!(
        share_band(vec![0.3, 0.2, 0.3, 0.2], &is_target, [0.2, 0.7], 0.04),
        [0.3, 0.2, 0.3, 0.2]
    );
    assert_eq!(
        share_band(vec![0.0, 0.0, 0.5, 0.5], &is_target, [0.0, 1.0], 0.04),
        [0.0, 0.0, 0.5, 0.5]
    );
    // In a decision: the policy's proposal, every candidate and the first stage stay in the
    // band, above the floor.
    let ds = common::space(3, 3);
    let base = common::observation(&ds, -4.0, -6.0);
    let last = vec![0.3, 0.3, 0.1, 0.1, 0.1, 0.1];
    let stages = [StageOutcome::over(&ds, last, common::observation(&ds, -4.1, -5.5), 0).unwrap()];
    let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
    let first = History { stages: &[], ..h };
    let target = |w: &[f64]| w[3..].iter().sum::<f64>();
    let mut t = tensors(&common::schema(2, DecisionConfig::default()).net, 2);
    t.get_mut("share.bias").expect("a share head").1[0] = 3.0;
    let decide = |band: [f64; 2], candidates: usize, h: &History<'_>| {
        let d = DecisionConfig { share_band: band, candidates, seed: 5, ..Default::default() };
        Policy::new(common::schema(2, d), &t).unwrap().decide(h).unwrap()
    };
    assert!(target(&decide([0.0, 1.0], 0, &h)) > 0.7, "the proposal leaves the band");
    for (candidates, h) in [(0, &h), (8, &h), (0, &first), (8, &first)] {
        let w = decide([0.2, 0.6], candidates, h);
        assert!((target(&w) - 0.6).abs() < 1e-9, "{w:?}");
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(w.iter().all(|&x| x >= 0.05 / 6.0 - 1e-12), "the floor holds: {w:?}");
    }
    // Written only when bounded, and checked.
    let json = serde_json::to_string(&DecisionConfig::default()).unwrap();
    assert!(!json.contains("share_band"), "{json}");
    for band in [[0.5, 0.4], [-0.1, 0.5], [0.2, f64::NAN], [0.2, 1.5]] {
        let bad = DecisionConfig { share_band: band, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("decision.share_band"));
    }
}

#[test]
fn a_share_grid_lets_the_critics_set_the_field_split() {
    // The policy is sure of a high target share (its share head's bias); the grid adds its
    // mean action moved to shares 0.2, 0.4, 0.6 and 0.8, and the critics' pessimistic best of
    // the five is taken: computed here by hand from the critics' values.
    let ds = common::space(3, 3);
    let base = common::observation(&ds, -4.0, -6.0);
    let last = vec![0.3, 0.3, 0.1, 0.1, 0.1, 0.1];
    let stages = [StageOutcome::over(&ds, last, common::observation(&ds, -4.3, -5.5), 0).unwrap()];
    let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 10 };
    let is_target = [false, false, false, true, true, true];
    let target = |w: &[f64]| w[3..].iter().sum::<f64>();
    let mut t = tensors(&common::schema(2, DecisionConfig::default()).net, 2);
    t.get_mut("share.bias").expect("a share head").1[0] = 3.0;
    let policy = |d: DecisionConfig| Policy::new(common::schema(2, d), &t).unwrap();
    let mean = policy(DecisionConfig::default()).decide(&h).unwrap();
    assert!(target(&mean) > 0.85, "{mean:?}");
    let band = [0.2, 0.8];
    let grid =
        DecisionConfig { candidates: 1, share_grid: 4, share_band: band, ..Default::default() };
    let p = policy(grid);
    let d = p.decide_checked(&h).unwrap();
    let scored = d.scored.expect("scored");
    assert_eq!(scored.candidates, 5, "the mean action and four shares");
    let floor = p.schema.floor;
    let mut all = vec![share_band(mean.clone(), &is_target, band, floor)];
    for s in [0.2, 0.4, 0.6, 0.8] {
        let w = share_band(mean.clone(), &is_target, [s, s], floor);
        assert!((target(&w) - s).abs() < 1e-9 && w.iter().all(|&x| x >= floor / 6.0 - 1e-12));
        all.push(w);
    }
    let values: Vec<f64> =
        p.critic_values(&h, &all).unwrap().iter().map(|q| pessimistic(q, 1.0)).collect();
    let best = (1..5).fold(0, |b, i| if values[i] > values[b] { i } else { b });
    assert_eq!(scored.chosen, best, "{values:?}");
    assert!(best > 0, "a grid share beats the sure proposal here: {values:?}");
    assert!((scored.value - values[best]).abs() < 1e-6, "{values:?}");
    assert!(l1(&d.weights, &all[best]) < 1e-9, "{:?} vs {:?}", d.weights, all[best]);
    // Written only when set; one share, or no critics' choice, is refused with the reason.
    let json = serde_json::to_string(&DecisionConfig::default()).unwrap();
    assert!(!json.contains("share_grid"), "{json}");
    for (candidates, share_grid) in [(1, 1), (0, 4)] {
        let bad = DecisionConfig { candidates, share_grid, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("decision.share_grid"));
    }
}
