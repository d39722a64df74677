//! Heuristic-covering trajectory families (DESIGN §4): seeded generators of a mixture per stage
//! that together cover the simplex and the schedules a practitioner would try: constant
//! mixtures, monotone ramps of the target share, step switches, oscillations, smooth random
//! walks and re-weightings within a field.
//!
//! Every family is built from two parts: the *target share* over time (the mass on the target
//! fields; the source field, the space's first, gets the rest) and *within-field* weights
//! (Dirichlet draws whose concentration is itself drawn, from near-one-hot to near-uniform). A
//! floor spreads a small share evenly, so no domain starves entirely, as the agent's policy
//! head also guarantees.

use std::collections::BTreeMap;

use mixagent_core::seed::derive;
use mixagent_core::{jitter_within_fields, tilt_within_fields, DomainSpace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::TrajectoryError;

/// Which families a plan draws, how often, and the knobs of their random draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FamilyConfig {
    /// Relative frequency of constant mixtures.
    pub constant: f64,
    /// Relative frequency of monotone target-share ramps.
    pub ramp: f64,
    /// Relative frequency of step switches.
    pub step: f64,
    /// Relative frequency of oscillations.
    pub oscillation: f64,
    /// Relative frequency of random walks over the whole mixture.
    pub random_walk: f64,
    /// Relative frequency of within-field re-weightings.
    pub reweight: f64,
    /// Relative frequency of independent shares: a fresh target share at every stage (0 by
    /// default, so older plans are unchanged). The smooth families keep a trajectory near its
    /// own past, so a stage that turns away from it (source data after a math-heavy past) is
    /// rare in their data, and a critic cannot learn what such a turn is worth (RESULTS,
    /// "Critics on observed returns").
    pub independent: f64,
    /// Within-field jitter: every stage of every family multiplies each domain's weight within
    /// its field by `exp(σ·z)`, `z ~ N(0, 1)` drawn afresh per stage and domain, keeping each
    /// field's total (so the target share follows the family unchanged). 0 by default, so older
    /// plans are unchanged. Four of the six families otherwise keep a field's split fixed over
    /// the whole run, and then nothing in a run's history tells the domains of a field apart:
    /// a domain's weight moves only with its field's share, so how the feedback followed it says
    /// nothing about the domain itself (issue 21). It moves a random walk's mixture beyond
    /// `max_l1_per_stage`, which bounds the walk before the jitter.
    pub within_jitter: f64,
    /// Logit step (standard deviation) of a random walk per stage.
    pub walk_sigma: f64,
    /// Largest L1 change of a random walk's mixture between consecutive stages (the
    /// smoothness bound).
    pub max_l1_per_stage: f64,
    /// Share of every mixture spread evenly over all domains.
    pub floor: f64,
    /// Range of the within-field Dirichlet concentration, drawn log-uniformly: small values
    /// give near one-hot weights, large ones near uniform.
    pub concentration: [f64; 2],
    /// Branches per trajectory (issue 20): the plan comes in trees of `1 + branches` entries,
    /// a trajectory and its branches. A branch shares its parent's first `at` stages (their
    /// mixtures and data order, so their rows: it is rolled out from the parent's checkpoint
    /// at that stage, not trained again) and follows its own family's draw from stage `at`
    /// on, `at` drawn uniformly from `branch_from`·stages to the last stage. Every branch is
    /// still exactly a whole run of its own plan, and each branch point is a counterfactual:
    /// one state, two continuations. 0 (the default): independent trajectories, as before.
    #[serde(skip_serializing_if = "is_zero")]
    pub branches: usize,
    /// The earliest branch point, as a share of the stages (see `branches`).
    #[serde(skip_serializing_if = "is_half")]
    pub branch_from: f64,
    /// Share of trajectories whose within-field splits are tilted toward `tilt_evidence`
    /// (issue 21): every stage's weight of each domain within its field multiplied by
    /// `exp(κ·e)`, field totals kept, κ drawn uniformly from `tilt_kappa` per trajectory. An
    /// agent that tilts its own mixtures toward a collection's prior (`decision.tilt`) trains
    /// its fields faster than any untilted mixture did, so the feedback its field split
    /// reads falls outside its data; tilted trajectories put such runs in the data. 0 (the
    /// default): none, and the plan is as before.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub tilted: f64,
    /// Range of a tilted trajectory's strength κ.
    #[serde(skip_serializing_if = "is_default_kappa")]
    pub tilt_kappa: [f64; 2],
    /// Each domain's evidence for its own field, in [−1, 1] (an agent's prior:
    /// `mixagent collect --tilt-prior AGENT`); a domain not named reads 0.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tilt_evidence: BTreeMap<String, f64>,
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

const DEFAULT_KAPPA: [f64; 2] = [0.5, 2.0];

fn is_default_kappa(k: &[f64; 2]) -> bool {
    *k == DEFAULT_KAPPA
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_half(x: &f64) -> bool {
    *x == 0.5
}

impl Default for FamilyConfig {
    fn default() -> Self {
        FamilyConfig {
            constant: 1.0,
            ramp: 1.0,
            step: 1.0,
            oscillation: 1.0,
            random_walk: 1.0,
            reweight: 1.0,
            independent: 0.0,
            within_jitter: 0.0,
            walk_sigma: 0.5,
            max_l1_per_stage: 0.4,
            floor: 0.02,
            concentration: [0.3, 10.0],
            branches: 0,
            branch_from: 0.5,
            tilted: 0.0,
            tilt_kappa: DEFAULT_KAPPA,
            tilt_evidence: BTreeMap::new(),
        }
    }
}

impl FamilyConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), TrajectoryError> {
        let bad = |m: String| Err(TrajectoryError::Config(m));
        let freq = self.frequencies();
        if freq.iter().any(|(_, f)| !f.is_finite() || *f < 0.0) {
            return bad("family frequencies must be finite and ≥ 0".into());
        }
        if freq.iter().map(|(_, f)| f).sum::<f64>() <= 0.0 {
            return bad("at least one family needs a frequency > 0".into());
        }
        if !(0.0..1.0).contains(&self.floor) {
            return bad(format!("floor {} must be in [0, 1)", self.floor));
        }
        if !(self.within_jitter.is_finite() && (0.0..=3.0).contains(&self.within_jitter)) {
            return bad(format!(
                "within_jitter {} must be in [0, 3] (a log-normal σ; 0.3 moves a weight by about a third)",
                self.within_jitter
            ));
        }
        if !(self.walk_sigma >= 0.0 && self.max_l1_per_stage > 0.0) {
            return bad("walk_sigma must be ≥ 0 and max_l1_per_stage > 0".into());
        }
        if !(self.branch_from > 0.0 && self.branch_from < 1.0) {
            return bad(format!(
                "branch_from {} must be in (0, 1): the earliest branch point as a share of the stages",
                self.branch_from
            ));
        }
        if self.branches > 63 {
            return bad(format!("branches {} must be at most 63 per trajectory", self.branches));
        }
        let [lo, hi] = self.concentration;
        if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
            return bad(format!("concentration [{lo}, {hi}] must satisfy 0 < lo ≤ hi"));
        }
        if !(0.0..=1.0).contains(&self.tilted) {
            return bad(format!(
                "tilted {} must be a share of the trajectories, in [0, 1]",
                self.tilted
            ));
        }
        let [lo, hi] = self.tilt_kappa;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi && lo.abs().max(hi.abs()) <= 20.0) {
            return bad(format!("tilt_kappa [{lo}, {hi}] must satisfy lo ≤ hi, both within ±20"));
        }
        if let Some((d, e)) = self.tilt_evidence.iter().find(|(_, e)| !(-1.0..=1.0).contains(*e)) {
            return bad(format!("tilt_evidence of `{d}` is {e}: evidence lies in [-1, 1]"));
        }
        Ok(())
    }

    fn frequencies(&self) -> [(&'static str, f64); 7] {
        [
            ("constant", self.constant),
            ("ramp", self.ramp),
            ("step", self.step),
            ("oscillation", self.oscillation),
            ("random_walk", self.random_walk),
            ("reweight", self.reweight),
            ("independent", self.independent),
        ]
    }
}

