//! State encoding (DESIGN §4, §11). Before stage `t` the agent has seen the base observation
//! and stages `0..t`, each a mixture and the observation after it. Every entry of the space
//! becomes one token: its own features (role, corpus share, its recent weights within its
//! field, its held-out loss change) followed by global features shared by all tokens
//! (progress, the trend of the source, target and balanced feedback, the target share and the
//! evidence that it moved the feedback).
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
//! Credit (DESIGN §11, the state's time axis): over the finished stages, the evidence that the
//! source (target) feedback rose in the stages where the entry held more *of its field*, once
//! the target share and the stage's place in the run are accounted for (a partial correlation
//! scaled by its degrees of freedom, in [−1, 1]; `credits`). An entry's weight that moved only
//! with its field's share tells nothing about the entry, so it earns no credit: that is why the
//! collection jitters the split within each field (`families.within_jitter`) and the deployed
//! agent may too (`decision.explore`). Until version 5 the credit was the covariance of the
//! change with `K·w` over the space, divided by the largest one, which on the smooth families
//! (a field's split fixed, only its share moving) was the entry's own weight times a sign.
//!
//! History (issue 21, the state's time axis): each token also carries a window of the last
//! `window` stages, most recent first, `HISTORY_FEATURES` per stage: whether the slot holds a
//! stage, the entry's weight within its field and its field's share in that stage, the source
//! and target feedback change over that stage and the entry's held-out loss change (each
//! scale-free as above), how long ago and when in the run. The network attends over each
//! entry's slots and then over the entries, so it can learn its own credit assignment beside
//! the hand-made credit. Unused slots are zero with `valid = 0`.
//!
//! Prior (issue 21, artifact version 6): what the collection says of each entry's domains,
//! by name (`DomainPrior`, `prior.rs`): the evidence that they raise the source field's
//! feedback and the target fields', each with a flag for whether the collection read them at
//! all. One run's credit cannot tell a field's domains apart; the collection's many runs can.
//! [`encode`] knows no prior (every flag 0); a policy reads its artifact's
//! ([`encode_with_prior`]).
//!
//! The trainer sees each trajectory through many views (field level, re-grouped domains), so
//! that no feature is constant over the training set; the artifact clips z-scores anyway.

use std::collections::BTreeMap;

use mixagent_core::Observation;

use crate::DomainPrior;

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
    "prior_source",
    "prior_source_known",
    "prior_target",
    "prior_target_known",
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
    "share_credit_source",
    "share_credit_target",
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

/// The least movement, root mean square over the stages, of a series beyond the credit's
/// controls for it to count as evidence: in its own units (1 = an even share of the field for
/// an entry's weight within it; the target share for the share's own credit). The collection's
/// jitter (log-normal σ 0.5) moves an even entry by about 0.5; a movement the controls cannot
/// explain but that small (rounding) is no evidence.
const MIN_MOVE: f64 = 0.05;

