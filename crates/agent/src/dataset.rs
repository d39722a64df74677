//! Transitions from collected trajectories, seen through many views of their space.
//!
//! Trajectory `i` with stages `0..T` gives T transitions per view: the state before stage `t`
//! (encoded by `mixagent_policy::encode`, the same function the deployed policy uses), the
//! mixture of stage `t`, the reward of stage `t` (`RewardConfig`), the state after it, and
//! whether it was the last stage.
//!
//! A view re-reads the collected space as groups of its entries, each group within one field
//! and merged into one entry (weights summed, token shares summed, held-out losses of all
//! members): the collected space itself, its field level (2-D), and random re-groupings in
//! which each field's entries form 1 to all groups. The agent thus meets spaces of 2 to K
//! entries and fields of 1 to all entries, so no feature is constant over the training set
//! and a 2-D or 4-domain deployment space is not out of distribution (issue 17). The reward
//! does not depend on the view: the same stages were trained whichever way they are read.
//!
//! Transitions are grouped into blocks of equal entry count, so a batch is one tensor.

use std::collections::BTreeMap;

use mixagent_core::Mixture;
use mixagent_policy::{
    encode, encode_with_prior, DomainInfo, DomainPrior, FeatureSpec, History, NetConfig,
    PriorBuilder, RegressionPriorBuilder, RewardConfig, StageOutcome, DOMAIN_FEATURES,
    HISTORY_FEATURES,
};
use mixagent_shard::Manifest;
use mixagent_trajectory::Trajectory;
use serde::{Deserialize, Serialize};

use crate::AgentError;

/// Which views of each trajectory the agent trains on (the collected space always).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewConfig {
    /// Add the field-level (2-D) view.
    pub field_level: bool,
    /// Random re-groupings per trajectory.
    pub random: usize,
    /// Give every state the collection's per-domain prior (`mixagent_policy::DomainPrior`),
    /// cross-fitted: a trajectory reads the prior drawn from the other half of the set, so the
    /// agent learns how far the prior's noise can be trusted. One random view in three hides
    /// the source field's prior and one in three the target's, so the agent also learns to steer
    /// domains the collection never read (a new target or source field). Off: every prior
    /// feature reads unknown, and the artifact's prior is empty.
    #[serde(default = "yes")]
    pub prior: bool,
    /// How the prior reads the collection (see [`PriorFrom`]).
    #[serde(default)]
    pub prior_from: PriorFrom,
    /// Bound the deployed agent's target share to where the collection's best runs put it
    /// (`decision.share_band`, read by `share_band` in this module): the field split is then
    /// read from the collection's outcomes, not extrapolated by the share head past the runs it
    /// saw. Off: `decision.share_band` as configured.
    #[serde(default)]
    pub share_band: bool,
}

/// How the collection's per-domain prior is drawn from its runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorFrom {
    /// Each domain's mean last-stage in-run credit over the runs (`mixagent_policy::PriorBuilder`).
    #[default]
    Credit,
    /// A ridge regression across runs of each field's final change on the runs' token shares
    /// (`mixagent_policy::RegressionPriorBuilder`).
    Regression,
}

fn yes() -> bool {
    true
}

impl Default for ViewConfig {
    fn default() -> Self {
        ViewConfig {
            field_level: true,
            random: 6,
            prior: true,
            prior_from: PriorFrom::Credit,
            share_band: false,
        }
    }
}

/// Transitions over spaces of one size `k`, as flat row-major arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Entries (tokens) per state.
    pub k: usize,
    /// States, `(N + M, K, F)`, not normalised: the state before each transition's stage,
    /// then the state after the last stage of each of the M trajectory views. A transition's
    /// next state is the following transition's state, so it is stored once.
    pub states: Vec<f32>,
    /// Row of `states` holding each transition's next state, `(N)`.
    pub next: Vec<usize>,
    /// The stage's mixture, `(N, K)`.
    pub actions: Vec<f32>,
    /// 1 for a target-field entry, `(N, K)`.
    pub is_target: Vec<f32>,
    /// Rewards, `(N)`.
    pub rewards: Vec<f32>,
    /// 1 for a trajectory's last stage, `(N)`.
    pub dones: Vec<f32>,
    /// Index (into the set) of each transition's trajectory, `(N)`.
    pub trajectory: Vec<usize>,
    /// Each transition's stage in its trajectory, `(N)` (a branch's first is its branch point).
    pub stage: Vec<usize>,
}

impl Block {
    fn new(k: usize) -> Self {
        Block {
            k,
            states: Vec::new(),
            next: Vec::new(),
            actions: Vec::new(),
            is_target: Vec::new(),
            rewards: Vec::new(),
            dones: Vec::new(),
            trajectory: Vec::new(),
            stage: Vec::new(),
        }
    }

    /// Transitions.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}

/// The transitions of a trajectory set, in blocks by space size.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Values per token: the features, then the history slots.
    pub width: usize,
    /// History slots per token.
    pub window: usize,
    /// Blocks, by increasing `k`.
    pub blocks: Vec<Block>,
    /// Final balanced score of each trajectory of the set.
    pub final_scores: Vec<f64>,
    /// The tree of each trajectory of the set (a trajectory and its branches,
    /// `families.branches`; each trajectory its own where there are none).
    pub trees: Vec<usize>,
    /// Entries of the collected space.
    pub collected_k: usize,
    /// Views read per trajectory.
    pub views: usize,
    /// The per-domain prior drawn from the whole set (empty when `views.prior` is off): what
    /// the artifact carries to deployment.
    pub prior: DomainPrior,
}

/// The agent's view of a trajectory's space: shares of field tokens from the corpus manifest,
/// and which corpus domains stand for each entry's loss.
pub fn domain_infos(t: &Trajectory, manifest: &Manifest) -> Result<Vec<DomainInfo>, AgentError> {
    manifest.domain_infos(t.space.iter().map(|e| (e.name.as_str(), e.field.as_str()))).map_err(
        |e| AgentError::Data(format!("{}: {e} (give the corpus its space was built on)", t.id)),
    )
}

/// Groups of a space's entries (indices), each within one field, source field first.
type Grouping = Vec<Vec<usize>>;

