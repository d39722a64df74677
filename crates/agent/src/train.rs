//! Supervised warm-up, then Conservative Q-Learning (Kumar et al. 2020, "Conservative
//! Q-Learning for Offline Reinforcement Learning", NeurIPS) on a soft actor-critic backbone
//! (Haarnoja et al. 2018), as d3rlpy's continuous CQL implements it:
//!
//! - critics: twin Q with Polyak-averaged targets; TD target
//!   `r + γ(1 − done)(min_j Q'_j(s', a') − α_ent·log π(a'|s'))`, `a' ~ π(s')`;
//! - conservative penalty per critic: `logsumexp_i Q_j(s, a_i) − log M − Q_j(s, a_data)` over
//!   M sampled actions, half from the policy and half uniform on the simplex (CQL(H); the
//!   log-sum-exp is a plain average over the samples, without importance weights, since the two
//!   proposals live in different parametrisations), weighted by a fixed `alpha` or one tuned
//!   by dual gradient descent towards `target_gap`;
//! - actor: `α_ent·log π(a|s) − min_j Q_j(s, a)` with the reparameterised sample; the entropy
//!   temperature `α_ent` is tuned towards the target entropy `−K·entropy_per_domain`.
//!
//! Actions live in logit space: `z ~ N(μ, σ)` per domain and `u ~ N(μ_u, σ_u)` for the
//! target share, weights `floor/K + (1 − floor)·(σ(u)·softmax_T(z) | (1 − σ(u))·softmax_S(z))`
//! (each softmax within its field group). Logits of a group with one entry do not move the
//! action and are left out of every log-density. The warm-up is behaviour cloning on the
//! best trajectories (top fraction by final balanced score): Gaussian negative
//! log-likelihood of the demonstrations' share logit and their logits centred within each
//! group (a group's softmax ignores a common shift, so both sides are centred), keeping the
//! weights of the best validation loss on held-out trajectories.
//!
//! Batches come from one block of the dataset at a time (states of one size), chosen in
//! proportion to its transitions.

use std::collections::BTreeMap;
use std::path::Path;

use mixagent_policy::{DecisionConfig, NamedTensors, NetConfig, RewardConfig};
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::cql::{Cql, CqlConfig, CqlLosses};
use crate::iql::{Iql, IqlConfig, IqlLosses};
use crate::{AgentError, Block, Dataset, PolicyModel, PolicyOut, ViewConfig};

/// Behaviour-cloning warm-up settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    /// Which demonstrations the warm-up clones, and how much each counts.
    #[serde(default)]
    pub weighting: SftWeighting,
    /// `top`: share of trajectories, best final balanced score first, to clone.
    pub top_fraction: f64,
    /// `advantage`: inverse temperature β of the weights `exp(β·A/σ_A)` (capped at 100).
    #[serde(default = "default_sft_beta")]
    pub beta: f64,
    /// Share of those held out for the validation loss (at least one trajectory).
    pub validation_fraction: f64,
    /// Gradient steps.
    pub steps: usize,
    /// Transitions per batch.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
}

fn default_sft_beta() -> f64 {
    3.0
}

/// How the warm-up weighs the demonstrations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SftWeighting {
    /// Clone the best `top_fraction` of trajectories (by final balanced score) alike.
    #[default]
    Top,
    /// Clone every transition, weighted by `exp(β·A/σ_A)`: `A` its discounted return-to-go
    /// minus the mean return-to-go of all transitions at the same stage (a Monte-Carlo
    /// advantage with a per-stage baseline), `σ_A` their standard deviation.
    Advantage,
}

/// Per transition of `b`, in order: its stage in its trajectory (a branch's first is its
/// branch point) and its discounted return-to-go (to its run's `done`).
fn stages_and_returns(b: &Block, gamma: f64) -> (Vec<usize>, Vec<f64>) {
    let n = b.rewards.len();
    let mut returns = vec![0.0; n];
    let mut next = 0.0;
    for i in (0..n).rev() {
        if b.dones[i] > 0.5 {
            next = 0.0;
        }
        next = f64::from(b.rewards[i]) + gamma * next;
        returns[i] = next;
    }
    (b.stage.clone(), returns)
}

