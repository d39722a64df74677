//! State encoding (DESIGN §4, §11). Before stage `t` the agent has seen the base observation
//! and stages `0..t`, each a mixture and the observation after it. Every entry of the space
//! becomes one token: its own features (role, corpus share, its recent weights within its
//! field, its held-out loss change) followed by global features shared by all tokens
//! (progress, the trend of the source, target and balanced feedback, the target share).
//!
//! Every feature means the same in any space and any field (issue 17):
//! - weights are read *within their field* (`n_f·w/W_f`, 1 = even within the field), and the
//!   field split enters only through the target share, so a 2-entry space and a 10 + 4 one
//!   read alike;
//! - feedback is *scale-free per run*: each field's change relative to the base is divided by
//!   the largest magnitude that change has had so far in the run, so a code target whose
//!   relative gains are 2.5× smaller than math's reads like a math one;
//! - held-out loss changes are divided by the largest one over the space at that state.
//!
//! Credit (DESIGN §11, the state's time axis): over the finished stages, how each stage's change
//! of the source (target) feedback followed the entry's weight in that stage: the covariance of
//! the change with `K·w` (1 = the uniform weight), divided by the largest one over the space, so
//! that the agent can relate what it fed to what moved. 0 until two stages have been seen, and
//! for an entry whose weight never varied.
//!
//! History (issue 21, the state's time axis): each token also carries a window of the last
//! `window` stages, most recent first, `HISTORY_FEATURES` per stage: whether the slot holds a
//! stage, the entry's weight within its field and its field's share in that stage, the source
//! and target feedback change over that stage and the entry's held-out loss change (each
//! scale-free as above), how long ago and when in the run. The network attends over each
//! entry's slots and then over the entries, so it can learn its own credit assignment beside
//! the hand-made covariance. Unused slots are zero with `valid = 0`.
//!
//! The trainer sees each trajectory through many views (field level, re-grouped domains), so
//! that no feature is constant over the training set; the artifact clips z-scores anyway.

use std::collections::BTreeMap;

use mixagent_core::Observation;

/// Names of the per-domain features, in token order.
pub const DOMAIN_FEATURES: &[&str] = &[
    "is_source",
    "share_in_field",
    "field_entries_inv",
    "w_last_in_field",
    "w_prev_in_field",
    "w_mean_in_field",
    "loss_rel_scaled",
    "loss_delta_scaled",
    "loss_known",
    "credit_source",
    "credit_target",
];

/// Names of the global features, appended to every domain token.
pub const GLOBAL_FEATURES: &[&str] = &[
    "progress",
    "is_first",
    "source_level",
    "target_level",
    "source_delta",
    "target_delta",
    "balanced_level",
    "balanced_delta",
    "target_share_last",
    "target_share_mean",
];

/// Names of the features of one history slot (one finished stage), in slot order.
pub const HISTORY_FEATURES: &[&str] = &[
    "valid",
    "w_in_field",
    "field_share",
    "source_change",
    "target_change",
    "loss_change",
    "age",
    "position",
];

/// Every feature of a token with a history window of `window` stages: the per-domain
/// features, the global ones, then `h<slot>.<name>` for each slot (slot 0: the last stage).
pub fn feature_names(window: usize) -> Vec<String> {
    let mut names: Vec<String> =
        DOMAIN_FEATURES.iter().chain(GLOBAL_FEATURES).map(|s| s.to_string()).collect();
    for slot in 0..window {
        names.extend(HISTORY_FEATURES.iter().map(|n| format!("h{slot:02}.{n}")));
    }
    names
}

pub use mixagent_core::{DomainInfo, StageOutcome};

/// Everything before the decision.
#[derive(Debug, Clone)]
pub struct History<'a> {
    /// The space's entries; the first entry's field is the source field.
    pub domains: &'a [DomainInfo],
    /// The base model's observation.
    pub initial: &'a Observation,
    /// Finished stages, in order (the record every policy reads).
    pub stages: &'a [StageOutcome],
    /// Stages planned in all.
    pub total_stages: usize,
}

impl History<'_> {
    /// Whether each entry belongs to a target field (any field but the first entry's).
    pub fn is_target(&self) -> Vec<bool> {
        let source = self.domains.first().map(|d| d.field.as_str());
        self.domains.iter().map(|d| Some(d.field.as_str()) != source).collect()
    }
}