/// The views of a space with `fields[i]` the field index of entry `i` (fields numbered in
/// order of first appearance): the space itself, its field level, and `random` seeded
/// re-groupings.
fn groupings(fields: &[usize], cfg: &ViewConfig, seed: u64) -> Vec<Grouping> {
    let n_fields = fields.iter().max().map_or(0, |m| m + 1);
    let members: Vec<Vec<usize>> =
        (0..n_fields).map(|f| (0..fields.len()).filter(|&i| fields[i] == f).collect()).collect();
    let mut out: Vec<Grouping> = vec![(0..fields.len()).map(|i| vec![i]).collect()];
    if cfg.field_level {
        out.push(members.clone());
    }
    let mut state = seed;
    let mut next = |bound: usize| -> usize {
        state = mixagent_core::seed::mix64(state);
        (state % bound as u64) as usize
    };
    for _ in 0..cfg.random {
        let mut grouping = Grouping::new();
        for m in &members {
            // A random order, cut into 1..=n runs at distinct random places.
            let mut order = m.clone();
            for i in (1..order.len()).rev() {
                order.swap(i, next(i + 1));
            }
            let groups = 1 + next(order.len());
            let mut cuts: Vec<usize> = (1..order.len()).collect();
            for i in (1..cuts.len()).rev() {
                cuts.swap(i, next(i + 1));
            }
            let mut cuts: Vec<usize> = cuts.into_iter().take(groups - 1).collect();
            cuts.sort_unstable();
            let mut start = 0;
            let mut field_groups: Vec<Vec<usize>> = Vec::new();
            for end in cuts.into_iter().chain([order.len()]) {
                let mut g = order[start..end].to_vec();
                g.sort_unstable();
                field_groups.push(g);
                start = end;
            }
            field_groups.sort();
            grouping.extend(field_groups);
        }
        out.push(grouping);
    }
    out
}

/// The entries of a grouping: merged names, summed shares, all members' loss domains (none
/// where `hide_loss` is set for the entry).
fn merged(domains: &[DomainInfo], grouping: &Grouping, hide_loss: &[bool]) -> Vec<DomainInfo> {
    grouping
        .iter()
        .zip(hide_loss)
        .map(|(g, &hide)| DomainInfo {
            name: view_entry_name(domains, g),
            field: domains[g[0]].field.clone(),
            share_in_field: g.iter().map(|&i| domains[i].share_in_field).sum(),
            members: if hide {
                Vec::new()
            } else {
                g.iter().flat_map(|&i| domains[i].members.clone()).collect()
            },
        })
        .collect()
}

/// A view entry's name: its domain's own, or for a merged group its first domain's and its
/// size (`brown_press--4`): a valid domain name, so a view is a space like any other, and
/// unique in the view, since the groups partition the domains.
fn view_entry_name(domains: &[DomainInfo], group: &[usize]) -> String {
    let first = &domains[group[0]].name;
    if group.len() == 1 {
        return first.clone();
    }
    let head: String = first.chars().take(56).collect();
    format!("{head}--{}", group.len())
}

/// Marks a next-state row that points into a block's final states while the block is built.
const FINAL: usize = 1 << (usize::BITS - 1);

/// Share of entries whose held-out loss a random view hides: a deployment space may have
/// entries without held-out data, and `loss_known` must not be constant in training.
const HIDDEN_LOSS: u64 = 8; // one in 8

/// Share of random views that hide a field's prior (source and target drawn apart).
const HIDDEN_PRIOR: u64 = 3; // one in 3

/// A trajectory's stages over the entries of `grouping` (weights summed within each group).
fn stage_outcomes(
    t: &Trajectory,
    entries: &[DomainInfo],
    grouping: &Grouping,
) -> Result<Vec<StageOutcome>, mixagent_core::CoreError> {
    let space = DomainInfo::space_of(entries)?;
    t.stages
        .iter()
        .map(|r| {
            let w = grouping.iter().map(|g| g.iter().map(|&j| r.weights[j]).sum()).collect();
            Ok(StageOutcome {
                mixture: Mixture::new(space.clone(), w)?,
                observation: r.observation.clone(),
                tokens: r.tokens,
            })
        })
        .collect()
}

/// How `set` branches, per trajectory: its tree, numbered by first appearance (a branch
/// belongs to its parent's, `families.branches`; any other trajectory is its own), and the
/// stage from which it adds transitions (a branch's branch point where its parent is in the
/// set, whose rows those before it are; else 0: a branch without its parent is read whole).
/// Trajectories are told apart by collection (their config, the trajectory count aside, since
/// a collection may grow) and plan index, so several collections (`train-agent --trajectories
/// A --trajectories B`) never share a tree.
fn branching(set: &[Trajectory]) -> (Vec<usize>, Vec<usize>) {
    let keys: Vec<String> = set
        .iter()
        .map(|t| {
            let mut c = t.config.clone();
            c.trajectories = 0;
            serde_json::to_string(&c).expect("a config serialises")
        })
        .collect();
    let present: std::collections::BTreeSet<(&str, u64)> =
        set.iter().zip(&keys).map(|(t, k)| (k.as_str(), t.index)).collect();
    let mut seen: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    set.iter()
        .zip(&keys)
        .map(|(t, k)| {
            let root = (k.as_str(), t.branch.map_or(t.index, |b| b.parent));
            let next = seen.len();
            let tree = *seen.entry(root).or_insert(next);
            let first = match t.branch {
                Some(b) if present.contains(&(k.as_str(), b.parent)) => {
                    t.stages.len() - t.own_stages().len()
                }
                _ => 0,
            };
            (tree, first)
        })
        .unzip()
}