/// The advantage weights of every block's transitions (see [`SftWeighting::Advantage`]).
fn advantage_weights(blocks: &[Block], gamma: f64, beta: f64) -> Vec<Vec<f32>> {
    let parts: Vec<(Vec<usize>, Vec<f64>)> =
        blocks.iter().map(|b| stages_and_returns(b, gamma)).collect();
    let mut sum: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for (stages, returns) in &parts {
        for (s, g) in stages.iter().zip(returns) {
            let e = sum.entry(*s).or_insert((0.0, 0));
            e.0 += g;
            e.1 += 1;
        }
    }
    let adv: Vec<Vec<f64>> = parts
        .iter()
        .map(|(stages, returns)| {
            stages.iter().zip(returns).map(|(s, g)| g - sum[s].0 / sum[s].1 as f64).collect()
        })
        .collect();
    let all: Vec<f64> = adv.iter().flatten().copied().collect();
    let sd = (all.iter().map(|a| a * a).sum::<f64>() / all.len().max(1) as f64).sqrt().max(1e-12);
    adv.iter()
        .map(|a| a.iter().map(|a| (beta * a / sd).exp().min(100.0) as f32).collect())
        .collect()
}

/// Everything train-agent needs besides the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Policy and critic shape (`features` is set from the data).
    pub net: NetConfig,
    /// Action floor.
    pub floor: f64,
    /// Reward and discount (written into the artifact).
    pub reward: RewardConfig,
    /// Views of each trajectory's space the agent trains on.
    pub views: ViewConfig,
    /// Warm-up.
    pub sft: SftConfig,
    /// The offline RL algorithm after the warm-up.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// CQL (`algorithm = "cql"`).
    pub cql: CqlConfig,
    /// IQL (`algorithm = "iql"`).
    #[serde(default)]
    pub iql: IqlConfig,
    /// How the deployed agent decides (written into the artifact): candidates scored by the
    /// critics, trust region, pessimism.
    #[serde(default)]
    pub decision: DecisionConfig,
    /// Seed of initialisation, batches and action samples.
    pub seed: u64,
}

/// The offline RL algorithm that follows the warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Conservative Q-Learning on a soft actor-critic (this module).
    #[default]
    Cql,
    /// Implicit Q-Learning (`iql.rs`).
    Iql,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            net: NetConfig {
                features: 0,
                history: 0,
                history_features: 0,
                history_width: mixagent_policy::DEFAULT_HISTORY_WIDTH,
                d_model: 64,
                n_heads: 4,
                d_ff: 256,
                n_layers: 2,
            },
            floor: 0.02,
            reward: RewardConfig::default(),
            views: ViewConfig::default(),
            sft: SftConfig {
                weighting: SftWeighting::Top,
                top_fraction: 0.25,
                beta: default_sft_beta(),
                validation_fraction: 0.1,
                steps: 500,
                batch_size: 128,
                lr: 1e-3,
            },
            cql: CqlConfig {
                steps: 2000,
                batch_size: 128,
                actor_lr: 1e-4,
                critic_lr: 3e-4,
                temperature_lr: 1e-4,
                initial_temperature: 0.01,
                entropy_per_domain: 1.0,
                alpha: 1.0,
                auto_alpha: false,
                target_gap: 1.0,
                samples: 4,
                uniform_share: true,
                tau: 0.005,
                critic_warmup: 500,
                normalise_rewards: true,
                critics: crate::cql::default_critics(),
                critic_target: crate::cql::CriticTarget::Td,
            },
            algorithm: Algorithm::Cql,
            iql: IqlConfig::default(),
            decision: DecisionConfig::default(),
            seed: 0,
        }
    }
}

