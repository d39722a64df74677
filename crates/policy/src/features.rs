//! State encoding (DESIGN §4). Before stage `t` the agent has seen the base observation and
//! stages `0..t`, each a mixture and the observation after it. Every domain of the space
//! becomes one token: its own features (role, corpus share, recent weights, its held-out loss
//! relative to the base) followed by global features shared by all tokens (progress, the
//! feedback of the source and target fields relative to the base, the last reward). Weights
//! enter as `K·w` (1 = uniform), losses and feedback as changes relative to the base, so the
//! numbers mean the same in a 2-D and a 60-D space, and on a proxy and a larger model.

use std::collections::BTreeMap;

use mixagent_core::Observation;

/// Names of the per-domain features, in token order.
pub const DOMAIN_FEATURES: &[&str] = &[
    "is_source",
    "share_in_field",
    "field_domains_inv",
    "w_last",
    "w_prev",
    "w_mean",
    "loss_rel",
    "loss_delta",
    "loss_known",
];

/// Names of the global features, appended to every domain token.
pub const GLOBAL_FEATURES: &[&str] = &[
    "progress",
    "is_first",
    "source_rel",
    "target_rel",
    "source_delta",
    "target_delta",
    "balanced",
    "last_reward",
    "target_share_last",
];

/// What the agent knows about one entry of the space.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    /// Entry name (a corpus domain, or a field in a field-level space).
    pub name: String,
    /// Its field.
    pub field: String,
    /// Its share of its field's training tokens (1 for a field-level entry).
    pub share_in_field: f64,
    /// The corpus domains whose held-out loss stands for this entry (itself, or a field's
    /// domains at field level).
    pub loss_domains: Vec<String>,
}

/// One finished stage as the agent sees it.
#[derive(Debug, Clone, Copy)]
pub struct StageView<'a> {
    /// The mixture trained on, in space order.
    pub weights: &'a [f64],
    /// The observation after the stage.
    pub observation: &'a Observation,
}

/// Everything before the decision.
#[derive(Debug, Clone)]
pub struct History<'a> {
    /// The space's entries; the first entry's field is the source field.
    pub domains: &'a [DomainInfo],
    /// The base model's observation.
    pub initial: &'a Observation,
    /// Finished stages, in order.
    pub stages: &'a [StageView<'a>],
    /// Stages planned in all.
    pub total_stages: usize,
}

/// The encoded state: `domains.len()` tokens of `DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len()`
/// features, row-major.
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

/// Mean relative held-out loss change over `names` (for lower-is-better losses the sign is as
/// measured: positive means the loss rose), and whether any was measured.
fn loss_rel(obs: &Observation, base: &Observation, names: &[String]) -> Option<f64> {
    let v: Vec<f64> = names
        .iter()
        .filter_map(|n| {
            let (now, start) = (obs.domain_loss.get(n)?, base.domain_loss.get(n)?);
            (now.is_finite() && start.is_finite() && *start > 0.0).then(|| (now - start) / start)
        })
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Encodes the state before stage `history.stages.len()`.
pub fn encode(h: &History<'_>) -> StateTokens {
    let k = h.domains.len();
    let kf = k as f64;
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
    let t = h.stages.len();
    let last = h.stages.last();
    let prev = t.checked_sub(2).map(|i| h.stages[i]);
    let last_obs = last.map_or(h.initial, |s| s.observation);
    let prev_obs = prev.map_or(h.initial, |s| s.observation);
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let balanced =
        |o: &Observation| mixagent_core::balanced_score(o, h.initial, &field_refs).unwrap_or(0.0);
    let (b_last, b_prev) = (balanced(last_obs), balanced(prev_obs));
    let target_share_last = last.map_or(0.0, |s| {
        s.weights.iter().zip(h.domains).filter(|(_, d)| d.field != fields[0]).map(|(w, _)| w).sum()
    });
    let rel_of = |o: &Observation| {
        (field_rel(o, h.initial, &fields, true), field_rel(o, h.initial, &fields, false))
    };
    let ((source_now, target_now), (source_before, target_before)) =
        (rel_of(last_obs), rel_of(prev_obs));
    let global = [
        t as f64 / h.total_stages.max(1) as f64,
        f64::from(u8::from(t == 0)),
        source_now,
        target_now,
        source_now - source_before,
        target_now - target_before,
        b_last,
        if t == 0 { 0.0 } else { b_last - b_prev },
        target_share_last,
    ];
    let width = DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len();
    let mut values = Vec::with_capacity(k * width);
    for (i, d) in h.domains.iter().enumerate() {
        let w_last = last.map_or(0.0, |s| kf * s.weights[i]);
        let w_prev = prev.map_or(0.0, |s| kf * s.weights[i]);
        let w_mean = if t == 0 {
            0.0
        } else {
            h.stages.iter().map(|s| kf * s.weights[i]).sum::<f64>() / t as f64
        };
        let now = loss_rel(last_obs, h.initial, &d.loss_domains);
        let before = loss_rel(prev_obs, h.initial, &d.loss_domains);
        let own = [
            f64::from(u8::from(d.field == fields[0])),
            d.share_in_field,
            1.0 / per_field[d.field.as_str()] as f64,
            w_last,
            w_prev,
            w_mean,
            now.unwrap_or(0.0),
            if t == 0 { 0.0 } else { now.unwrap_or(0.0) - before.unwrap_or(0.0) },
            f64::from(u8::from(now.is_some())),
        ];
        values.extend(own.iter().chain(&global).map(|&x| x as f32));
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

    fn domains() -> Vec<DomainInfo> {
        let d = |n: &str, f: &str| DomainInfo {
            name: n.into(),
            field: f.into(),
            share_in_field: 1.0,
            loss_domains: vec![n.into()],
        };
        vec![d("a", "general"), d("b", "math")]
    }

    #[test]
    fn the_first_state_knows_only_the_base() {
        let ds = domains();
        let base = obs(-4.0, -8.0, 4.0, 6.0);
        let s = encode(&History { domains: &ds, initial: &base, stages: &[], total_stages: 4 });
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
            StageView { weights: &w1, observation: &o1 },
            StageView { weights: &w2, observation: &o2 },
        ];
        let s = encode(&History { domains: &ds, initial: &base, stages: &stages, total_stages: 4 });
        let b = s.token(1);
        let close = |x: f32, y: f64| assert!((f64::from(x) - y).abs() < 1e-6, "{x} vs {y}");
        close(b[3], 1.5); // K·w_last = 2 × 0.75
        close(b[4], 1.0); // K·w_prev
        close(b[5], 1.25); // mean
        close(b[6], -0.5); // loss 6 → 3
        close(b[7], -0.25); // last change: −0.5 − (−0.25)
        let g = &b[DOMAIN_FEATURES.len()..];
        close(g[0], 0.5); // progress 2/4
        close(g[2], -0.25); // source −4 → −5
        close(g[3], 0.5); // target −8 → −4
        close(g[4], -0.15); // −0.25 − (−0.1)
        close(g[5], 0.25); // 0.5 − 0.25
        close(g[6], 0.125); // balanced (−0.25 + 0.5) / 2
        close(g[7], 0.125 - 0.075); // reward of the last stage
        close(g[8], 0.75);
        assert_eq!(s.token(0)[DOMAIN_FEATURES.len()..], b[DOMAIN_FEATURES.len()..]);
    }
}