/// The per-domain priors of `set` over its collected space `domains`: the whole set's, and
/// for each half of the trees (even and odd, numbered as in [`branching`]) the one drawn from the
/// other half. Each finished trajectory gives each domain its last-stage credit
/// (`credit_source` for the source field, `credit_target` for the target field where there is
/// one); a tree counts as one run, the mean of its trajectories' credits, since a branch
/// shares its parent's first stages and its credits are not independent evidence.
fn priors(
    set: &[Trajectory],
    tree: &[usize],
    domains: &[DomainInfo],
    fields: &[String],
    from: PriorFrom,
) -> Result<(DomainPrior, [DomainPrior; 2]), AgentError> {
    if from == PriorFrom::Regression {
        return Ok(regression_priors(set, tree, domains, fields));
    }
    let at = |name: &str| DOMAIN_FEATURES.iter().position(|f| *f == name).expect("a feature");
    let (source, target) = (at("credit_source"), at("credit_target"));
    let singles: Grouping = (0..domains.len()).map(|i| vec![i]).collect();
    // Per tree, per (domain, field slot): the sum and count of its finite credits.
    let n_trees = tree.iter().max().map_or(0, |m| m + 1);
    let slots = domains.len() * fields.len();
    let mut sums = vec![(0.0f64, 0usize); n_trees * slots];
    for (t, &tr) in set.iter().zip(tree) {
        let stages = stage_outcomes(t, domains, &singles)
            .map_err(|e| AgentError::Data(format!("{}: {e}", t.id)))?;
        let h = History {
            domains,
            initial: &t.initial,
            stages: &stages,
            total_stages: t.config.stages,
        };
        let state = encode(&h, 0);
        // The target credit is recorded where there is exactly one target field (as before
        // trees: with several, `credit_target` mixes them).
        let read = if fields.len() == 2 { 2 } else { 1 };
        for n in 0..domains.len() {
            for (f, feature) in [source, target].into_iter().take(read).enumerate() {
                let credit = f64::from(state.token(n)[feature]);
                if credit.is_finite() {
                    let s = &mut sums[tr * slots + n * fields.len() + f];
                    *s = (s.0 + credit, s.1 + 1);
                }
            }
        }
    }
    let (mut all, mut halves) =
        (PriorBuilder::default(), [PriorBuilder::default(), PriorBuilder::default()]);
    for tr in 0..n_trees {
        for b in [&mut all, &mut halves[tr % 2]] {
            b.add_run();
            for (n, d) in domains.iter().enumerate() {
                for (f, field) in fields.iter().enumerate() {
                    let (sum, count) = sums[tr * slots + n * fields.len() + f];
                    if count > 0 {
                        b.add(&d.name, field, sum / count as f64);
                    }
                }
            }
        }
    }
    // A tree reads the half it is not in.
    Ok((all.finish(), [halves[1].finish(), halves[0].finish()]))
}

/// The regression prior ([`PriorFrom::Regression`]), whole and cross-fitted in halves as
/// [`priors`]: a tree is one run, the mean of its trajectories' token shares per domain and
/// final relative feedback changes per field.
fn regression_priors(
    set: &[Trajectory],
    tree: &[usize],
    domains: &[DomainInfo],
    fields: &[String],
) -> (DomainPrior, [DomainPrior; 2]) {
    let n_trees = tree.iter().max().map_or(0, |m| m + 1);
    // Per tree: summed shares, summed changes (NaN where unmeasured), trajectories.
    let mut sums = vec![(vec![0.0; domains.len()], vec![0.0; fields.len()], 0usize); n_trees];
    for (t, &tr) in set.iter().zip(tree) {
        let total: f64 = t.stages.iter().map(|r| r.tokens as f64).sum();
        let last = t.stages.last().map(|r| &r.observation);
        let s = &mut sums[tr];
        for r in &t.stages {
            for (acc, w) in s.0.iter_mut().zip(&r.weights) {
                *acc += w * r.tokens as f64 / total.max(1.0);
            }
        }
        for (acc, f) in s.1.iter_mut().zip(fields) {
            *acc += last.and_then(|o| o.relative_change(&t.initial, f)).unwrap_or(f64::NAN);
        }
        s.2 += 1;
    }
    let (mut all, mut halves) = (
        RegressionPriorBuilder::default(),
        [RegressionPriorBuilder::default(), RegressionPriorBuilder::default()],
    );
    for (tr, (shares, changes, count)) in sums.iter().enumerate() {
        let n = *count as f64;
        let shares: BTreeMap<String, f64> =
            domains.iter().zip(shares).map(|(d, s)| (d.name.clone(), s / n)).collect();
        let changes: BTreeMap<String, f64> =
            fields.iter().zip(changes).map(|(f, c)| (f.clone(), c / n)).collect();
        halves[tr % 2].add_run(shares.clone(), changes.clone());
        all.add_run(shares, changes);
    }
    (all.finish(), [halves[1].finish(), halves[0].finish()])
}

/// Runs (a tree of branches is one run) among which [`share_band`] takes the best quarter.
pub const SHARE_BAND_MIN_RUNS: usize = 8;

/// `share_band` of a whole collection: its runs as `branching` groups them, each
/// trajectory's final balanced score against its own base. What `views.share_band` writes into
/// a trained agent; `mixagent trajectories share-band` gives an existing agent the same.
pub fn collection_share_band(set: &[Trajectory]) -> Result<[f64; 2], AgentError> {
    let (trees, _) = branching(set);
    let scores = set.iter().map(final_score).collect::<Result<Vec<f64>, _>>()?;
    share_band(set, &trees, &scores)
}

/// A trajectory's final balanced score: its last observation against its own base.
fn final_score(t: &Trajectory) -> Result<f64, AgentError> {
    let fields = t.fields();
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let last =
        t.stages.last().ok_or_else(|| AgentError::Data(format!("{} has no stages", t.id)))?;
    mixagent_core::balanced_score(&last.observation, &t.initial, &refs)
        .map_err(|e| AgentError::Data(format!("{}: {e}", t.id)))
}