impl AgentConfig {
    /// The defaults, overlaid by a TOML document (any subset of the fields) and then by
    /// `key=value` overrides (`cql.alpha=0.5`), checked.
    pub fn load(toml_text: Option<&str>, overrides: &[String]) -> Result<Self, AgentError> {
        let defaults = toml::Value::try_from(AgentConfig::default()).expect("serialisable");
        let origin = Path::new("the agent config");
        let cfg: AgentConfig = mixagent_core::parse_config(
            origin,
            toml_text.unwrap_or_default(),
            Some(defaults),
            overrides,
        )?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Range checks serde cannot express.
    pub fn validate(&self) -> Result<(), AgentError> {
        let bad = |m: &str| Err(AgentError::Config(m.into()));
        let n = &self.net;
        if n.d_model == 0 || n.n_heads == 0 || !n.d_model.is_multiple_of(n.n_heads) || n.d_ff == 0 {
            return bad("net: d_model and d_ff must be > 0, and d_model divisible by n_heads");
        }
        if n.history > 0 && (n.history_width == 0 || !n.history_width.is_multiple_of(n.n_heads)) {
            return bad(
                "net: with history > 0, history_width must be > 0 and divisible by n_heads",
            );
        }
        if !(0.0..1.0).contains(&self.floor) {
            return bad("floor must be in [0, 1)");
        }
        let r = &self.reward;
        let reward_ok = (0.0..=1.0).contains(&r.gamma)
            && r.source_tolerance.is_finite()
            && (r.source_penalty >= 0.0 && r.source_penalty.is_finite());
        if !reward_ok {
            return bad("reward.gamma must be in [0, 1], reward.source_penalty finite and >= 0");
        }
        let s = &self.sft;
        let fractions_ok = s.top_fraction > 0.0
            && s.top_fraction <= 1.0
            && (0.0..1.0).contains(&s.validation_fraction);
        if !fractions_ok {
            return bad("sft.top_fraction must be in (0, 1] and sft.validation_fraction in [0, 1)");
        }
        let c = &self.cql;
        if s.batch_size == 0 || c.batch_size == 0 || c.samples < 2 {
            return bad("batch sizes must be > 0 and cql.samples >= 2");
        }
        let rates = [s.lr, c.actor_lr, c.critic_lr, c.temperature_lr, c.initial_temperature];
        if rates.iter().any(|&r| !(r > 0.0 && r.is_finite())) {
            return bad("learning rates and cql.initial_temperature must be finite and > 0");
        }
        let (alpha_ok, tau_ok) =
            (c.alpha >= 0.0 && c.alpha.is_finite(), c.tau > 0.0 && c.tau <= 1.0);
        if !(alpha_ok && tau_ok) {
            return bad("cql.alpha must be finite and >= 0, cql.tau in (0, 1]");
        }
        if c.critics < 2 {
            return bad("cql.critics must be >= 2 (the TD target reads the smallest of them)");
        }
        self.decision.validate().map_err(|e| AgentError::Config(e.to_string()))?;
        let scores_without_critics = match self.algorithm {
            Algorithm::Cql => c.steps == 0,
            Algorithm::Iql => self.iql.steps == 0,
        };
        if self.decision.candidates > 0 && scores_without_critics {
            return bad("decision.candidates > 0 needs critics: train them (cql.steps or iql.steps > 0) or set decision.candidates = 0");
        }
        self.iql.validate()
    }
}

/// Losses logged along the way.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainLog {
    /// (step, training NLL, validation NLL) of the warm-up, every 50 steps.
    pub sft: Vec<(usize, f64, f64)>,
    /// (step, TD loss, conservative gap, actor loss, temperature, alpha), every 50 steps.
    pub cql: Vec<(usize, f64, f64, f64, f64, f64)>,
    /// Warm-up step whose weights were kept (best validation loss; 0: the last).
    pub sft_kept: usize,
    /// (step, losses) of IQL, every 50 steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iql: Vec<(usize, IqlLosses)>,
    /// Rewards were multiplied by this before CQL or IQL.
    pub reward_scale: f64,
}

/// Copies of a VarStore's variables, by name.
type Snapshot = Vec<(String, Tensor)>;

/// One block of the data as tensors on the device.
struct Tensors {
    /// Every state row of the block (transitions' states, then final states), normalised.
    states: Tensor,
    /// Row of each transition's next state.
    next: Tensor,
    actions: Tensor,
    is_target: Tensor,
    rewards: Tensor,
    dones: Tensor,
    /// Discounted returns-to-go (scaled as the rewards).
    returns: Tensor,
    /// Transitions.
    n: i64,
}

impl Tensors {
    fn new(
        b: &Block,
        width: usize,
        normalise: &impl Fn(&mut [f32]),
        reward_scale: f64,
        gamma: f64,
        device: Device,
    ) -> Self {
        let returns: Vec<f32> =
            stages_and_returns(b, gamma).1.iter().map(|g| (g * reward_scale) as f32).collect();
        let (n, k, f) = (b.len() as i64, b.k as i64, width as i64);
        // Normalised a chunk of rows at a time into the tensor: no full copy of the block.
        let row = b.k * width;
        let rows = b.states.len() / row.max(1);
        let states = Tensor::zeros([rows as i64, k, f], (Kind::Float, Device::Cpu));
        for (i, chunk) in b.states.chunks(row * 1024).enumerate() {
            let mut v = chunk.to_vec();
            normalise(&mut v);
            let len = (v.len() / row) as i64;
            states.narrow(0, i as i64 * 1024, len).copy_(&Tensor::from_slice(&v).view([len, k, f]));
        }
        let next: Vec<i64> = b.next.iter().map(|&r| r as i64).collect();
        Tensors {
            states: states.to_device(device),
            next: Tensor::from_slice(&next).to_device(device),
            actions: Tensor::from_slice(&b.actions).view([n, k]).to_device(device),
            is_target: Tensor::from_slice(&b.is_target).view([n, k]).to_device(device),
            rewards: (Tensor::from_slice(&b.rewards) * reward_scale).to_device(device),
            dones: Tensor::from_slice(&b.dones).to_device(device),
            returns: Tensor::from_slice(&returns).to_device(device),
            n,
        }
    }
}