/// The encoded state: `domains.len()` tokens of `DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len()`
/// features and `window × HISTORY_FEATURES.len()` history values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct StateTokens {
    /// Number of tokens (domains).
    pub tokens: usize,
    /// Features per token.
    pub width: usize,
    /// `tokens × width` values.
    pub values: Vec<f32>,
}

impl StateTokens {
    /// Token `i`'s features.
    pub fn token(&self, i: usize) -> &[f32] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

/// Smallest scale a scale-free feature is divided by (keeps `0/0` at 0).
const SCALE_FLOOR: f64 = 1e-9;

/// Relative change `(now − start) / |start|` (0 when unknown).
fn rel(now: Option<f64>, start: Option<f64>) -> f64 {
    match (now, start) {
        (Some(n), Some(s)) if n.is_finite() && s.is_finite() && s != 0.0 => (n - s) / s.abs(),
        _ => 0.0,
    }
}

/// Mean relative change over the fields that are (or are not) the source.
fn field_rel(obs: &Observation, base: &Observation, fields: &[String], source: bool) -> f64 {
    let chosen: Vec<f64> = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| (*i == 0) == source)
        .map(|(_, f)| rel(obs.field_feedback(f), base.field_feedback(f)))
        .collect();
    chosen.iter().sum::<f64>() / chosen.len().max(1) as f64
}