/// A family and the parameters drawn for one trajectory (recorded with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Family {
    /// The same mixture at every stage.
    Constant {
        /// Mass on the target fields.
        target_share: f64,
    },
    /// Target share from `from` to `to`, monotone, as `from + (to − from)·u^power`, u = t/(T−1).
    Ramp {
        /// Share at the first stage.
        from: f64,
        /// Share at the last stage.
        to: f64,
        /// Curvature (1 linear; < 1 fast start; > 1 slow start).
        power: f64,
    },
    /// Target share `from` before stage `at`, `to` from it on.
    Step {
        /// Share before the switch.
        from: f64,
        /// Share after it.
        to: f64,
        /// First stage with the new share.
        at: usize,
    },
    /// Target share `center + amplitude·sin(2πt/period + phase)`, clipped to [0, 1].
    Oscillation {
        /// Mean share.
        center: f64,
        /// Swing.
        amplitude: f64,
        /// Period in stages.
        period: f64,
        /// Phase in radians.
        phase: f64,
    },
    /// The whole mixture drifts: per-stage Gaussian steps on the log-weights, each stage's L1
    /// change capped.
    RandomWalk {
        /// Logit step.
        sigma: f64,
        /// Cap on the L1 change per stage.
        max_l1: f64,
    },
    /// Target share fixed; within-field weights move from one draw to another, at once at
    /// stage `at`, or gradually when `at` is absent.
    Reweight {
        /// Mass on the target fields.
        target_share: f64,
        /// Switch stage, or `None` for a linear blend over the trajectory.
        at: Option<usize>,
    },
    /// A target share drawn uniformly afresh at every stage; within-field weights fixed.
    Independent,
}