/// Where the best runs of `set` put the target fields' share of their tokens: the 10th and
/// 90th percentiles (nearest rank) of that share over the quarter of runs with the highest
/// final balanced score (`final_scores`, one per trajectory; a tree of `trees` is one run, its
/// trajectories' mean share and score). `views.share_band` bounds the agent's share with it.
pub fn share_band(
    set: &[Trajectory],
    trees: &[usize],
    final_scores: &[f64],
) -> Result<[f64; 2], AgentError> {
    let n_trees = trees.iter().max().map_or(0, |m| m + 1);
    if n_trees < SHARE_BAND_MIN_RUNS {
        return Err(AgentError::Data(format!(
            "views.share_band reads the best quarter of the collection's runs and there are {n_trees}: collect at least {SHARE_BAND_MIN_RUNS}, or set views.share_band = false"
        )));
    }
    // Per tree: summed target share, summed score, trajectories.
    let mut sums = vec![(0.0, 0.0, 0usize); n_trees];
    for ((t, &tr), &score) in set.iter().zip(trees).zip(final_scores) {
        let source = t.space.first().map(|e| e.field.as_str());
        let total: f64 = t.stages.iter().map(|r| r.tokens as f64).sum::<f64>().max(1.0);
        let target: f64 = t
            .stages
            .iter()
            .map(|r| {
                let w: f64 = r
                    .weights
                    .iter()
                    .zip(&t.space)
                    .filter(|(_, e)| Some(e.field.as_str()) != source)
                    .map(|(w, _)| w)
                    .sum();
                w * r.tokens as f64 / total
            })
            .sum();
        let s = &mut sums[tr];
        s.0 += target;
        s.1 += score;
        s.2 += 1;
    }
    let mut runs: Vec<(f64, f64)> =
        sums.iter().map(|&(share, score, n)| (score / n as f64, share / n as f64)).collect();
    runs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best: Vec<f64> = runs[..n_trees.div_ceil(4)].iter().map(|r| r.1).collect();
    best.sort_by(f64::total_cmp);
    let rank = |q: f64| best[(q * (best.len() - 1) as f64).round() as usize];
    Ok([rank(0.1), rank(0.9)])
}

impl Dataset {
    /// Builds the transitions of `set` (finished trajectories over one space) through the
    /// views of `views`, each state with a history of `window` stages; `seed` draws the
    /// random re-groupings.
    pub fn build(
        set: &[Trajectory],
        manifest: &Manifest,
        reward: &RewardConfig,
        views: &ViewConfig,
        window: usize,
        seed: u64,
    ) -> Result<Self, AgentError> {
        let first = set.first().ok_or_else(|| AgentError::Data("no trajectories".into()))?;
        let domains = domain_infos(first, manifest)?;
        let fields = first.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let field_of: Vec<usize> = domains
            .iter()
            .map(|d| fields.iter().position(|f| *f == d.field).expect("a space field"))
            .collect();
        let (tree, first_own) = branching(set);
        let (prior, cross) = if views.prior {
            priors(set, &tree, &domains, &fields, views.prior_from)?
        } else {
            (DomainPrior::default(), [DomainPrior::default(), DomainPrior::default()])
        };
        // Each half's prior, whole and with a field's evidence hidden: [full, no source,
        // no target, neither].
        let variants: Vec<[DomainPrior; 4]> = cross
            .iter()
            .map(|p| {
                let no_target = fields[1..].iter().fold(p.clone(), |p, f| p.without(f));
                let neither = no_target.without(&fields[0]);
                [p.clone(), p.without(&fields[0]), no_target, neither]
            })
            .collect();
        let mut blocks: BTreeMap<usize, Block> = BTreeMap::new();
        let mut finals: BTreeMap<usize, Vec<f32>> = BTreeMap::new();
        let mut final_scores = Vec::with_capacity(set.len());
        let mut width = 0;
        let mut n_views = 0;
        for (i, t) in set.iter().enumerate() {
            if t.space != first.space {
                return Err(AgentError::Data(format!(
                    "{} mixes over another space than {}: train on one space at a time",
                    t.id, first.id
                )));
            }
            if !t.is_complete() {
                return Err(AgentError::Data(format!("{} is not finished", t.id)));
            }
            let no_feedback =
                |e: mixagent_core::CoreError| AgentError::Data(format!("{}: {e}", t.id));
            let rewards = t
                .stages
                .iter()
                .enumerate()
                .map(|(n, row)| {
                    let before = if n == 0 { &t.initial } else { &t.stages[n - 1].observation };
                    reward.reward(&t.initial, before, &row.observation, &refs)
                })
                .collect::<Result<Vec<f64>, _>>()
                .map_err(no_feedback)?;
            final_scores.push(final_score(t)?);
            let view_seed = mixagent_core::seed::derive(seed, "view", i as u64);
            let views_of_t = groupings(&field_of, views, view_seed);
            n_views = views_of_t.len();
            let fixed = 1 + usize::from(views.field_level);
            let mut hide_state = mixagent_core::seed::derive(seed, "hidden-loss", i as u64);
            let mut prior_state = mixagent_core::seed::derive(seed, "hidden-prior", i as u64);
            for (v, grouping) in views_of_t.iter().enumerate() {
                // The collected space and its field level keep every loss; random views hide some.
                let hide: Vec<bool> = grouping
                    .iter()
                    .map(|_| {
                        hide_state = mixagent_core::seed::mix64(hide_state);
                        v >= fixed && hide_state.is_multiple_of(HIDDEN_LOSS)
                    })
                    .collect();
                let entries = merged(&domains, grouping, &hide);
                let k = entries.len();
                let kc = t.stages.first().map_or(0, |r| r.weights.len());
                let stage_views = stage_outcomes(t, &entries, grouping)
                    .map_err(|e| AgentError::Data(format!("{}: view {v}: {e}", t.id)))?;
                // The collected space and its field level read the whole (cross-fitted) prior.
                prior_state = mixagent_core::seed::mix64(prior_state);
                let hidden = if v < fixed {
                    0
                } else {
                    usize::from(prior_state.is_multiple_of(HIDDEN_PRIOR))
                        + 2 * usize::from((prior_state / HIDDEN_PRIOR).is_multiple_of(HIDDEN_PRIOR))
                };
                let view_prior = &variants[tree[i] % 2][hidden];
                let state_at = |n: usize| {
                    encode_with_prior(
                        &History {
                            domains: &entries,
                            initial: &t.initial,
                            stages: &stage_views[..n],
                            total_stages: t.config.stages,
                        },
                        window,
                        view_prior,
                    )
                };
                let is_target: Vec<f32> =
                    entries.iter().map(|e| f32::from(u8::from(e.field != fields[0]))).collect();
                let block = blocks.entry(k).or_insert_with(|| Block::new(k));
                let finals = finals.entry(k).or_default();
                // A branch's transitions are its own stages': those before its branch point
                // are its parent's, already in the set (its states still read them).
                let own = first_own[i];
                let mut prev = state_at(own);
                for (n, row) in t.stages.iter().enumerate().skip(own) {
                    let next = state_at(n + 1);
                    width = prev.width;
                    block.states.extend_from_slice(&prev.values);
                    if n + 1 == t.stages.len() {
                        // Its row is known once the block is complete: marked for now.
                        block.next.push(FINAL | (finals.len() / next.values.len()));
                        finals.extend_from_slice(&next.values);
                    } else {
                        block.next.push(block.len() + 1);
                    }
                    block.actions.extend(refloored(
                        &row.weights,
                        grouping,
                        t.config.families.floor,
                        kc,
                    ));
                    block.is_target.extend_from_slice(&is_target);
                    block.rewards.push(rewards[n] as f32);
                    block.dones.push(f32::from(u8::from(n + 1 == t.stages.len())));
                    block.trajectory.push(i);
                    block.stage.push(n);
                    prev = next;
                }
            }
        }
        // Each block's final states follow its transitions' states.
        for (k, block) in &mut blocks {
            let n = block.len();
            for row in &mut block.next {
                if *row & FINAL != 0 {
                    *row = n + (*row & !FINAL);
                }
            }
            block.states.extend(finals.remove(k).unwrap_or_default());
        }
        Ok(Dataset {
            width,
            window,
            blocks: blocks.into_values().collect(),
            final_scores,
            trees: tree,
            collected_k: domains.len(),
            views: n_views,
            prior,
        })
    }