/// Residuals of `v` after least squares on the orthonormal `basis`.
fn residual(v: &[f64], basis: &[Vec<f64>]) -> Vec<f64> {
    let mut r = v.to_vec();
    for b in basis {
        let dot: f64 = r.iter().zip(b).map(|(x, y)| x * y).sum();
        r.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
    }
    r
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Credit for one field's feedback (DESIGN §11): for each series in `x` (one value per finished
/// stage), the evidence that the feedback rose in the stages where the series was higher.
/// `changes` is the feedback's change over each stage; `controls` are further series, each
/// with the number of stages from which it is used. Both `x` and the changes are first freed
/// (least squares) of a constant and of the controls (for an entry's weight within its field:
/// the inverse of its field's total, from three stages on, which is how a floor spread over
/// every entry moves a fixed split; the target share, from five, since the share moves a
/// field's feedback by itself; and the stage's place in the run, from six, since gains shrink
/// as the learning rate decays). The credit is then the partial correlation of the two times
/// the square root of the degrees of freedom left, clipped to ±3 and divided by 3: 0 where a
/// series never moved apart from the controls (nothing tells the entry apart from its field)
/// and ±1 only on consistent evidence; by chance alone it has a standard deviation of about a
/// third (r·√dof is about a standard normal). Scale-free: the feedback's units cancel.
///
/// A series that moved by less than [`MIN_MOVE`] (root mean square) beyond the controls gives
/// no evidence either, where a correlation would read a tiny trace at full scale.
///
/// `changes` holds one or more feedbacks' changes (source, target): the basis and the series'
/// residuals are computed once for all of them. The result has one row per feedback.
fn credits(x: &[Vec<f64>], changes: &[&[f64]], controls: &[(usize, &[f64])]) -> Vec<Vec<f64>> {
    let t = x.first().map_or(0, Vec::len);
    let mut columns = vec![vec![1.0; t]];
    for &(from, c) in controls {
        if t >= from {
            columns.push(c[..t].to_vec());
        }
    }
    // Gram–Schmidt; a column the others already span (a constant share) is dropped.
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for c in columns {
        let r = residual(&c, &basis);
        let n = norm(&r);
        if n > 1e-9 * norm(&c).max(SCALE_FLOOR) {
            basis.push(r.iter().map(|x| x / n).collect());
        }
    }
    let dof = t as f64 - basis.len() as f64 - 1.0;
    // Each series' residual and its norm; `None` where it moved too little to count.
    let xs: Vec<Option<(Vec<f64>, f64)>> = x
        .iter()
        .map(|x| {
            let xr = residual(x, &basis);
            let nx = norm(&xr);
            (nx >= MIN_MOVE * (t as f64).sqrt()).then_some((xr, nx))
        })
        .collect();
    changes
        .iter()
        .map(|changes| {
            let y = residual(changes, &basis);
            let ny = norm(&y);
            if dof < 1.0 || ny <= 1e-9 * norm(changes).max(SCALE_FLOOR) {
                return vec![0.0; x.len()];
            }
            xs.iter()
                .map(|xr| match xr {
                    Some((xr, nx)) => {
                        let r = xr.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>() / (nx * ny);
                        (r * dof.sqrt()).clamp(-3.0, 3.0) / 3.0
                    }
                    None => 0.0,
                })
                .collect()
        })
        .collect()
}

/// Each value divided by the largest magnitude among them (0s stay 0).
fn by_largest(values: &[f64]) -> Vec<f64> {
    let scale = values.iter().fold(0f64, |m, v| m.max(v.abs())).max(SCALE_FLOOR);
    values.iter().map(|v| v / scale).collect()
}

/// Encodes the state before stage `history.stages.len()`, with the last `window` stages as
/// each token's history, knowing nothing of the domains beforehand (every prior feature reads
/// unknown).
pub fn encode(h: &History<'_>, window: usize) -> StateTokens {
    encode_with_prior(h, window, &DomainPrior::default())
}

/// As [`encode`], each entry also reading what `prior` says of its members: for the source
/// field's feedback, and for the target fields' (the mean over those it knows).
pub fn encode_with_prior(h: &History<'_>, window: usize, prior: &DomainPrior) -> StateTokens {
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
    // How each stage changed the feedback, and the evidence that the target share drove it
    // (`credits`; a 2-entry space has nothing else to credit).
    let changes = |trace: &[f64]| -> Vec<f64> { trace.windows(2).map(|p| p[1] - p[0]).collect() };
    let (source_changes, target_changes) = (changes(&source_trace), changes(&target_trace));
    let positions: Vec<f64> = (0..t).map(|j| j as f64).collect();
    let share_credit = credits(
        std::slice::from_ref(&shares),
        &[&source_changes, &target_changes],
        &[(4, &positions)],
    );
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
        share_credit[0][0],
        share_credit[1][0],
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
    // A field with no weight at all (possible only without a floor) reads as even.
    let in_field = |stage: usize, i: usize| -> f64 {
        let n = per_field[h.domains[i].field.as_str()] as f64;
        let total = totals[stage][field_of[i]];
        if total <= SCALE_FLOOR {
            return 1.0;
        }
        n * h.stages[stage].mixture.weights()[i] / total
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

    // Credit: how each stage's feedback change followed each entry's weight within its field,
    // field by field. Each field's controls hold 1/(its total) first: with a floor spread over
    // every entry, a fixed split's weights within the field are exactly affine in it
    // (n·w_i/W_f = n·c_i + (1 − n·c_i)·n·floor/(K·W_f)), so a split that only the floor moved
    // is explained away from the first stage with a degree of freedom, however close to 0 the
    // field's share comes; then the share and the trend.
    let (mut credit_source, mut credit_target) = (vec![0.0; k], vec![0.0; k]);
    for f in 0..fields.len() {
        let members: Vec<usize> = (0..k).filter(|&i| field_of[i] == f).collect();
        let series: Vec<Vec<f64>> =
            members.iter().map(|&i| (0..t).map(|j| in_field(j, i)).collect()).collect();
        let inverse: Vec<f64> = totals.iter().map(|w| 1.0 / w[f].max(SCALE_FLOOR)).collect();
        let controls = [(3, inverse.as_slice()), (5, shares.as_slice()), (6, positions.as_slice())];
        let [source, target]: [Vec<f64>; 2] =
            credits(&series, &[&source_changes, &target_changes], &controls)
                .try_into()
                .expect("two feedbacks in, two rows out");
        for (n, &i) in members.iter().enumerate() {
            (credit_source[i], credit_target[i]) = (source[n], target[n]);
        }
    }

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
    // The prior's evidence per entry: (source, known), (target, known).
    let targets: Vec<&str> = fields[1..].iter().map(String::as_str).collect();
    let read_prior = |d: &DomainInfo| -> [f64; 4] {
        let (source, target) = prior.for_entry(&d.members, &fields[0], &targets);
        let known = |v: Option<f64>| f64::from(u8::from(v.is_some()));
        [source.unwrap_or(0.0), known(source), target.unwrap_or(0.0), known(target)]
    };

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
        let prior = read_prior(d);
        values.extend(own.iter().chain(&prior).chain(&global).map(|&x| x as f32));
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

    /// Index of a per-domain feature in a token.
    fn feature(name: &str) -> usize {
        DOMAIN_FEATURES.iter().position(|f| *f == name).expect("a per-domain feature")
    }

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

    /// Stages of a 1 general + 2 math space: the target share `share[j]`, b's part of the math
    /// weight `b[j]`; math gains 1.0 after a stage where b held most of math, 0.1 otherwise.
    fn credit_run(share: &[f64], b: &[f64]) -> (Vec<DomainInfo>, Observation, Vec<StageOutcome>) {
        let ds = vec![d("a", "general"), d("b", "math"), d("c", "math")];
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let (mut m, mut stages) = (-8.0, Vec::new());
        for (&s, &b) in share.iter().zip(b) {
            m += if b > 0.5 { 1.0 } else { 0.1 };
            let w = vec![1.0 - s, s * b, s * (1.0 - b)];
            stages.push(StageOutcome::over(&ds, w, obs(-4.0, m, 4.0, 6.0), 0).unwrap());
        }
        (ds, base, stages)
    }

    #[test]
    fn credit_follows_the_entry_whose_weight_within_its_field_moved_the_feedback() {
        let heavy = [0.8, 0.2, 0.8, 0.2, 0.2, 0.8, 0.8, 0.2];
        let (ds, base, stages) = credit_run(&[0.5; 8], &heavy);
        let at = |stages: &[StageOutcome], t: usize| {
            let h = History { domains: &ds, initial: &base, stages: &stages[..t], total_stages: 8 };
            encode(&h, 0)
        };
        let (src, tgt) = (feature("credit_source"), feature("credit_target"));
        // Nothing to relate before three stages (a constant and one slope need two, and one
        // degree of freedom is left only with three).
        for t in 1..3 {
            for i in 0..3 {
                assert_eq!(at(&stages, t).token(i)[tgt], 0.0);
            }
        }
        // Eight stages: a constant and the trend taken out (the share never moved, so it is
        // dropped), 5 degrees of freedom; b's weight explains the gains exactly (r = 1).
        let s = at(&stages, 8);
        let full = 5f64.sqrt() / 3.0;
        let close = |x: f32, y: f64| assert!((f64::from(x) - y).abs() < 1e-5, "{x} vs {y}");
        close(s.token(1)[tgt], full);
        close(s.token(2)[tgt], -full);
        // a is the whole general field: its weight within it never moves, so no credit; and
        // the source feedback never moved, so no source credit anywhere.
        for i in 0..3 {
            assert_eq!(s.token(i)[src], 0.0);
        }
        assert_eq!(s.token(0)[tgt], 0.0);
        // Scale-free: a target field with 10x smaller gains reads the same.
        let small: Vec<StageOutcome> = stages
            .iter()
            .map(|st| {
                let m = -8.0 + (st.observation.feedback["math"] + 8.0) / 10.0;
                StageOutcome::over(&ds, st.mixture.weights().to_vec(), obs(-4.0, m, 4.0, 6.0), 0)
                    .unwrap()
            })
            .collect();
        let s2 = at(&small, 8);
        for i in 0..3 {
            assert!((s.token(i)[tgt] - s2.token(i)[tgt]).abs() < 1e-6);
        }
    }

    #[test]
    fn a_weight_that_moves_only_with_its_fields_share_earns_no_credit_the_share_does() {
        // b keeps 80% of math throughout; the target share swings, and math gains when it is
        // high (`credit_run` reads b's part: heavy exactly when the share is).
        let share = [0.8, 0.2, 0.8, 0.2, 0.2, 0.8, 0.8, 0.2];
        let (ds, base, mut stages) = credit_run(&share, &share);
        for (st, &s) in stages.iter_mut().zip(&share) {
            let obs = st.observation.clone();
            *st = StageOutcome::over(&ds, vec![1.0 - s, 0.8 * s, 0.2 * s], obs, 0).unwrap();
        }
        let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 8 };
        let s = encode(&h, 0);
        let tgt = feature("credit_target");
        for i in 0..3 {
            assert_eq!(s.token(i)[tgt], 0.0, "entry {i}");
        }
        let share_credit = |name: &str| {
            let at =
                DOMAIN_FEATURES.len() + GLOBAL_FEATURES.iter().position(|f| *f == name).unwrap();
            f64::from(s.token(0)[at])
        };
        assert!((share_credit("share_credit_target") - 5f64.sqrt() / 3.0).abs() < 1e-5);
        assert_eq!(share_credit("share_credit_source"), 0.0);
    }

    #[test]
    fn a_fixed_split_under_a_floor_earns_no_credit_at_any_stage() {
        // Math split 0.97 / 0.03 off a 2% floor over the 3 entries; the target share ramps
        // from near 0, so the floor moves the split within math a lot (b from about 1.2 to
        // 1.9), and the math gains follow the share only.
        let ds = vec![d("a", "general"), d("b", "math"), d("c", "math")];
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let floor = 0.02;
        let (mut m, mut stages) = (-8.0, Vec::new());
        for j in 0..12 {
            let s = 0.01 + 0.05 * j as f64;
            m += 0.3 * s;
            let w: Vec<f64> = [1.0 - s, 0.97 * s, 0.03 * s]
                .iter()
                .map(|v| (1.0 - floor) * v + floor / 3.0)
                .collect();
            stages.push(StageOutcome::over(&ds, w, obs(-4.0, m, 4.0, 6.0), 0).unwrap());
        }
        let tgt = feature("credit_target");
        for t in 1..=12 {
            let h =
                History { domains: &ds, initial: &base, stages: &stages[..t], total_stages: 12 };
            let s = encode(&h, 0);
            for i in 0..3 {
                assert_eq!(s.token(i)[tgt], 0.0, "entry {i} after {t} stages");
            }
        }
        let h = History { domains: &ds, initial: &base, stages: &stages, total_stages: 12 };
        let moved = encode(&h, 0).token(1)[3]
            - encode(&History { stages: &stages[..1], ..h }, 0).token(1)[3];
        assert!(moved.abs() > 0.3, "the floor should move b within math: {moved}");
    }

    #[test]
    fn credit_is_bounded_and_grows_with_the_evidence() {
        // Gains follow b's weight exactly (r = 1): the credit grows as √dof up to its clip.
        let n = 24;
        let b: Vec<f64> =
            (0..n).map(|j| if (j * 7 + j / 3) % 2 == 0 { 0.7 } else { 0.3 }).collect();
        let (ds, base, stages) = credit_run(&vec![0.5; n], &b);
        let credit_b = |t: usize| {
            let h = History { domains: &ds, initial: &base, stages: &stages[..t], total_stages: n };
            f64::from(encode(&h, 0).token(1)[feature("credit_target")])
        };
        let (early, late) = (credit_b(5), credit_b(n));
        assert!(early > 0.0 && late > early, "{early} then {late}");
        assert!(late <= 1.0);
        assert_eq!(late, 1.0, "24 stages of r = 1 are clipped at ±3 degrees-of-freedom units");
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