impl Family {
    /// The family's name (`constant`, `ramp`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Family::Constant { .. } => "constant",
            Family::Ramp { .. } => "ramp",
            Family::Step { .. } => "step",
            Family::Oscillation { .. } => "oscillation",
            Family::RandomWalk { .. } => "random_walk",
            Family::Reweight { .. } => "reweight",
            Family::Independent => "independent",
        }
    }
}

/// One trajectory of a plan: its draws and the mixture of every stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedTrajectory {
    /// Position in the plan.
    pub index: u64,
    /// File stem, `t-00017`.
    pub id: String,
    /// Seed of this trajectory (its draws and its rollout's data order).
    pub seed: u64,
    /// Family and parameters.
    pub family: Family,
    /// Within-field Dirichlet concentration drawn for it.
    pub concentration: f64,
    /// Weights per stage, in the space's domain order; each row sums to 1.
    pub mixtures: Vec<Vec<f64>>,
    /// For a branch (`FamilyConfig::branches`): the plan entry whose first stages it shares,
    /// and from which stage it goes its own way. Its `seed` is its parent's (the same data
    /// order), its mixtures before that stage are its parent's, and `family` names the draw it
    /// follows after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Branch>,
    /// For a tilted trajectory (`FamilyConfig::tilted`): its strength κ (a branch's own
    /// stages'; the prefix it shares is its parent's, tilted or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilt: Option<f64>,
}

/// Where a branch leaves its parent (see [`PlannedTrajectory::branch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// The parent's plan index.
    pub parent: u64,
    /// The first stage the branch trains itself: it shares stages `0..at` with the parent.
    pub at: usize,
}

/// The id of trajectory `index`.
pub fn trajectory_id(index: u64) -> String {
    format!("t-{index:05}")
}

/// Domain indices per field, source field first (the space's field order).
struct Groups {
    /// Domains of the source field.
    source: Vec<usize>,
    /// Domains of each target field.
    targets: Vec<Vec<usize>>,
    n: usize,
}

impl Groups {
    fn of(space: &DomainSpace) -> Result<Self, TrajectoryError> {
        let fields = space.fields();
        if fields.len() < 2 {
            return Err(TrajectoryError::Config(format!(
                "the space has only the field(s) {:?}: trajectories need a source field and at least one target field",
                fields.iter().map(|f| f.as_str()).collect::<Vec<_>>()
            )));
        }
        let members = |f: &mixagent_core::Field| -> Vec<usize> {
            (0..space.len()).filter(|&i| &space.domains()[i].field == f).collect()
        };
        Ok(Groups {
            source: members(&fields[0]),
            targets: fields[1..].iter().map(members).collect(),
            n: space.len(),
        })
    }
}