    /// The network shape `net` with the input this data gives: its features per token and
    /// its history slots.
    pub fn net_config(&self, net: &NetConfig) -> NetConfig {
        let hf = HISTORY_FEATURES.len();
        NetConfig {
            features: self.width - self.window * hf,
            history: self.window,
            history_features: if self.window > 0 { hf } else { 0 },
            ..net.clone()
        }
    }

    /// The names of the values of a token (`mixagent_policy::feature_names`).
    pub fn feature_names(&self) -> Vec<String> {
        mixagent_policy::feature_names(self.window)
    }

    /// Transitions, over every block.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(Block::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Per-feature mean and standard deviation over every token of every state, with each
    /// normalised value clipped to ±`clip`. The first `own` values of a token are features;
    /// the rest are history slots of `HISTORY_FEATURES.len()` values, whose statistics are
    /// taken per slot feature over the held slots only and shared by every slot, and whose
    /// first value (whether the slot is held) is left as it is (mean 0, deviation 1), so the
    /// network can tell held slots from empty ones. A feature that is constant over the data
    /// (its deviation below 1e-6) gets deviation 1, so a new space's value reads as its plain
    /// difference; such features are returned by name as well, for a warning.
    pub fn normalisation(&self, names: Vec<String>, clip: f32) -> (FeatureSpec, Vec<String>) {
        let (f, hf) = (self.width, HISTORY_FEATURES.len());
        let own = f - self.window * hf;
        // Statistic index of column c: its own for a feature, shared per slot feature after.
        let stat = |c: usize| if c < own { c } else { own + (c - own) % hf };
        let n_stats = own + if self.window > 0 { hf } else { 0 };
        // Every (statistic, value) of the transitions' states, empty slots left out.
        let values = || {
            self.blocks.iter().flat_map(move |b| {
                b.states[..b.len() * b.k * f].chunks_exact(f).flat_map(move |row| {
                    row.iter().enumerate().filter_map(move |(c, &x)| {
                        let empty = c >= own && row[own + (c - own) / hf * hf] < 0.5;
                        (!empty).then_some((stat(c), f64::from(x)))
                    })
                })
            })
        };
        // Two passes (mean, then squared deviations), as numerically stable as before.
        let (mut count, mut mean) = (vec![0f64; n_stats], vec![0f64; n_stats]);
        for (j, x) in values() {
            count[j] += 1.0;
            mean[j] += x;
        }
        mean.iter_mut().zip(&count).for_each(|(m, n)| *m /= n.max(1.0));
        let mut var = vec![0f64; n_stats];
        for (j, x) in values() {
            var[j] += (x - mean[j]).powi(2);
        }
        let moments: Vec<(f64, f64)> =
            (0..n_stats).map(|j| (mean[j], (var[j] / count[j].max(1.0)).sqrt())).collect();
        let identity = |c: usize| c >= own && (c - own).is_multiple_of(hf);
        let constant: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|&(c, _)| !identity(c) && moments[stat(c)].1 < 1e-6)
            .map(|(_, n)| n.clone())
            .collect();
        let spec = FeatureSpec {
            names,
            mean: (0..f)
                .map(|c| if identity(c) { 0.0 } else { moments[stat(c)].0 as f32 })
                .collect(),
            std: (0..f)
                .map(|c| {
                    let s = moments[stat(c)].1;
                    if identity(c) || s < 1e-6 {
                        1.0
                    } else {
                        s as f32
                    }
                })
                .collect(),
            clip,
        };
        (spec, constant)
    }
}