/// Mean relative held-out loss change of `obs` against the members' base losses `base`
/// (positive: the loss rose), or `None` where none was measured.
fn loss_rel(obs: &Observation, base: &[(&String, f64)]) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for &(name, start) in base {
        match obs.domain_loss.get(name) {
            Some(now) if now.is_finite() => {
                sum += (now - start) / start;
                n += 1;
            }
            _ => {}
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// Each entry's members with a usable base loss (finite, > 0), and that loss.
fn base_losses<'a>(domains: &'a [DomainInfo], base: &Observation) -> Vec<Vec<(&'a String, f64)>> {
    domains
        .iter()
        .map(|d| {
            d.members
                .iter()
                .filter_map(|n| {
                    let start = *base.domain_loss.get(n)?;
                    (start.is_finite() && start > 0.0).then_some((n, start))
                })
                .collect()
        })
        .collect()
}

/// A run's trace of one quantity (index 0 = the base, then one value per finished stage),
/// read scale-free: the last value and the last change, each divided by the largest magnitude
/// the quantity has had so far (both in [−1, 1], and 2 at most for the change).
fn scale_free(trace: &[f64]) -> (f64, f64) {
    let t = trace.len() - 1;
    if t == 0 {
        return (0.0, 0.0);
    }
    let scale = trace.iter().fold(0f64, |m, v| m.max(v.abs())).max(SCALE_FLOOR);
    (trace[t] / scale, (trace[t] - trace[t - 1]) / scale)
}

/// The covariance of `x` and `y` (0 with fewer than two points). A covariance rather than a
/// slope: weights that co-move (one entry's rise is the others' fall) make slopes of the
/// entries that moved least the largest, and a covariance weighs each by how much it moved.
fn covariance(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let (mx, my) = (x[..n].iter().sum::<f64>() / n as f64, y[..n].iter().sum::<f64>() / n as f64);
    (0..n).map(|j| (x[j] - mx) * (y[j] - my)).sum::<f64>() / n as f64
}

/// Each value divided by the largest magnitude among them (0s stay 0).
fn by_largest(values: &[f64]) -> Vec<f64> {
    let scale = values.iter().fold(0f64, |m, v| m.max(v.abs())).max(SCALE_FLOOR);
    values.iter().map(|v| v / scale).collect()
}

/// Encodes the state before stage `history.stages.len()`, with the last `window` stages as
/// each token's history.
pub fn encode(h: &History<'_>, window: usize) -> StateTokens {
    let k = h.domains.len();
    let mut fields: Vec<String> = Vec::new();
    for d in h.domains {
        if !fields.contains(&d.field) {
            fields.push(d.field.clone());
        }
    }
    let mut per_field: BTreeMap<&str, usize> = BTreeMap::new();
    for d in h.domains {
        *per_field.entry(d.field.as_str()).or_insert(0) += 1;
    }
    let is_target = h.is_target();
    let t = h.stages.len();
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();

    // Traces over the run: base, then after each stage.
    let observations: Vec<&Observation> =
        std::iter::once(h.initial).chain(h.stages.iter().map(|s| &s.observation)).collect();
    let trace = |f: &dyn Fn(&Observation) -> f64| -> Vec<f64> {
        observations.iter().map(|o| f(o)).collect()
    };
    let source_trace = trace(&|o| field_rel(o, h.initial, &fields, true));
    let target_trace = trace(&|o| field_rel(o, h.initial, &fields, false));
    let (source_level, source_delta) = scale_free(&source_trace);
    let (target_level, target_delta) = scale_free(&target_trace);
    let (balanced_level, balanced_delta) = scale_free(&trace(&|o| {
        mixagent_core::balanced_score(o, h.initial, &field_refs).unwrap_or(0.0)
    }));
    let target_share =
        |w: &[f64]| -> f64 { w.iter().zip(&is_target).filter(|(_, t)| **t).map(|(w, _)| w).sum() };
    let shares: Vec<f64> = h.stages.iter().map(|s| target_share(s.mixture.weights())).collect();
    let global = [
        t as f64 / h.total_stages.max(1) as f64,
        f64::from(u8::from(t == 0)),
        source_level,
        target_level,
        source_delta,
        target_delta,
        balanced_level,
        balanced_delta,
        shares.last().copied().unwrap_or(0.0),
        if t == 0 { 0.0 } else { shares.iter().sum::<f64>() / t as f64 },
    ];

    // A stage's weight of entry `i` within its field: n_f·w_i / W_f (1 = even in the field).
    // Field totals per stage are summed once (O(T·K), not O(T·K²)).
    let field_of: Vec<usize> = h
        .domains
        .iter()
        .map(|d| fields.iter().position(|f| *f == d.field).expect("listed above"))
        .collect();
    let totals: Vec<Vec<f64>> = h
        .stages
        .iter()
        .map(|s| {
            let mut t = vec![0f64; fields.len()];
            s.mixture.weights().iter().zip(&field_of).for_each(|(w, &f)| t[f] += w);
            t
        })
        .collect();
    let in_field = |stage: usize, i: usize| -> f64 {
        let n = per_field[h.domains[i].field.as_str()] as f64;
        n * h.stages[stage].mixture.weights()[i] / totals[stage][field_of[i]].max(SCALE_FLOOR)
    };
    // Each entry's relative held-out loss change after each stage, where the history window
    // needs them all; else only after the last two.
    let shown = window.min(t);
    let base_loss = base_losses(h.domains, h.initial);
    let level = |o: &Observation| -> Vec<Option<f64>> {
        base_loss.iter().map(|b| loss_rel(o, b)).collect()
    };
    let levels: Vec<Vec<Option<f64>>> =
        if shown > 0 { observations.iter().map(|o| level(o)).collect() } else { Vec::new() };
    let (now, before) = if shown > 0 {
        (levels[t].clone(), levels[t.saturating_sub(1)].clone())
    } else {
        (level(observations[t]), level(observations[t.saturating_sub(1)]))
    };
    let loss_level = by_largest(&now.iter().map(|v| v.unwrap_or(0.0)).collect::<Vec<_>>());
    let loss_change = by_largest(
        &now.iter()
            .zip(&before)
            .map(|(n, b)| if t == 0 { 0.0 } else { n.unwrap_or(0.0) - b.unwrap_or(0.0) })
            .collect::<Vec<_>>(),
    );

    // Credit: each stage's feedback change against each entry's K·w in that stage.
    let changes = |trace: &[f64]| -> Vec<f64> { trace.windows(2).map(|p| p[1] - p[0]).collect() };
    let (source_changes, target_changes) = (changes(&source_trace), changes(&target_trace));
    let credit = |y: &[f64]| -> Vec<f64> {
        by_largest(
            &(0..k)
                .map(|i| {
                    let x: Vec<f64> =
                        h.stages.iter().map(|s| k as f64 * s.mixture.weights()[i]).collect();
                    covariance(&x, y)
                })
                .collect::<Vec<_>>(),
        )
    };
    let (credit_source, credit_target) = (credit(&source_changes), credit(&target_changes));

    // History: per stage, the feedback changes over the trace's scale (as `scale_free`), and
    // each entry's held-out loss change over the largest one seen in the run.
    let trace_scale =
        |trace: &[f64]| trace.iter().fold(0f64, |m, v| m.max(v.abs())).max(SCALE_FLOOR);
    let (source_scale, target_scale) = (trace_scale(&source_trace), trace_scale(&target_trace));
    let loss_changes: Vec<Vec<f64>> = if shown == 0 {
        Vec::new()
    } else {
        let raw: Vec<Vec<f64>> = (0..t)
            .map(|j| {
                (0..k)
                    .map(|i| match (levels[j + 1][i], levels[j][i]) {
                        (Some(a), Some(b)) => a - b,
                        _ => 0.0,
                    })
                    .collect()
            })
            .collect();
        let scale = raw.iter().flatten().fold(0f64, |m, v| m.max(v.abs())).max(SCALE_FLOOR);
        raw.iter().map(|row| row.iter().map(|v| v / scale).collect()).collect()
    };
    let total = h.total_stages.max(1) as f64;

    let width = DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len() + window * HISTORY_FEATURES.len();
    let mut values = Vec::with_capacity(k * width);
    for (i, d) in h.domains.iter().enumerate() {
        let w_last = t.checked_sub(1).map_or(0.0, |j| in_field(j, i));
        let w_prev = t.checked_sub(2).map_or(0.0, |j| in_field(j, i));
        let w_mean =
            if t == 0 { 0.0 } else { (0..t).map(|j| in_field(j, i)).sum::<f64>() / t as f64 };
        let own = [
            f64::from(u8::from(!is_target[i])),
            d.share_in_field,
            1.0 / per_field[d.field.as_str()] as f64,
            w_last,
            w_prev,
            w_mean,
            loss_level[i],
            loss_change[i],
            f64::from(u8::from(now[i].is_some())),
            credit_source[i],
            credit_target[i],
        ];
        values.extend(own.iter().chain(&global).map(|&x| x as f32));
        for slot in 0..window {
            if slot >= shown {
                values.extend(std::iter::repeat_n(0f32, HISTORY_FEATURES.len()));
                continue;
            }
            let j = t - 1 - slot;
            let stage = [
                1.0,
                in_field(j, i),
                totals[j][field_of[i]],
                source_changes[j] / source_scale,
                target_changes[j] / target_scale,
                loss_changes[j][i],
                (slot + 1) as f64 / total,
                j as f64 / total,
            ];
            values.extend(stage.iter().map(|&x| x as f32));
        }
    }
    StateTokens { tokens: k, width, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(g: f64, m: f64, la: f64, lb: f64) -> Observation {
        Observation {
            feedback: [("general".into(), g), ("math".into(), m)].into(),
            domain_loss: [("a".into(), la), ("b".into(), lb)].into(),
        }
    }

    /// An entry holding half of its field's tokens, its loss read from the domain of its name.
    fn d(n: &str, f: &str) -> DomainInfo {
        DomainInfo { name: n.into(), field: f.into(), share_in_field: 0.5, members: vec![n.into()] }
    }

    fn domains() -> Vec<DomainInfo> {
        let d = |n: &str, f: &str| DomainInfo {
            name: n.into(),
            field: f.into(),
            share_in_field: 1.0,
            members: vec![n.into()],
        };
        vec![d("a", "general"), d("b", "math")]
    }

    #[test]
    fn the_first_state_knows_only_the_base() {
        let ds = domains();
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let s = encode(&History { domains: &ds, initial: &base, stages: &[], total_stages: 4 }, 0);
        assert_eq!((s.tokens, s.width), (2, DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len()));
        let a = s.token(0);
        assert_eq!(a[0], 1.0); // is_source
        assert_eq!(&a[3..8], &[0.0; 5]); // no weights or loss changes yet
        assert_eq!(a[8], 1.0); // loss known
        assert_eq!(a[DOMAIN_FEATURES.len() + 1], 1.0); // is_first
        assert_eq!(s.token(1)[0], 0.0);
    }

    #[test]
    fn features_after_two_stages_are_the_documented_quantities() {
        let ds = domains();
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let o1 = obs(-4.4, -6.0, 4.2, 4.5);
        let o2 = obs(-5.0, -4.0, 4.4, 3.0);
        let (w1, w2) = ([0.5, 0.5], [0.25, 0.75]);
        let stages = [
            StageOutcome::over(&ds, w1.to_vec(), o1.clone(), 0).unwrap(),
            StageOutcome::over(&ds, w2.to_vec(), o2.clone(), 0).unwrap(),
        ];
        let s =
            encode(&History { domains: &ds, initial: &base, stages: &stages, total_stages: 4 }, 0);
        let (a, b) = (s.token(0), s.token(1));
        let close = |x: f32, y: f64| assert!((f64::from(x) - y).abs() < 1e-6, "{x} vs {y}");
        close(b[2], 1.0); // one entry in its field
        close(b[3], 1.0); // a field's only entry always has its field's whole weight
                          // Losses: a 4 → 4.4 (+0.1), b 6 → 3 (−0.5); divided by the largest magnitude 0.5.
        close(a[6], 0.2);
        close(b[6], -1.0);
        // Last changes: a +0.05, b −0.25; divided by 0.25.
        close(a[7], 0.2);
        close(b[7], -1.0);
        let g = &b[DOMAIN_FEATURES.len()..];
        close(g[0], 0.5); // progress 2/4
        close(g[2], -1.0); // source trace 0, −0.1, −0.25: at its largest magnitude
        close(g[3], 1.0); // target trace 0, 0.25, 0.5
        close(g[4], -0.6); // (−0.25 + 0.1) / 0.25
        close(g[5], 0.5); // 0.25 / 0.5
        close(g[6], 1.0); // balanced trace 0, 0.075, 0.125
        close(g[7], 0.4); // 0.05 / 0.125
        close(g[8], 0.75); // last target share
        close(g[9], 0.625); // mean target share
        assert_eq!(a[DOMAIN_FEATURES.len()..], b[DOMAIN_FEATURES.len()..]);
    }

    #[test]
    fn a_target_field_with_smaller_gains_reads_the_same() {
        // Code's relative gains are smaller than math's: scaling every feedback and loss change
        // by a constant must leave the state unchanged.
        let ds = domains();
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let scaled = |f: f64| {
            let o1 = obs(-4.0 - 0.4 * f, -8.0 + 2.0 * f, 4.0 + 0.2 * f, 6.0 - 1.5 * f);
            let o2 = obs(-4.0 - 1.0 * f, -8.0 + 4.0 * f, 4.0 + 0.4 * f, 6.0 - 3.0 * f);
            [o1, o2]
        };
        let w = [0.3, 0.7];
        let states: Vec<StateTokens> = [1.0, 0.1]
            .iter()
            .map(|&f| {
                let os = scaled(f);
                let stages = [
                    StageOutcome::over(&ds, w.to_vec(), os[0].clone(), 0).unwrap(),
                    StageOutcome::over(&ds, w.to_vec(), os[1].clone(), 0).unwrap(),
                ];
                encode(
                    &History { domains: &ds, initial: &base, stages: &stages, total_stages: 4 },
                    3,
                )
            })
            .collect();
        for (x, y) in states[0].values.iter().zip(&states[1].values) {
            assert!((x - y).abs() < 1e-5, "{:?} vs {:?}", states[0].values, states[1].values);
        }
    }

    #[test]
    fn weights_are_read_within_their_field() {
        let ds = vec![d("a", "general"), d("c", "general"), d("b", "math")];
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let w = [0.1, 0.3, 0.6];
        let stages = [StageOutcome::over(&ds, w.to_vec(), base.clone(), 0).unwrap()];
        let s =
            encode(&History { domains: &ds, initial: &base, stages: &stages, total_stages: 4 }, 0);
        let close = |x: f32, y: f64| assert!((f64::from(x) - y).abs() < 1e-6, "{x} vs {y}");
        close(s.token(0)[2], 0.5); // two entries in general
        close(s.token(0)[3], 0.5); // 2 × 0.1 / 0.4
        close(s.token(1)[3], 1.5);
        close(s.token(2)[3], 1.0);
        close(s.token(2)[DOMAIN_FEATURES.len() + 8], 0.6);
    }

    #[test]
    fn credit_follows_the_entry_whose_weight_moved_the_feedback() {
        let ds = vec![d("a", "general"), d("b", "math"), d("c", "math")];
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        // b's weight swings; math gains exactly when b is heavy. a and c share the rest.
        let wb = [0.6, 0.2, 0.6, 0.2];
        let (mut m, mut stages) = (-8.0, Vec::new());
        for &b in &wb {
            m += if b > 0.5 { 1.0 } else { 0.1 };
            let w = vec![(1.0 - b) / 2.0, b, (1.0 - b) / 2.0];
            stages.push(StageOutcome::over(&ds, w, obs(-4.0, m, 4.0, 6.0), 0).unwrap());
        }
        let at = |t: usize| {
            encode(
                &History { domains: &ds, initial: &base, stages: &stages[..t], total_stages: 4 },
                0,
            )
        };
        let (src, tgt) = (DOMAIN_FEATURES.len() - 2, DOMAIN_FEATURES.len() - 1);
        // Nothing to relate before two stages.
        for i in 0..3 {
            assert_eq!(at(1).token(i)[tgt], 0.0);
        }
        let s = at(4);
        assert_eq!(s.token(1)[tgt], 1.0, "b carries the target's credit");
        assert!(s.token(0)[tgt] < -0.4 && s.token(2)[tgt] < -0.4, "{:?}", s.values);
        // The source feedback never moved: no source credit anywhere.
        for i in 0..3 {
            assert_eq!(s.token(i)[src], 0.0);
        }
        // Scale-free: a target field with 10x smaller gains reads the same.
        let small: Vec<StageOutcome> = stages
            .iter()
            .map(|st| {
                let m = -8.0 + (st.observation.feedback["math"] + 8.0) / 10.0;
                StageOutcome::over(&ds, st.mixture.weights().to_vec(), obs(-4.0, m, 4.0, 6.0), 0)
                    .unwrap()
            })
            .collect();
        let s2 =
            encode(&History { domains: &ds, initial: &base, stages: &small, total_stages: 4 }, 0);
        for i in 0..3 {
            assert!((s.token(i)[tgt] - s2.token(i)[tgt]).abs() < 1e-6);
        }
    }

    #[test]
    fn history_slots_hold_the_last_stages_most_recent_first() {
        let ds = vec![d("a", "general"), d("c", "general"), d("b", "math")];
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let o1 = obs(-4.4, -6.0, 4.2, 4.5);
        let o2 = obs(-5.0, -4.0, 4.4, 3.0);
        let stages = [
            StageOutcome::over(&ds, vec![0.1, 0.3, 0.6], o1, 0).unwrap(),
            StageOutcome::over(&ds, vec![0.2, 0.2, 0.6], o2, 0).unwrap(),
        ];
        let window = 3;
        let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 4 };
        let s = encode(&h, window);
        let own = DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len();
        assert_eq!(s.width, own + window * HISTORY_FEATURES.len());
        assert_eq!(feature_names(window).len(), s.width);
        assert_eq!(feature_names(window)[own + HISTORY_FEATURES.len() + 2], "h01.field_share");
        // The first part is the state without history.
        let plain = encode(&h, 0);
        for i in 0..3 {
            assert_eq!(s.token(i)[..own], plain.token(i)[..]);
        }
        let close = |x: f32, y: f64| assert!((f64::from(x) - y).abs() < 1e-6, "{x} vs {y}");
        let slot = |i: usize, n: usize| &s.token(i)[own + n * 8..own + (n + 1) * 8];
        // Entry a, slot 0 = stage 1 (weights 0.2 of 0.4 in general), slot 1 = stage 0.
        let (a0, a1) = (slot(0, 0), slot(0, 1));
        close(a0[0], 1.0);
        close(a0[1], 1.0); // 2 × 0.2 / 0.4
        close(a1[1], 0.5); // 2 × 0.1 / 0.4
        close(a0[2], 0.4); // general's share in stage 1
                           // Source trace 0, −0.1, −0.25 (scale 0.25): changes −0.4, −0.6.
        close(a1[3], -0.4);
        close(a0[3], -0.6);
        // Target trace 0, 0.25, 0.5: changes 0.5, 0.5.
        close(a0[4], 0.5);
        // Loss of a: 4 → 4.2 → 4.4 (+0.05, +0.05); of b: 6 → 4.5 → 3 (−0.25, −0.25).
        close(a0[5], 0.2);
        close(slot(2, 1)[5], -1.0);
        close(a0[6], 0.25); // one stage ago, of 4
        close(a1[6], 0.5);
        close(a0[7], 0.25); // stage 1 of 4
        close(a1[7], 0.0);
        // Entry c has no held-out loss: its loss change is 0.
        close(slot(1, 0)[5], 0.0);
        // Slot 2 is empty.
        assert!(slot(0, 2).iter().all(|&x| x == 0.0));
        // A window shorter than the run keeps the most recent stages.
        let one = encode(&h, 1);
        assert_eq!(one.token(0)[own..], a0[..]);
    }
}