/// A batch of transitions: states (B, K, F), next states, actions (B, K), `is_target` mask
/// (B, K), rewards, done flags and discounted returns-to-go (B).
pub(crate) struct Batch {
    pub s: Tensor,
    pub s2: Tensor,
    pub a: Tensor,
    pub mask: Tensor,
    pub r: Tensor,
    pub done: Tensor,
    pub g: Tensor,
}

impl Tensors {
    /// The transitions at `idx`.
    fn batch(&self, idx: &Tensor) -> Batch {
        Batch {
            s: self.states.index_select(0, idx),
            s2: self.states.index_select(0, &self.next.index_select(0, idx)),
            a: self.actions.index_select(0, idx),
            mask: self.is_target.index_select(0, idx),
            r: self.rewards.index_select(0, idx),
            done: self.dones.index_select(0, idx),
            g: self.returns.index_select(0, idx),
        }
    }
}

/// The trained policy (its VarStore holds the artifact's tensors), its critics and the
/// training log.
pub struct Trained {
    /// Policy variables.
    pub policy: nn::VarStore,
    /// The critic ensemble as artifact tensors (`critic.<j>.…`; empty after a warm-up alone).
    pub critics: NamedTensors,
    /// Critics in `critics`.
    pub n_critics: usize,
    /// Loss curves.
    pub log: TrainLog,
}

/// Log-density of N(μ, σ) at `x`, elementwise.
fn normal_lp(x: &Tensor, mean: &Tensor, log_std: &Tensor) -> Tensor {
    let eps = (x - mean) / log_std.exp();
    eps.square() * -0.5 - log_std - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// 1 for the entries whose logit moves the action: those in a group (source or target) of
/// two or more. `is_target`: (.., K).
pub(crate) fn free_logits(is_target: &Tensor) -> Tensor {
    let k = is_target.size()[is_target.dim() - 1] as f64;
    let n_t = is_target.sum_dim_intlist(-1, true, Kind::Float);
    let n_s = -&n_t + k;
    is_target * n_t.ge(2.0).to_kind(Kind::Float)
        + (1.0 - is_target) * n_s.ge(2.0).to_kind(Kind::Float)
}

/// Log-density of an action `(z (.., K), u (..))` under the policy's Gaussian (broadcast over
/// leading dimensions), summed over the free logits and the share: (..).
pub(crate) fn log_prob(z: &Tensor, u: &Tensor, pi: &PolicyOut, free: &Tensor) -> Tensor {
    (normal_lp(z, &pi.mean, &pi.log_std) * free).sum_dim_intlist(-1, false, Kind::Float)
        + normal_lp(u, &pi.share_mean, &pi.share_log_std)
}

/// Sampling helpers on the policy's outputs (the parts broadcast against samples).
impl PolicyOut {
    /// With a sample axis at 1, for (B, M, ..) samples.
    pub(crate) fn per_sample(&self) -> Self {
        PolicyOut {
            mean: self.mean.unsqueeze(1),
            log_std: self.log_std.unsqueeze(1),
            share_mean: self.share_mean.unsqueeze(1),
            share_log_std: self.share_log_std.unsqueeze(1),
        }
    }

    /// A reparameterised sample `(z, u)` of the shape of the parts.
    pub(crate) fn sample(&self) -> (Tensor, Tensor) {
        let z = &self.mean + self.log_std.exp() * self.mean.randn_like();
        let u = &self.share_mean + self.share_log_std.exp() * self.share_mean.randn_like();
        (z, u)
    }
}

/// Weights from logits `z` (.., K) and share logit `u` (..), with `is_target` (.., K)
/// (broadcastable): `floor/K + (1 − floor)·(σ(u)·softmax_T(z) | (1 − σ(u))·softmax_S(z))`.
pub(crate) fn to_weights(z: &Tensor, u: &Tensor, is_target: &Tensor, floor: f64) -> Tensor {
    let k = z.size()[z.dim() - 1] as f64;
    // A large negative logit outside the group: its softmax weight is exactly 0.
    let target = (z + (is_target - 1.0) * 1e9).softmax(-1, Kind::Float);
    let source = (z - is_target * 1e9).softmax(-1, Kind::Float);
    let s = u.sigmoid().unsqueeze(-1);
    (&s * target + (1.0 - &s) * source) * (1.0 - floor) + floor / k
}

/// Logits of weights (inverse of `to_weights`): `z` centred within each group, and `u`.
pub(crate) fn to_logits(w: &Tensor, is_target: &Tensor, floor: f64) -> (Tensor, Tensor) {
    let k = w.size()[w.dim() - 1] as f64;
    let v = ((w - floor / k) / (1.0 - floor)).clamp_min(1e-4);
    let share = (&v * is_target).sum_dim_intlist(-1, false, Kind::Float)
        / v.sum_dim_intlist(-1, false, Kind::Float);
    let share = share.clamp(1e-3, 1.0 - 1e-3);
    let u = (&share / (-&share + 1.0)).log();
    (centred(&v.log(), is_target), u)
}

/// `z` minus the mean of its group (source or target), per row.
pub(crate) fn centred(z: &Tensor, is_target: &Tensor) -> Tensor {
    let mean_of = |m: &Tensor| {
        (z * m).sum_dim_intlist(-1, true, Kind::Float)
            / m.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1.0)
    };
    let source = 1.0 - is_target;
    z - is_target * mean_of(is_target) - &source * mean_of(&source)
}