/// A view's action: the collected mixture `w` (over `kc` domains, floor `floor/kc` each) summed
/// over each entry's `grouping` with the floor moved to the view's own `floor/K`, as a policy
/// over the view puts it. Summing the floored weights instead would give an entry of one
/// domain in a coarser view less than the view's floor, and its logit no finite value. The
/// floor is the collection's (`families.floor`); the trainer takes its own (`floor`, the same
/// 0.02 by default) off again, so where the two differ the targets are off by their difference.
/// The view's states keep the summed weights as collected: what the proxy actually read.
fn refloored<'a>(
    w: &'a [f64],
    grouping: &'a [Vec<usize>],
    floor: f64,
    kc: usize,
) -> impl Iterator<Item = f32> + 'a {
    let k = grouping.len() as f64;
    let unfloored = move |x: f64| ((x - floor / kc as f64) / (1.0 - floor)).max(0.0);
    grouping.iter().map(move |g| {
        let v: f64 = g.iter().map(|&j| unfloored(w[j])).sum::<f64>();
        ((1.0 - floor) * v + floor / k) as f32
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use mixagent_core::Observation;
    use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};
    use mixagent_trajectory::{
        BaseInfo, CollectConfig, Family, SpaceEntry, StageRow, TRAJECTORY_VERSION,
    };

    use mixagent_policy::GLOBAL_FEATURES;

    use super::*;

    fn obs(g: f64, m: f64) -> Observation {
        Observation {
            feedback: [("general".into(), g), ("math".into(), m)].into(),
            domain_loss: [("a".into(), 3.0), ("b".into(), 4.0), ("c".into(), 5.0)].into(),
        }
    }

    fn trajectory(id: &str, feedback: &[(f64, f64)]) -> Trajectory {
        let rows: Vec<_> = feedback.iter().map(|&(g, m)| (vec![0.25, 0.25, 0.5], g, m)).collect();
        trajectory_with(id, &rows)
    }

    /// A trajectory with each stage's weights and the feedback after it.
    fn trajectory_with(id: &str, rows: &[(Vec<f64>, f64, f64)]) -> Trajectory {
        let feedback: Vec<(f64, f64)> = rows.iter().map(|(_, g, m)| (*g, *m)).collect();
        let cfg =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
        let stages = feedback.len().to_string();
        let config = CollectConfig::load(&cfg, &[format!("stages={stages}")]).unwrap();
        Trajectory {
            format_version: TRAJECTORY_VERSION,
            branch: None,
            tilt: None,
            id: id.into(),
            index: id.trim_start_matches("t-").parse().unwrap(),
            seed: 0,
            family: Family::Constant { target_share: 0.5 },
            concentration: 1.0,
            space: ["a:general", "b:general", "c:math"]
                .iter()
                .map(|s| {
                    let (n, f) = s.split_once(':').unwrap();
                    SpaceEntry { name: n.into(), field: f.into() }
                })
                .collect(),
            space_fingerprint: "x".into(),
            base: BaseInfo { checkpoint: "b".into(), fingerprint: "0".repeat(16), params: 1 },
            suites: BTreeMap::new(),
            config,
            initial: obs(-4.0, -8.0),
            stages: feedback
                .iter()
                .enumerate()
                .map(|(i, &(g, m))| StageRow {
                    stage: i,
                    weights: rows[i].0.clone(),
                    tokens: 10,
                    tokens_by_domain: BTreeMap::new(),
                    train_loss: 1.0,
                    observation: obs(g, m),
                    train_secs: 0.0,
                    eval_secs: 0.0,
                    train_precision: Default::default(),
                    observe_precision: Default::default(),
                })
                .collect(),
        }
    }

    fn manifest(dir: &Path) -> Manifest {
        let d =
            |n: &str, f: &str, tokens| SyntheticDomain { name: n.into(), field: f.into(), tokens };
        write_synthetic_corpus(
            dir,
            &[d("a", "general", 3000), d("b", "general", 1000), d("c", "math", 2000)],
            64,
        )
        .unwrap()
    }

    const ONE_VIEW: ViewConfig = ViewConfig {
        field_level: false,
        random: 0,
        prior: false,
        prior_from: PriorFrom::Credit,
        share_band: false,
    };

    #[test]
    fn transitions_carry_the_rewards_and_the_policys_own_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let set = [
            trajectory("t-00000", &[(-4.4, -6.0), (-4.8, -4.0)]),
            trajectory("t-00001", &[(-4.0, -7.2)]),
        ];
        let d = Dataset::build(&set, &m, &RewardConfig::default(), &ONE_VIEW, 0, 0).unwrap();
        assert_eq!((d.len(), d.blocks.len(), d.views), (3, 1, 1));
        let b = &d.blocks[0];
        assert_eq!(b.k, 3);
        // Stage 0 of t-00000: S 0 → (−0.1 + 0.25)/2; stage 1: → (−0.2 + 0.5)/2.
        let expect = [0.075, 0.15 - 0.075, 0.05];
        for (r, e) in b.rewards.iter().zip(expect) {
            assert!((f64::from(*r) - e).abs() < 1e-6, "{r} vs {e}");
        }
        assert_eq!(b.dones, [0.0, 1.0, 1.0]);
        assert_eq!(b.trajectory, [0, 0, 1]);
        assert_eq!(b.is_target[..3], [0.0, 0.0, 1.0]);
        assert!((d.final_scores[0] - 0.15).abs() < 1e-12);
        // share_in_field of `a` = 3000 / (3000 + 1000) (EOS tokens are counted by the corpus).
        let share = b.states[1];
        assert!((f64::from(share) - 0.75).abs() < 0.01, "{share}");
        // The next state of a transition is the state of the following one; a trajectory's
        // last transition points after the transitions, to its final state.
        assert_eq!(b.next, [1, 3, 4]);
        assert_eq!(b.states.len(), 5 * b.k * d.width);
        let (spec, constant) = d.normalisation(vec!["x".into(); d.width], 5.0);
        assert_eq!(spec.mean.len(), d.width);
        assert!(spec.std.iter().all(|&s| s > 0.0));
        // One space, one view: the space's own facts are constant (and reported).
        assert!(!constant.is_empty());
    }

    #[test]
    fn views_read_the_same_stages_over_merged_entries() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let set = [trajectory("t-00000", &[(-4.4, -6.0), (-4.8, -4.0)])];
        let cfg = ViewConfig { field_level: true, random: 8, ..ViewConfig::default() };
        let d = Dataset::build(&set, &m, &RewardConfig::default(), &cfg, 0, 1).unwrap();
        assert_eq!(d.views, 10);
        assert_eq!(d.len(), 20);
        // Blocks of 2 (general merged) and 3 entries.
        assert_eq!(d.blocks.iter().map(|b| b.k).collect::<Vec<_>>(), [2, 3]);
        let two = &d.blocks[0];
        // The field-level action: general 0.25 + 0.25, math 0.5, with the collection's floor
        // (0.02 over 3 domains) moved to the view's 2 entries: general's two floors become
        // one, 0.5 − 0.02·(2/3 − 1/2), and math 0.5 + 0.02·(1/2 − 1/3). Same rewards as the
        // K-D view.
        let f = 0.02;
        let expected = [0.5 - f * (2.0 / 3.0 - 0.5), 0.5 + f * (0.5 - 1.0 / 3.0)];
        for (a, e) in two.actions[..2].iter().zip(expected) {
            assert!((f64::from(*a) - e).abs() < 1e-6, "{:?} vs {expected:?}", &two.actions[..2]);
        }
        // The collected view's actions are the collected mixtures themselves.
        assert_eq!(d.blocks[1].actions[..3], [0.25, 0.25, 0.5]);
        assert_eq!(two.is_target[..2], [0.0, 1.0]);
        assert_eq!(two.rewards[..2], d.blocks[1].rewards[..2]);
        // The merged entry's share of its field is the sum: 1.
        assert!((two.states[1] - 1.0).abs() < 1e-6);
        // Over the views, the per-entry count of the source field varies.
        let (spec, constant) = d.normalisation(vec!["x".into(); d.width], 5.0);
        assert!(spec.std[2] > 0.01, "field_entries_inv varies: {}", spec.std[2]);
        assert!(!constant.contains(&"x".to_string()) || constant.len() < d.width);
    }

    #[test]
    fn every_grouping_partitions_the_space_within_fields() {
        let fields = [0, 0, 0, 0, 0, 1, 1, 1];
        let cfg = ViewConfig { field_level: true, random: 50, ..ViewConfig::default() };
        let all = groupings(&fields, &cfg, 9);
        assert_eq!(all.len(), 52);
        let mut sizes = std::collections::BTreeSet::new();
        for g in &all {
            let mut seen: Vec<usize> = g.iter().flatten().copied().collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..8).collect::<Vec<_>>(), "{g:?}");
            for group in g {
                assert!(group.iter().all(|&i| fields[i] == fields[group[0]]), "{g:?}");
            }
            // Source groups first.
            let f: Vec<usize> = g.iter().map(|group| fields[group[0]]).collect();
            assert!(f.windows(2).all(|w| w[0] <= w[1]), "{g:?}");
            sizes.insert(g.len());
        }
        // From the field level (2 entries) to all 8.
        assert!(sizes.contains(&2) && sizes.contains(&8) && sizes.len() >= 5, "{sizes:?}");
        assert_eq!(all, groupings(&fields, &cfg, 9), "seeded");
    }

    #[test]
    fn mixed_spaces_and_unknown_domains_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let mut other = trajectory("t-00001", &[(-4.0, -7.0)]);
        other.space[0].name = "z".into();
        let e = Dataset::build(
            &[trajectory("t-00000", &[(-4.0, -7.0)]), other.clone()],
            &m,
            &RewardConfig::default(),
            &ONE_VIEW,
            0,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t-00001") && e.contains("another space"), "{e}");
        let e = Dataset::build(&[other], &m, &RewardConfig::default(), &ONE_VIEW, 0, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown domain `z`") && e.contains("space was built on"), "{e}");
    }

    #[test]
    fn states_read_the_prior_of_the_other_half_of_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        // In every run the general feedback rises by a tenth of `a`'s share of the general
        // field each stage: `a` helps general, so `b` (the rest of the field) does not.
        let set: Vec<Trajectory> = (0..8)
            .map(|i| {
                let xs = [[0.2, 0.8, 0.4, 0.6], [0.7, 0.3, 0.9, 0.1]][i % 2];
                let mut g = -4.0;
                let rows: Vec<_> = xs
                    .iter()
                    .map(|&x| {
                        g += 0.1 * x + 0.001 * i as f64;
                        (vec![0.5 * x, 0.5 * (1.0 - x), 0.5], g, -8.0)
                    })
                    .collect();
                trajectory_with(&format!("t-{i:05}"), &rows)
            })
            .collect();
        let views = ViewConfig { prior: true, ..ONE_VIEW };
        let d = Dataset::build(&set, &m, &RewardConfig::default(), &views, 0, 0).unwrap();
        assert_eq!(d.prior.runs, 8);
        assert!(d.prior.evidence["a"]["general"] > 0.9, "{:?}", d.prior);
        assert!(d.prior.evidence["b"]["general"] < -0.9, "{:?}", d.prior);
        // Each state reads the other half's prior (four runs each, enough to be known).
        let at = |n: &str| DOMAIN_FEATURES.iter().position(|f| *f == n).unwrap();
        let b = &d.blocks[0];
        let token = |row: usize, i: usize| &b.states[(row * b.k + i) * d.width..][..d.width];
        for row in 0..b.len() {
            assert_eq!(token(row, 0)[at("prior_source_known")], 1.0);
            assert!(token(row, 0)[at("prior_source")] > 0.9);
            assert!(token(row, 1)[at("prior_source")] < -0.9);
            // `c`'s weight never moved within its field: known, and no evidence either way.
            assert_eq!(token(row, 2)[at("prior_target_known")], 1.0);
            assert_eq!(token(row, 2)[at("prior_target")], 0.0);
        }
        // The regression across runs needs runs that differ (in `set` every run gives `a` a
        // quarter of its tokens): here run i gives `a` the same share x_i of the general half
        // each stage, x_i from 0.1 to 0.8, and general rises by a tenth of it a stage, plus
        // noise. It reads of the whole set (each half's four runs are too few for three
        // domains) that `a` helps general, `b` does not, `c` never moved.
        let across: Vec<Trajectory> = (0..8)
            .map(|i| {
                let x = 0.1 + 0.1 * i as f64;
                let rows: Vec<_> = (1..=4)
                    .map(|s| {
                        let g = -4.0 + s as f64 * 0.1 * x + 0.002 * (i % 3) as f64;
                        (vec![0.5 * x, 0.5 * (1.0 - x), 0.5], g, -8.0)
                    })
                    .collect();
                trajectory_with(&format!("t-{i:05}"), &rows)
            })
            .collect();
        let views = ViewConfig { prior: true, prior_from: PriorFrom::Regression, ..ONE_VIEW };
        let r = Dataset::build(&across, &m, &RewardConfig::default(), &views, 0, 0).unwrap();
        assert_eq!(r.prior.runs, 8);
        assert!(r.prior.evidence["a"]["general"] > 0.9, "{:?}", r.prior);
        assert!(r.prior.evidence["b"]["general"] < -0.9, "{:?}", r.prior);
        assert_eq!(r.prior.evidence["c"]["general"], 0.0, "{:?}", r.prior);
        // Off: nothing is known.
        let d = Dataset::build(&set, &m, &RewardConfig::default(), &ONE_VIEW, 0, 0).unwrap();
        assert!(d.prior.evidence.is_empty());
        let b = &d.blocks[0];
        assert!((0..b.len() * b.k).all(|r| b.states[r * d.width + at("prior_source_known")] == 0.0));
    }

    #[test]
    fn history_statistics_come_from_held_slots_and_keep_the_held_mark() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let set = [trajectory("t-00000", &[(-4.4, -6.0), (-4.8, -4.0), (-5.0, -3.0)])];
        let window = 4;
        let d = Dataset::build(&set, &m, &RewardConfig::default(), &ONE_VIEW, window, 0).unwrap();
        let hf = HISTORY_FEATURES.len();
        let own = d.width - window * hf;
        assert_eq!((d.window, own), (window, DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len()));
        let names = mixagent_policy::feature_names(window);
        let (spec, _) = d.normalisation(names, 5.0);
        for slot in 0..window {
            let c = own + slot * hf;
            assert_eq!((spec.mean[c], spec.std[c]), (0.0, 1.0), "held mark of slot {slot}");
            // Every slot shares the statistics of its feature.
            assert_eq!(spec.mean[c + 6], spec.mean[own + 6]);
        }
        // `age` over the held slots: states before stages 1 and 2 hold 1 and 2 slots, of ages
        // 1/3 and (1/3, 2/3): mean 4/9 (empty slots, which read 0, would pull it down).
        assert!((spec.mean[own + 6] - 4.0 / 9.0).abs() < 1e-6, "{}", spec.mean[own + 6]);
        let mut v = d.blocks[0].states.clone();
        spec.normalise(&mut v);
        // The first state holds no slot: its marks stay 0 after normalising.
        assert!((0..window).all(|s| v[own + s * hf] == 0.0));
    }
    /// A branch trains on its own stages only (those before its branch point are its parent's,
    /// already in the set), its first state reads the shared prefix, and a tree counts once in
    /// the prior and sits in one half of the cross-fit.
    #[test]
    fn a_branch_adds_its_own_stages_and_its_tree_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let rows = |tail: f64| {
            vec![
                (vec![0.1, 0.4, 0.5], -4.4, -6.0),
                (vec![0.3, 0.2, 0.5], -4.6, -5.0),
                (vec![tail, 0.5 - tail, 0.5], -4.5, -4.0),
            ]
        };
        let parent = trajectory_with("t-00000", &rows(0.05));
        let mut branch = trajectory_with("t-00001", &rows(0.45));
        branch.branch = Some(mixagent_trajectory::Branch { parent: 0, at: 2 });
        let other = trajectory_with("t-00002", &rows(0.25));
        // Trajectory 0 of another collection (another plan seed): a tree of its own, and a
        // trajectory of a grown collection (more trajectories planned) still the same one's.
        let mut elsewhere = trajectory_with("t-00000", &rows(0.15));
        elsewhere.config.seed = 9;
        let mut grown = other.clone();
        grown.config.trajectories += 10;
        let four = [parent.clone(), branch.clone(), other.clone(), elsewhere, grown];
        assert_eq!(branching(&four).0, [0, 0, 1, 2, 1]);
        // A branch whose parent is not in the set is read whole.
        assert_eq!(branching(&four[..3]).1, [0, 2, 0]);
        assert_eq!(branching(&four[1..3]).1, [0, 0]);
        let set = [parent, branch, other];
        let d = Dataset::build(&set, &m, &RewardConfig::default(), &ONE_VIEW, 2, 0).unwrap();
        let b = &d.blocks[0];
        // 3 + 1 + 3 transitions, the branch's from stage 2 with its own mixture.
        assert_eq!(b.trajectory, [0, 0, 0, 1, 2, 2, 2]);
        assert_eq!(b.stage, [0, 1, 2, 2, 0, 1, 2], "a branch's first transition is its stage 2");
        assert_eq!(b.dones, [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(b.next[3], b.len() + 1, "the branch's last transition reads its final state");
        let row = |r: usize| &b.states[r * b.k * d.width..][..b.k * d.width];
        assert_eq!(row(3), row(2), "the branch point's state is the parent's (same history)");
        assert!(
            (b.actions[3 * b.k] - 0.45).abs() < 1e-6 && (b.actions[2 * b.k] - 0.05).abs() < 1e-6
        );
        assert_eq!(d.final_scores.len(), 3);
        assert_eq!(d.trees, [0, 0, 1]);
        // The prior: two trees, not three runs; the tree's halves are the same.
        assert_eq!(branching(&set).0, [0, 0, 1]);
        let views = ViewConfig { prior: true, ..ONE_VIEW };
        let d = Dataset::build(&set, &m, &RewardConfig::default(), &views, 2, 0).unwrap();
        assert_eq!(d.prior.runs, 2);
    }

    #[test]
    fn the_share_band_is_where_the_best_quarter_of_runs_put_the_target() {
        // Runs 0-11 at target shares 0.05 + 0.075·i; run 5 has a branch at 0.825, so its
        // share is their mean, 0.625. The best quarter by score (3 of 12 runs: 5, 4, 6) hold
        // 0.625, 0.35 and 0.5: the 10th and 90th percentiles by nearest rank are 0.35 and
        // 0.625, by hand.
        let at = |id: usize, share: f64| {
            let w = vec![(1.0 - share) / 2.0, (1.0 - share) / 2.0, share];
            trajectory_with(&format!("t-{id:05}"), &[(w, -4.0, -7.0)])
        };
        let mut set: Vec<Trajectory> = (0..12).map(|i| at(i, 0.05 + 0.075 * i as f64)).collect();
        set.push(at(12, 0.825));
        let mut trees: Vec<usize> = (0..12).collect();
        trees.push(5);
        let mut scores: Vec<f64> =
            (0..12).map(|i| if i == 4 || i == 6 { 0.5 } else { -1.0 }).collect();
        scores[5] = 1.0;
        scores.push(0.8);
        let band = share_band(&set, &trees, &scores).unwrap();
        assert!((band[0] - 0.35).abs() < 1e-12 && (band[1] - 0.625).abs() < 1e-12, "{band:?}");
        // Too few runs to read a best quarter from: an error that names the setting.
        let e = share_band(&set[..7], &trees[..7], &scores[..7]).unwrap_err();
        assert!(e.to_string().contains("views.share_band"), "{e}");
    }
}