/// Draws the plan: `n` trajectories of `stages` stages over `space`. Trajectory `i` depends
/// only on (`seed`, `i`), so a larger plan extends a smaller one.
pub fn sample_plan(
    space: &DomainSpace,
    cfg: &FamilyConfig,
    n: usize,
    stages: usize,
    seed: u64,
) -> Result<Vec<PlannedTrajectory>, TrajectoryError> {
    cfg.validate()?;
    if stages == 0 {
        return Err(TrajectoryError::Config("a trajectory needs at least one stage".into()));
    }
    let groups = Groups::of(space)?;
    if cfg.branches > 0 && stages < 2 {
        return Err(TrajectoryError::Config(
            "branches need at least two stages (a branch shares the first with its parent)".into(),
        ));
    }
    // Branch points: from ⌈branch_from·stages⌉ (at least 1) to the last stage.
    let earliest = if cfg.branches > 0 {
        ((cfg.branch_from * stages as f64).ceil() as usize).clamp(1, stages - 1)
    } else {
        0
    };
    // Checked here, not in `validate`: `--tilt-prior` fills the evidence after the config loads.
    if cfg.tilted > 0.0 && cfg.tilt_evidence.is_empty() {
        return Err(TrajectoryError::Config(format!(
            "tilted = {} needs tilt_evidence (each domain's evidence for its own field; `mixagent collect --tilt-prior AGENT` reads an agent's prior)",
            cfg.tilted
        )));
    }
    // Each domain's tilt evidence, in space order (named domains must be in the space).
    let evidence: Vec<f64> = space
        .domains()
        .iter()
        .map(|d| cfg.tilt_evidence.get(d.name.as_str()).copied().unwrap_or(0.0))
        .collect();
    if let Some(d) = cfg
        .tilt_evidence
        .keys()
        .find(|d| !space.domains().iter().any(|x| x.name.as_str() == d.as_str()))
    {
        return Err(TrajectoryError::Config(format!(
            "tilt_evidence names `{d}`, not a domain of the space ({})",
            space.domains().iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    let tree = 1 + cfg.branches as u64;
    let mut plan: Vec<PlannedTrajectory> = Vec::with_capacity(n);
    for index in 0..n as u64 {
        let tseed = derive(seed, "trajectory", index);
        let mut rng = ChaCha8Rng::seed_from_u64(derive(tseed, "trajectory.family", 0));
        let (family, concentration, mut mixtures) = draw(&groups, cfg, stages, &mut rng);
        if cfg.within_jitter > 0.0 {
            // Its own stream: the family's draws, and so every plan without jitter, stay
            // as they were.
            let mut rng = ChaCha8Rng::seed_from_u64(derive(tseed, "trajectory.jitter", 0));
            jitter_within(&groups, &mut mixtures, cfg.within_jitter, cfg.floor, &mut rng);
        }
        let mut tilt = None;
        if cfg.tilted > 0.0 {
            // Its own stream too.
            let mut rng = ChaCha8Rng::seed_from_u64(derive(tseed, "trajectory.tilt", 0));
            if rng.gen::<f64>() < cfg.tilted {
                let [lo, hi] = cfg.tilt_kappa;
                let kappa = lo + (hi - lo) * rng.gen::<f64>();
                tilt_within(&groups, &mut mixtures, kappa, &evidence, cfg.floor);
                tilt = Some(kappa);
            }
        }
        let mut entry = PlannedTrajectory {
            index,
            id: trajectory_id(index),
            seed: tseed,
            family,
            concentration,
            mixtures,
            branch: None,
            tilt,
        };
        if index % tree != 0 {
            // A branch: its own stream for the branch point, its parent's seed and prefix.
            let parent = &plan[(index - index % tree) as usize];
            let mut rng = ChaCha8Rng::seed_from_u64(derive(tseed, "trajectory.branch", 0));
            let at = rng.gen_range(earliest..stages);
            entry.mixtures[..at].clone_from_slice(&parent.mixtures[..at]);
            entry.seed = parent.seed;
            entry.branch = Some(Branch { parent: parent.index, at });
        }
        plan.push(entry);
    }
    Ok(plan)
}

fn draw(
    g: &Groups,
    cfg: &FamilyConfig,
    stages: usize,
    rng: &mut ChaCha8Rng,
) -> (Family, f64, Vec<Vec<f64>>) {
    let freq = cfg.frequencies();
    let total: f64 = freq.iter().map(|(_, f)| f).sum();
    let mut u = rng.gen::<f64>() * total;
    let mut kind = freq[0].0;
    for (name, f) in freq {
        if f > 0.0 {
            kind = name;
            if u < f {
                break;
            }
            u -= f;
        }
    }
    let [lo, hi] = cfg.concentration;
    let conc = (lo.ln() + rng.gen::<f64>() * (hi / lo).ln()).exp();
    let within = within_weights(g, conc, rng);
    let split = dirichlet(g.targets.len(), 1.0, rng);
    let last = (stages - 1).max(1) as f64;
    let compose_all = |shares: Vec<f64>, within: &[f64]| -> Vec<Vec<f64>> {
        shares.into_iter().map(|s| compose(g, s, &split, within, cfg.floor)).collect()
    };
    let share = |rng: &mut ChaCha8Rng| rng.gen::<f64>();
    match kind {
        "constant" => {
            let s = share(rng);
            (Family::Constant { target_share: s }, conc, compose_all(vec![s; stages], &within))
        }
        "ramp" => {
            let (from, to) = (share(rng), share(rng));
            let power = [0.5, 1.0, 2.0][rng.gen_range(0..3)];
            let shares =
                (0..stages).map(|t| from + (to - from) * (t as f64 / last).powf(power)).collect();
            (Family::Ramp { from, to, power }, conc, compose_all(shares, &within))
        }
        "step" => {
            let (from, to) = (share(rng), share(rng));
            let at = if stages > 1 { rng.gen_range(1..stages) } else { 0 };
            let shares = (0..stages).map(|t| if t < at { from } else { to }).collect();
            (Family::Step { from, to, at }, conc, compose_all(shares, &within))
        }
        "oscillation" => {
            let center = 0.2 + 0.6 * rng.gen::<f64>();
            let amplitude = 0.1 + 0.4 * rng.gen::<f64>();
            let period = 2.0 + rng.gen::<f64>() * (stages as f64 - 2.0).max(0.0);
            let phase = rng.gen::<f64>() * std::f64::consts::TAU;
            let shares = (0..stages)
                .map(|t| {
                    let x = std::f64::consts::TAU * t as f64 / period + phase;
                    (center + amplitude * x.sin()).clamp(0.0, 1.0)
                })
                .collect();
            (
                Family::Oscillation { center, amplitude, period, phase },
                conc,
                compose_all(shares, &within),
            )
        }
        "random_walk" => {
            let (sigma, max_l1) = (cfg.walk_sigma, cfg.max_l1_per_stage);
            let mut m = compose(g, share(rng), &split, &within, 0.0);
            let mut rows = Vec::with_capacity(stages);
            for t in 0..stages {
                if t > 0 {
                    let logits: Vec<f64> =
                        m.iter().map(|w| (w + 1e-4).ln() + sigma * normal(rng)).collect();
                    let proposal = softmax(&logits);
                    let l1: f64 = proposal.iter().zip(&m).map(|(a, b)| (a - b).abs()).sum();
                    let keep = if l1 > max_l1 { max_l1 / l1 } else { 1.0 };
                    m = m.iter().zip(&proposal).map(|(a, b)| a + keep * (b - a)).collect();
                }
                rows.push(with_floor(&m, cfg.floor));
            }
            (Family::RandomWalk { sigma, max_l1 }, conc, rows)
        }
        "independent" => {
            let shares = (0..stages).map(|_| share(rng)).collect();
            (Family::Independent, conc, compose_all(shares, &within))
        }
        _ => {
            let s = share(rng);
            let other = within_weights(g, conc, rng);
            let at = (stages > 1 && rng.gen::<bool>()).then(|| rng.gen_range(1..stages));
            let rows = (0..stages)
                .map(|t| {
                    let lambda = match at {
                        Some(a) => f64::from(u8::from(t >= a)),
                        None => t as f64 / last,
                    };
                    let w: Vec<f64> =
                        within.iter().zip(&other).map(|(a, b)| a + lambda * (b - a)).collect();
                    compose(g, s, &split, &w, cfg.floor)
                })
                .collect();
            (Family::Reweight { target_share: s, at }, conc, rows)
        }
    }
}

/// Within-field weights: for each field, a Dirichlet draw over its domains, laid out over the
/// whole space (each field's entries sum to 1).
fn within_weights(g: &Groups, conc: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut w = vec![0.0; g.n];
    for members in std::iter::once(&g.source).chain(&g.targets) {
        for (&i, x) in members.iter().zip(dirichlet(members.len(), conc, rng)) {
            w[i] = x;
        }
    }
    w
}

/// Each row's split within each field moved by `exp(σ·z)`, `z ~ N(0, 1)` per row and domain
/// ([`jitter_within_fields`]).
fn jitter_within(g: &Groups, rows: &mut [Vec<f64>], sigma: f64, floor: f64, rng: &mut ChaCha8Rng) {
    let fields: Vec<Vec<usize>> = std::iter::once(&g.source).chain(&g.targets).cloned().collect();
    for row in rows {
        *row = jitter_within_fields(row, &fields, sigma, floor, || normal(rng));
    }
}

/// Every row's split within each field multiplied by `exp(κ·e)` per domain, field totals and
/// the floor kept (`FamilyConfig::tilted`).
fn tilt_within(g: &Groups, rows: &mut [Vec<f64>], kappa: f64, evidence: &[f64], floor: f64) {
    let fields: Vec<Vec<usize>> = std::iter::once(&g.source).chain(&g.targets).cloned().collect();
    for row in rows {
        *row = tilt_within_fields(row, &fields, kappa, floor, evidence);
    }
}

/// Mixture with target share `s` split over target fields by `split`, within-field `within`.
fn compose(g: &Groups, s: f64, split: &[f64], within: &[f64], floor: f64) -> Vec<f64> {
    let mut m = vec![0.0; g.n];
    for &i in &g.source {
        m[i] = (1.0 - s) * within[i];
    }
    for (members, share) in g.targets.iter().zip(split) {
        for &i in members {
            m[i] = s * share * within[i];
        }
    }
    with_floor(&m, floor)
}

/// `(1 − floor)·m + floor/K`, renormalised exactly.
fn with_floor(m: &[f64], floor: f64) -> Vec<f64> {
    let k = m.len() as f64;
    let v: Vec<f64> = m.iter().map(|w| (1.0 - floor) * w + floor / k).collect();
    let sum: f64 = v.iter().sum();
    v.into_iter().map(|w| w / sum).collect()
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|x| (x - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Gamma(shape, 1) draw (Marsaglia and Tsang 2000; shape < 1 by the boost `U^{1/a}`).
fn gamma(shape: f64, rng: &mut ChaCha8Rng) -> f64 {
    if shape < 1.0 {
        let u = rng.gen::<f64>().max(f64::MIN_POSITIVE);
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = rng.gen::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A symmetric Dirichlet(conc) draw of size `k`.
pub fn dirichlet(k: usize, conc: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let g: Vec<f64> = (0..k).map(|_| gamma(conc, rng).max(1e-300)).collect();
    let sum: f64 = g.iter().sum();
    g.into_iter().map(|x| x / sum).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mixagent_core::{Domain, Field, Mixture};
    use proptest::prelude::*;

    use super::*;

    fn space(general: usize, math: usize) -> Arc<DomainSpace> {
        let f = |n: &str| Field::new(n).unwrap();
        let mut d: Vec<Domain> =
            (0..general).map(|i| Domain::new(format!("g{i}"), f("general")).unwrap()).collect();
        d.extend((0..math).map(|i| Domain::new(format!("m{i}"), f("math")).unwrap()));
        Arc::new(DomainSpace::new(d).unwrap())
    }

    fn target_share(row: &[f64], general: usize) -> f64 {
        row[general..].iter().sum()
    }

    #[test]
    fn same_seed_same_plan_and_plans_extend() {
        let s = space(3, 4);
        let cfg = FamilyConfig::default();
        let a = sample_plan(&s, &cfg, 20, 6, 7).unwrap();
        assert_eq!(a, sample_plan(&s, &cfg, 20, 6, 7).unwrap());
        assert_eq!(a[..10], sample_plan(&s, &cfg, 10, 6, 7).unwrap()[..]);
        assert_ne!(a, sample_plan(&s, &cfg, 20, 6, 8).unwrap());
    }

    /// Trees of a trajectory and its branches: a branch shares its parent's seed and first
    /// `at` mixtures, `at` within [⌈branch_from·stages⌉, stages − 1], and follows its own
    /// draw after; the trajectories that are not branches are those of the plan without
    /// branches, so branching changes nothing else.
    #[test]
    fn branches_share_their_parents_prefix_and_nothing_else_moves() {
        let sp = space(3, 2);
        let plain = sample_plan(&sp, &FamilyConfig::default(), 12, 8, 5).unwrap();
        let cfg = FamilyConfig { branches: 2, branch_from: 0.25, ..Default::default() };
        let plan = sample_plan(&sp, &cfg, 12, 8, 5).unwrap();
        let mut points = std::collections::BTreeSet::new();
        for (p, q) in plan.iter().zip(&plain) {
            match p.branch {
                None => {
                    assert_eq!(p.index % 3, 0);
                    assert_eq!(p, q, "a root is the plan's own trajectory");
                }
                Some(b) => {
                    assert_eq!(b.parent, p.index - p.index % 3);
                    assert!((2..8).contains(&b.at), "branch point {}", b.at);
                    points.insert(b.at);
                    let parent = &plan[b.parent as usize];
                    assert_eq!(p.seed, parent.seed, "a branch keeps its parent's data order");
                    assert_eq!(p.mixtures[..b.at], parent.mixtures[..b.at]);
                    assert_eq!(p.mixtures[b.at..], q.mixtures[b.at..], "its own draw after");
                    assert_ne!(p.mixtures[b.at], parent.mixtures[b.at]);
                }
            }
        }
        assert!(points.len() > 2, "branch points vary: {points:?}");
        // Checked: a branch point needs two stages; branch_from inside (0, 1).
        assert!(sample_plan(&sp, &cfg, 3, 1, 5).is_err());
        let bad = FamilyConfig { branch_from: 1.0, ..cfg };
        assert!(bad.validate().unwrap_err().to_string().contains("branch_from"));
    }

    /// Tilted trajectories: the share `tilted` of the plan has every stage's within-field split
    /// moved toward the evidence by its drawn κ, field totals kept; the rest are the plan's
    /// own, and so is every trajectory's family draw.
    #[test]
    fn tilted_trajectories_move_within_fields_toward_the_evidence() {
        let sp = space(3, 2);
        let plain = sample_plan(&sp, &FamilyConfig::default(), 40, 6, 5).unwrap();
        let evidence: BTreeMap<String, f64> = [("g0".into(), 1.0), ("m1".into(), 0.5)].into();
        let cfg = FamilyConfig {
            tilted: 0.5,
            tilt_kappa: [1.0, 2.0],
            tilt_evidence: evidence.clone(),
            ..Default::default()
        };
        let plan = sample_plan(&sp, &cfg, 40, 6, 5).unwrap();
        let within = |row: &[f64], i: usize, f: std::ops::Range<usize>| {
            (row[i] - 0.02 / 5.0) / row[f].iter().map(|w| w - 0.02 / 5.0).sum::<f64>()
        };
        let mut tilted = 0;
        for (p, q) in plan.iter().zip(&plain) {
            assert_eq!((&p.family, p.concentration, p.seed), (&q.family, q.concentration, q.seed));
            let Some(kappa) = p.tilt else {
                assert_eq!(p, q, "an untilted trajectory is the plan's own");
                continue;
            };
            tilted += 1;
            assert!((1.0..=2.0).contains(&kappa), "κ {kappa}");
            for (a, b) in p.mixtures.iter().zip(&q.mixtures) {
                assert!((target_share(a, 3) - target_share(b, 3)).abs() < 1e-9, "field totals");
                assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                assert!(a.iter().all(|&w| w >= 0.02 / 5.0 - 1e-12), "the floor holds");
                // By hand: g0's weight off the floor is multiplied by e^κ against g1 and g2's.
                let odds =
                    |r: &[f64]| within(r, 0, 0..3) / (within(r, 1, 0..3) + within(r, 2, 0..3));
                let g0 = within(b, 0, 0..3);
                if target_share(b, 3) < 0.99 && g0 > 1e-6 && g0 < 1.0 - 1e-6 {
                    assert!((odds(a) / odds(b) - kappa.exp()).abs() < 1e-6 * kappa.exp());
                }
                if target_share(b, 3) > 0.01 {
                    assert!(within(a, 4, 3..5) >= within(b, 4, 3..5) - 1e-9);
                }
            }
        }
        assert!((10..=30).contains(&tilted), "{tilted} of 40 tilted at 0.5");
        // Checked: evidence for a domain not in the space, out of range, or none at all.
        let mut bad = cfg.clone();
        bad.tilt_evidence.insert("z".into(), 0.5);
        let e = sample_plan(&sp, &bad, 4, 6, 5).unwrap_err().to_string();
        assert!(e.contains("`z`") && e.contains("g0"), "{e}");
        let mut bad = cfg.clone();
        bad.tilt_evidence.insert("g1".into(), 1.5);
        assert!(bad.validate().unwrap_err().to_string().contains("tilt_evidence"));
        let bad = FamilyConfig { tilt_evidence: BTreeMap::new(), ..cfg };
        assert!(sample_plan(&sp, &bad, 4, 6, 5).unwrap_err().to_string().contains("--tilt-prior"));
    }

    #[test]
    fn every_family_appears_and_follows_its_shape() {
        let s = space(4, 4);
        let cfg = FamilyConfig { floor: 0.0, ..FamilyConfig::default() };
        let plan = sample_plan(&s, &cfg, 300, 8, 1).unwrap();
        for name in ["constant", "ramp", "step", "oscillation", "random_walk", "reweight"] {
            assert!(plan.iter().any(|p| p.family.name() == name), "{name} never drawn");
        }
        for p in &plan {
            let shares: Vec<f64> = p.mixtures.iter().map(|r| target_share(r, 4)).collect();
            match p.family {
                Family::Constant { target_share } | Family::Reweight { target_share, .. } => {
                    assert!(shares.iter().all(|x| (x - target_share).abs() < 1e-9))
                }
                Family::Ramp { from, to, .. } => {
                    let up = to >= from;
                    assert!(shares.windows(2).all(|w| if up {
                        w[1] >= w[0] - 1e-12
                    } else {
                        w[1] <= w[0] + 1e-12
                    }));
                    assert!((shares[0] - from).abs() < 1e-9 && (shares[7] - to).abs() < 1e-9);
                }
                Family::Step { from, to, at } => {
                    assert!(shares[..at].iter().all(|x| (x - from).abs() < 1e-9));
                    assert!(shares[at..].iter().all(|x| (x - to).abs() < 1e-9));
                }
                Family::RandomWalk { max_l1, .. } => {
                    for w in p.mixtures.windows(2) {
                        let l1: f64 = w[0].iter().zip(&w[1]).map(|(a, b)| (a - b).abs()).sum();
                        assert!(l1 <= max_l1 + 1e-9, "{l1}");
                    }
                }
                Family::Oscillation { .. } | Family::Independent => {}
            }
        }
        assert!(plan.iter().all(|p| p.family != Family::Independent), "off by default");
    }

    #[test]
    fn within_jitter_moves_each_fields_split_and_keeps_the_target_share() {
        let s = space(4, 3);
        let plain = FamilyConfig::default();
        let jittered = FamilyConfig { within_jitter: 0.4, ..FamilyConfig::default() };
        let a = sample_plan(&s, &plain, 40, 6, 3).unwrap();
        let b = sample_plan(&s, &jittered, 40, 6, 3).unwrap();
        let split = |row: &[f64], range: std::ops::Range<usize>| -> Vec<f64> {
            let total: f64 = row[range.clone()].iter().sum();
            row[range].iter().map(|w| w / total).collect()
        };
        let mut moved = 0;
        for (p, q) in a.iter().zip(&b) {
            // The same family and parameters; the same target share at every stage.
            assert_eq!((&p.family, p.concentration), (&q.family, q.concentration));
            for (r, j) in p.mixtures.iter().zip(&q.mixtures) {
                assert!((target_share(r, 4) - target_share(j, 4)).abs() < 1e-9);
                assert!((j.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                assert!(j.iter().all(|&w| w >= plain.floor / 7.0 - 1e-12), "the floor holds");
            }
            // A constant mixture is no longer constant within its fields.
            if matches!(q.family, Family::Constant { .. }) {
                let first = split(&q.mixtures[0], 0..4);
                moved +=
                    usize::from(q.mixtures[1..].iter().any(|r| {
                        split(r, 0..4).iter().zip(&first).any(|(x, y)| (x - y).abs() > 1e-3)
                    }));
                assert!(p.mixtures.windows(2).all(|w| w[0] == w[1]));
            }
        }
        assert!(moved > 0, "no constant trajectory drawn, or none moved");
    }

    #[test]
    fn independent_shares_do_not_follow_the_past() {
        let s = space(3, 3);
        let only = FamilyConfig {
            constant: 0.0,
            ramp: 0.0,
            step: 0.0,
            oscillation: 0.0,
            random_walk: 0.0,
            reweight: 0.0,
            independent: 1.0,
            floor: 0.0,
            ..FamilyConfig::default()
        };
        let plan = sample_plan(&s, &only, 200, 12, 5).unwrap();
        assert!(plan.iter().all(|p| p.family == Family::Independent));
        // Lag-1 correlation of the share over all consecutive stages: near 0 (the smooth
        // families' is near 1).
        let lag_corr = |plan: &[PlannedTrajectory]| {
            let pairs: Vec<(f64, f64)> = plan
                .iter()
                .flat_map(|p| {
                    p.mixtures
                        .windows(2)
                        .map(|w| (target_share(&w[0], 3), target_share(&w[1], 3)))
                        .collect::<Vec<_>>()
                })
                .collect();
            let n = pairs.len() as f64;
            let (mx, my) = pairs.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
            let cov = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>();
            let vx = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
            let vy = pairs.iter().map(|p| (p.1 - my).powi(2)).sum::<f64>();
            cov / (vx * vy).sqrt()
        };
        let r = lag_corr(&plan);
        assert!(r.abs() < 0.1, "independent: lag-1 correlation {r}");
        let smooth = sample_plan(&s, &FamilyConfig::default(), 200, 12, 5).unwrap();
        assert!(lag_corr(&smooth) > 0.7, "smooth families: {}", lag_corr(&smooth));
        // Every stage covers the whole range of shares.
        let highs = plan.iter().filter(|p| target_share(&p.mixtures[6], 3) > 0.9).count();
        let lows = plan.iter().filter(|p| target_share(&p.mixtures[6], 3) < 0.1).count();
        assert!(highs > 5 && lows > 5, "{highs} {lows}");
    }

    #[test]
    fn the_plan_covers_the_target_share_range() {
        let plan = sample_plan(&space(3, 3), &FamilyConfig::default(), 200, 6, 3).unwrap();
        let mut bins = [0usize; 10];
        for p in &plan {
            for r in &p.mixtures {
                bins[((target_share(r, 3) * 10.0) as usize).min(9)] += 1;
            }
        }
        assert!(bins.iter().all(|&b| b > 0), "{bins:?}");
    }

    #[test]
    fn a_space_with_one_field_is_refused() {
        let f = Field::new("general").unwrap();
        let s = DomainSpace::new(vec![Domain::new("a", f).unwrap()]).unwrap();
        let e = sample_plan(&s, &FamilyConfig::default(), 1, 3, 0).unwrap_err();
        assert!(e.to_string().contains("target field"), "{e}");
    }

    proptest! {
        #[test]
        fn every_row_is_a_simplex_point_with_the_floor(
            general in 1usize..6, math in 1usize..6, stages in 1usize..12, seed in 0u64..1000,
        ) {
            let s = space(general, math);
            let cfg = FamilyConfig::default();
            for p in sample_plan(&s, &cfg, 12, stages, seed).unwrap() {
                prop_assert_eq!(p.mixtures.len(), stages);
                for row in &p.mixtures {
                    prop_assert!(Mixture::new(s.clone(), row.clone()).is_ok());
                    let min = cfg.floor / s.len() as f64;
                    prop_assert!(row.iter().all(|&w| w >= min * 0.999));
                }
            }
        }
    }
}