/// Draws block indices in proportion to their sizes, from its own seeded stream.
struct BlockPicker {
    cumulative: Vec<u64>,
    state: u64,
}

impl BlockPicker {
    fn new(sizes: &[i64], seed: u64) -> Self {
        let mut total = 0u64;
        let cumulative = sizes
            .iter()
            .map(|&n| {
                total += n.max(0) as u64;
                total
            })
            .collect();
        BlockPicker { cumulative, state: mixagent_core::seed::derive(seed, "blocks", 0) }
    }

    fn next(&mut self) -> usize {
        self.state = mixagent_core::seed::mix64(self.state);
        let total = *self.cumulative.last().expect("a block");
        let x = self.state % total.max(1);
        self.cumulative.iter().position(|&c| x < c).unwrap_or(0)
    }
}

/// Trains the agent on `data` (states are normalised here by `normalise`).
pub fn train(
    data: &Dataset,
    normalise: impl Fn(&mut [f32]),
    cfg: &AgentConfig,
    device: Device,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<Trained, AgentError> {
    if data.is_empty() {
        return Err(AgentError::Data("no transitions".into()));
    }
    // libtorch's default generator is process-global and training draws from it to the end
    // (initialisation, batches, actor noise): one training holds this lock from its seed to
    // its last step, so trainings run concurrently in one process (tests, a grid) stay
    // deterministic instead of interleaving their draws.
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(cfg.seed as i64);
    let normalise_rewards = match cfg.algorithm {
        Algorithm::Cql => cfg.cql.normalise_rewards,
        Algorithm::Iql => cfg.iql.normalise_rewards,
    };
    let reward_scale = if normalise_rewards {
        let rewards = || data.blocks.iter().flat_map(|b| b.rewards.iter().map(|&r| f64::from(r)));
        let n = data.len() as f64;
        let mean = rewards().sum::<f64>() / n;
        let var = rewards().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
        1.0 / var.sqrt().max(1e-8)
    } else {
        1.0
    };
    let blocks: Vec<Tensors> = data
        .blocks
        .iter()
        .map(|b| Tensors::new(b, data.width, &normalise, reward_scale, cfg.reward.gamma, device))
        .collect();
    let net = data.net_config(&cfg.net);
    let policy_vs = nn::VarStore::new(device);
    let policy = PolicyModel::new(&policy_vs.root(), &net);
    let mut log = TrainLog { reward_scale, ..TrainLog::default() };

    // Warm-up on the best trajectories (or on all, weighted by advantage), with a validation
    // split of them.
    let mut order: Vec<usize> = (0..data.final_scores.len()).collect();
    order.sort_by(|&a, &b| data.final_scores[b].total_cmp(&data.final_scores[a]));
    let top = match cfg.sft.weighting {
        SftWeighting::Top => {
            ((order.len() as f64 * cfg.sft.top_fraction).ceil() as usize).clamp(1, order.len())
        }
        SftWeighting::Advantage => order.len(),
    };
    let sft_weights: Option<Vec<Tensor>> = match cfg.sft.weighting {
        SftWeighting::Top => None,
        SftWeighting::Advantage => Some(
            advantage_weights(&data.blocks, cfg.reward.gamma, cfg.sft.beta)
                .iter()
                .map(|w| Tensor::from_slice(w).to_device(device))
                .collect(),
        ),
    };
    let chosen = &order[..top];
    let n_val = if top > 1 {
        ((top as f64 * cfg.sft.validation_fraction).round() as usize).clamp(1, top - 1)
    } else {
        0
    };
    // Every k-th chosen trajectory validates, from the middle of each stride, so both splits
    // span the score range and the best trajectory is trained on (n_val < top, so index 1
    // exists when the stride is 1).
    let val_picks: Vec<usize> = match top.checked_div(n_val) {
        Some(stride) => (0..n_val).map(|i| chosen[(i * stride + stride / 2).max(1)]).collect(),
        None => Vec::new(),
    };
    // A picked trajectory's whole tree validates (a branch starts from its parent's state),
    // but never the best one's: without branches, the picks themselves.
    let best_tree = chosen.first().map(|&t| data.trees[t]);
    let val_trees: Vec<usize> =
        val_picks.iter().map(|&t| data.trees[t]).filter(|&tr| Some(tr) != best_tree).collect();
    let val_set: Vec<usize> =
        chosen.iter().copied().filter(|&t| val_trees.contains(&data.trees[t])).collect();
    let pick = |b: &Block, keep: &dyn Fn(usize) -> bool| -> Tensor {
        let idx: Vec<i64> =
            (0..b.len()).filter(|&i| keep(b.trajectory[i])).map(|i| i as i64).collect();
        Tensor::from_slice(&idx).to_device(device)
    };
    let train_idx: Vec<Tensor> = data
        .blocks
        .iter()
        .map(|b| pick(b, &|tr| chosen.contains(&tr) && !val_set.contains(&tr)))
        .collect();
    let val_idx: Vec<Tensor> =
        data.blocks.iter().map(|b| pick(b, &|tr| val_set.contains(&tr))).collect();
    // Mean negative log-likelihood per free dimension of block `i`'s transitions `idx`
    // (weighted by advantage when the warm-up is).
    let nll = |i: usize, idx: &Tensor| -> Tensor {
        let t = &blocks[i];
        let s = t.states.index_select(0, idx);
        let mask = t.is_target.index_select(0, idx);
        let (z, u) = to_logits(&t.actions.index_select(0, idx), &mask, cfg.floor);
        let mut pi = policy.forward(&s, &mask);
        pi.mean = centred(&pi.mean, &mask);
        let free = free_logits(&mask);
        let dims = free.sum_dim_intlist(-1, false, Kind::Float) + 1.0;
        let per = -log_prob(&z, &u, &pi, &free) / dims;
        match &sft_weights {
            None => per.mean(Kind::Float),
            Some(w) => {
                let w = w[i].index_select(0, idx);
                (per * &w).sum(Kind::Float) / w.sum(Kind::Float)
            }
        }
    };
    let sizes: Vec<i64> = train_idx.iter().map(|t| t.size()[0]).collect();
    if sizes.iter().all(|&n| n == 0) {
        return Err(AgentError::Data("no transitions to warm up on".into()));
    }
    let mut picker = BlockPicker::new(&sizes, cfg.seed);
    let mut opt = nn::Adam::default().build(&policy_vs, cfg.sft.lr)?;
    // The warm-up keeps the weights of its best validation loss (cloning a few dozen
    // trajectories overfits quickly).
    let mut best: Option<(f64, usize, Snapshot)> = None;
    for step in 1..=cfg.sft.steps {
        let i = picker.next();
        let b = Tensor::randint(sizes[i], [cfg.sft.batch_size as i64], (Kind::Int64, device));
        let loss = nll(i, &train_idx[i].index_select(0, &b));
        opt.backward_step(&loss);
        if step % 50 == 0 || step == cfg.sft.steps {
            let (mut sum, mut count) = (0.0, 0i64);
            tch::no_grad(|| {
                for (i, idx) in val_idx.iter().enumerate() {
                    let n = idx.size()[0];
                    if n > 0 {
                        sum += nll(i, idx).double_value(&[]) * n as f64;
                        count += n;
                    }
                }
            });
            let val = if count > 0 { sum / count as f64 } else { f64::NAN };
            log.sft.push((step, loss.double_value(&[]), val));
            if val < best.as_ref().map_or(f64::INFINITY, |b| b.0) {
                let copy = policy_vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
                best = Some((val, step, copy));
            }
            progress("warm-up", step, cfg.sft.steps);
        }
    }
    if let Some((_, step, weights)) = best {
        log.sft_kept = step;
        let mut vars = policy_vs.variables();
        tch::no_grad(|| {
            for (name, t) in weights {
                vars.get_mut(&name).expect("same store").copy_(&t);
            }
        });
    }

    let (critics, n_critics) = match cfg.algorithm {
        Algorithm::Cql if cfg.cql.steps > 0 => {
            let c = &cfg.cql;
            let mut cql =
                Cql::new(c, cfg.reward.gamma, cfg.floor, &policy, &policy_vs, &net, device)?;
            let mut picker =
                BlockPicker::new(&blocks.iter().map(|b| b.n).collect::<Vec<_>>(), cfg.seed ^ 0xC0);
            let total = c.critic_warmup + c.steps;
            for step in 1..=total {
                let t = &blocks[picker.next()];
                let idx = Tensor::randint(t.n, [c.batch_size as i64], (Kind::Int64, device));
                let l: CqlLosses = cql.step(&t.batch(&idx));
                if step % 50 == 0 || step == total {
                    log.cql.push((step, l.td, l.gap, l.actor, l.temperature, l.alpha));
                    progress("cql", step, total);
                }
            }
            cql.critics()?
        }
        Algorithm::Iql if cfg.iql.steps > 0 => {
            let c = &cfg.iql;
            let mut iql =
                Iql::new(c, cfg.reward.gamma, cfg.floor, &policy, &policy_vs, &net, device)?;
            let mut picker =
                BlockPicker::new(&blocks.iter().map(|b| b.n).collect::<Vec<_>>(), cfg.seed ^ 0x1C);
            for step in 1..=c.steps {
                let t = &blocks[picker.next()];
                let idx = Tensor::randint(t.n, [c.batch_size as i64], (Kind::Int64, device));
                let losses = iql.step(&t.batch(&idx));
                if step % 50 == 0 || step == c.steps {
                    log.iql.push((step, losses));
                    progress("iql", step, c.steps);
                }
            }
            iql.critics()?
        }
        _ => (NamedTensors::new(), 0),
    };
    Ok(Trained { policy: policy_vs, critics, n_critics, log })
}

/// The policy's mean action on normalised states `x` (B, K, F) with `is_target` (B, K):
/// the weights the deployed policy would choose, (B, K).
pub fn mean_action(policy: &PolicyModel, x: &Tensor, is_target: &Tensor, floor: f64) -> Tensor {
    let out = policy.forward(x, is_target);
    to_weights(&out.mean, &out.share_mean, is_target, floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v)
    }

    fn close(a: &Tensor, b: &[f32]) {
        let a = Vec::<f32>::try_from(a.flatten(0, -1)).unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn log_density_weights_and_logits_by_hand() {
        // N(0, 1) at 1: −½ − ln√(2π); σ = e at 0: −1 − ln√(2π).
        let lp = normal_lp(&t(&[1.0, 0.0]), &t(&[0.0, 0.0]), &t(&[0.0, 1.0]));
        let c = 0.5 * (2.0 * std::f32::consts::PI).ln();
        close(&lp, &[-0.5 - c, -1.0 - c]);
        // Two source entries and one target entry: only the source logits are free.
        let mask = t(&[0.0, 0.0, 1.0]).view([1, 3]);
        close(&free_logits(&mask), &[1.0, 1.0, 0.0]);
        // Share logit 0 (one half), source logits (ln 3, 0): source (3/8, 1/8), target ½;
        // squeezed by the floor 0.03: 0.01 + 0.97·w.
        let w = to_weights(&t(&[3f32.ln(), 0.0, 5.0]).view([1, 3]), &t(&[0.0]), &mask, 0.03);
        close(&w, &[0.01 + 0.97 * 0.375, 0.01 + 0.97 * 0.125, 0.01 + 0.97 * 0.5]);
        // And back: source logits centred, target's alone (0), share logit 0.
        let (z, u) = to_logits(&w, &mask, 0.03);
        close(&z, &[3f32.ln() / 2.0, -(3f32.ln()) / 2.0, 0.0]);
        close(&u, &[0.0]);
        // A log-density over free logits plus the share.
        let pi = PolicyOut {
            mean: t(&[0.0, 0.0, 0.0]).view([1, 3]),
            log_std: t(&[0.0, 0.0, 0.0]).view([1, 3]),
            share_mean: t(&[0.0]),
            share_log_std: t(&[0.0]),
        };
        let lp = log_prob(&t(&[1.0, 0.0, 9.0]).view([1, 3]), &t(&[0.0]), &pi, &free_logits(&mask));
        close(&lp, &[-0.5 - 3.0 * c]);
    }

    #[test]
    fn advantage_weights_by_hand() {
        // Two trajectories of two stages: rewards (1, 2) and (3, 0). With γ = 1 the returns
        // to go are (3, 2) and (3, 0); the stage means 3 and 1; advantages (0, 1) and (0, −1);
        // σ = √(2/4); weights exp(A/σ) = 1, e^√2, 1, e^−√2.
        let block = Block {
            k: 1,
            states: vec![],
            next: vec![],
            actions: vec![],
            is_target: vec![],
            rewards: vec![1.0, 2.0, 3.0, 0.0],
            dones: vec![0.0, 1.0, 0.0, 1.0],
            trajectory: vec![0, 0, 1, 1],
            stage: vec![0, 1, 0, 1],
        };
        let (stages, returns) = stages_and_returns(&block, 1.0);
        assert_eq!((stages, returns), (vec![0, 1, 0, 1], vec![3.0, 2.0, 3.0, 0.0]));
        let (_, discounted) = stages_and_returns(&block, 0.5);
        assert_eq!(discounted, vec![2.0, 2.0, 3.0, 0.0]);
        let w = advantage_weights(&[block], 1.0, 1.0);
        let r2 = 2f32.sqrt();
        for (got, want) in w[0].iter().zip([1.0, r2.exp(), 1.0, (-r2).exp()]) {
            assert!((got - want).abs() < 1e-5, "{w:?}");
        }
    }

    /// Eight random transitions over two domains, from two trajectories.
    fn tiny_data() -> Dataset {
        let (n, k, f) = (8usize, 2usize, 19usize);
        let mut state = 1u64;
        let mut next = || {
            state = mixagent_core::seed::mix64(state);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        // Two trajectories of four transitions, then their two final states.
        let states: Vec<f32> = (0..(n + 2) * k * f).map(|_| next()).collect();
        let next_rows: Vec<usize> =
            (0..n).map(|i| if i % 4 == 3 { n + i / 4 } else { i + 1 }).collect();
        let actions = (0..n).flat_map(|_| {
            let a = 0.5 + next() * 0.8;
            [a, 1.0 - a]
        });
        let block = Block {
            k,
            states,
            next: next_rows,
            actions: actions.collect(),
            is_target: (0..n).flat_map(|_| [0.0, 1.0]).collect(),
            rewards: (0..n).map(|_| next() * 0.02).collect(),
            dones: (0..n).map(|i| f32::from(u8::from(i % 4 == 3))).collect(),
            trajectory: (0..n).map(|i| i / 4).collect(),
            stage: (0..n).map(|i| i % 4).collect(),
        };
        Dataset {
            width: f,
            window: 0,
            blocks: vec![block],
            final_scores: vec![0.1, 0.2],
            trees: vec![0, 1],
            collected_k: k,
            views: 1,
            prior: Default::default(),
        }
    }

    #[test]
    fn auto_alpha_moves_by_dual_ascent_and_the_losses_stay_finite() {
        tch::set_num_threads(1);
        let mut cfg = AgentConfig::default();
        cfg.net = NetConfig {
            features: 0,
            history: 0,
            history_features: 0,
            history_width: 0,
            d_model: 8,
            n_heads: 2,
            d_ff: 16,
            n_layers: 1,
        };
        cfg.sft = SftConfig { steps: 5, batch_size: 4, ..cfg.sft };
        cfg.cql.steps = 40;
        cfg.cql.critic_warmup = 10;
        cfg.cql.batch_size = 4;
        cfg.cql.auto_alpha = true;
        cfg.cql.temperature_lr = 0.05;
        // A target far above any reachable gap: the dual step must shrink alpha.
        cfg.cql.target_gap = 100.0;
        // (Same seed, same policy is checked by the CLI test, one process per run: libtorch's
        // random generator is global, and tests share a process.)
        let log =
            train(&tiny_data(), |_: &mut [f32]| {}, &cfg, Device::Cpu, |_, _, _| {}).unwrap().log;
        let last = log.cql.last().unwrap();
        assert!(last.5 < cfg.cql.alpha, "alpha {} should fall below {}", last.5, cfg.cql.alpha);
        for row in &log.cql {
            assert!(row.1.is_finite() && row.2.is_finite() && row.4 > 0.0, "{row:?}");
        }
        assert!(log.reward_scale > 1.0, "rewards of about 0.01 are scaled up");
    }

    #[test]
    fn config_overlays_and_checks() {
        let cfg =
            AgentConfig::load(Some("seed = 3\n[cql]\nalpha = 0.5\n"), &["sft.steps=7".into()])
                .unwrap();
        assert_eq!((cfg.seed, cfg.cql.alpha, cfg.sft.steps), (3, 0.5, 7));
        assert_eq!(cfg.cql.batch_size, AgentConfig::default().cql.batch_size);
        let e = AgentConfig::load(Some("[cql]\nalhpa = 1.0\n"), &[]).unwrap_err().to_string();
        assert!(e.contains("alhpa"), "{e}");
        let e = AgentConfig::load(None, &["reward.gamma=1.5".into()]).unwrap_err().to_string();
        assert!(e.contains("gamma"), "{e}");
        let e = AgentConfig::load(None, &["net.n_heads=3".into()]).unwrap_err().to_string();
        assert!(e.contains("n_heads"), "{e}");
    }
}
