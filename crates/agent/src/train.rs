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
//! Actions live in logit space: `z ~ N(μ, σ)` per domain, weights `floor/K + (1 − floor)·
//! softmax(z)`. The warm-up is behaviour cloning on the best trajectories (top fraction by
//! final balanced score): Gaussian negative log-likelihood of the demonstrations' centred
//! logits (softmax ignores a common shift, so both sides are centred).

use mixagent_policy::NetConfig;
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::{AgentError, CriticModel, Dataset, PolicyModel};

/// Behaviour-cloning warm-up settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    /// Share of trajectories, best final balanced score first, to clone.
    pub top_fraction: f64,
    /// Share of those held out for the validation loss (at least one trajectory).
    pub validation_fraction: f64,
    /// Gradient steps.
    pub steps: usize,
    /// Transitions per batch.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
}

/// CQL settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CqlConfig {
    /// Gradient steps (0: warm-up only).
    pub steps: usize,
    /// Transitions per batch.
    pub batch_size: usize,
    /// Actor learning rate.
    pub actor_lr: f64,
    /// Critic learning rate.
    pub critic_lr: f64,
    /// Temperature learning rate.
    pub temperature_lr: f64,
    /// Initial entropy temperature.
    pub initial_temperature: f64,
    /// Target entropy per domain (the target is `−K·entropy_per_domain`).
    pub entropy_per_domain: f64,
    /// Conservative weight (the initial one when tuned).
    pub alpha: f64,
    /// Tune `alpha` by dual gradient descent so the penalty approaches `target_gap`.
    pub auto_alpha: bool,
    /// Target of the conservative gap when `auto_alpha`.
    pub target_gap: f64,
    /// Sampled actions per state for the log-sum-exp (half policy, half uniform).
    pub samples: usize,
    /// Polyak factor of the target critics.
    pub tau: f64,
}

/// Everything train-agent needs besides the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Policy and critic shape (`features` is set from the data).
    pub net: NetConfig,
    /// Action floor.
    pub floor: f64,
    /// Discount γ.
    pub gamma: f64,
    /// Warm-up.
    pub sft: SftConfig,
    /// CQL.
    pub cql: CqlConfig,
    /// Seed of initialisation, batches and action samples.
    pub seed: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            net: NetConfig { features: 0, d_model: 64, n_heads: 4, d_ff: 256, n_layers: 2 },
            floor: 0.02,
            gamma: 0.95,
            sft: SftConfig {
                top_fraction: 0.25,
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
                tau: 0.005,
            },
            seed: 0,
        }
    }
}

/// Losses logged along the way.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainLog {
    /// (step, training NLL, validation NLL) of the warm-up, every 50 steps.
    pub sft: Vec<(usize, f64, f64)>,
    /// (step, TD loss, conservative gap, actor loss, temperature, alpha), every 50 steps.
    pub cql: Vec<(usize, f64, f64, f64, f64, f64)>,
}

/// The data as tensors on the device.
struct Tensors {
    states: Tensor,
    next_states: Tensor,
    actions: Tensor,
    rewards: Tensor,
    dones: Tensor,
}

/// The trained policy (its VarStore holds the artifact's tensors) and the training log.
pub struct Trained {
    /// Policy variables.
    pub policy: nn::VarStore,
    /// Loss curves.
    pub log: TrainLog,
}

/// Log-density of `z` under N(μ, σ) summed over domains: (B, K) → (B).
fn log_prob(z: &Tensor, mean: &Tensor, log_std: &Tensor) -> Tensor {
    let eps = (z - mean) / log_std.exp();
    (eps.square() * -0.5 - log_std - 0.5 * (2.0 * std::f64::consts::PI).ln()).sum_dim_intlist(
        -1,
        false,
        Kind::Float,
    )
}

/// Weights from logits: `floor/K + (1 − floor)·softmax(z)`.
fn to_weights(z: &Tensor, floor: f64) -> Tensor {
    let k = z.size()[z.dim() - 1] as f64;
    z.softmax(-1, Kind::Float) * (1.0 - floor) + floor / k
}

/// Centred logits of weights (inverse of `to_weights` up to a shift).
fn to_logits(w: &Tensor, floor: f64) -> Tensor {
    let k = w.size()[w.dim() - 1] as f64;
    let z = ((w - floor / k) / (1.0 - floor)).clamp_min(1e-4).log();
    &z - z.mean_dim(-1, true, Kind::Float)
}

/// Trains the agent on `data` (states already normalised by `normalise`).
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
    tch::manual_seed(cfg.seed as i64);
    let (n, k, f) = (data.len() as i64, data.k as i64, data.width as i64);
    let mut states = data.states.clone();
    let mut next_states = data.next_states.clone();
    normalise(&mut states);
    normalise(&mut next_states);
    let t = Tensors {
        states: Tensor::from_slice(&states).view([n, k, f]).to_device(device),
        next_states: Tensor::from_slice(&next_states).view([n, k, f]).to_device(device),
        actions: Tensor::from_slice(&data.actions).view([n, k]).to_device(device),
        rewards: Tensor::from_slice(&data.rewards).to_device(device),
        dones: Tensor::from_slice(&data.dones).to_device(device),
    };
    let mut net = cfg.net.clone();
    net.features = data.width;
    let policy_vs = nn::VarStore::new(device);
    let policy = PolicyModel::new(&policy_vs.root(), &net);
    let mut log = TrainLog::default();

    // Warm-up on the best trajectories, with a validation split of them.
    let mut order: Vec<usize> = (0..data.final_scores.len()).collect();
    order.sort_by(|&a, &b| data.final_scores[b].total_cmp(&data.final_scores[a]));
    let top = ((order.len() as f64 * cfg.sft.top_fraction).ceil() as usize).clamp(1, order.len());
    let chosen = &order[..top];
    let n_val = if top > 1 {
        ((top as f64 * cfg.sft.validation_fraction).round() as usize).clamp(1, top - 1)
    } else {
        0
    };
    // Every k-th chosen trajectory validates, so both splits span the score range.
    let val_set: Vec<usize> = match top.checked_div(n_val) {
        Some(stride) => (0..n_val).map(|i| chosen[i * stride]).collect(),
        None => Vec::new(),
    };
    let pick = |keep: &dyn Fn(usize) -> bool| -> Tensor {
        let idx: Vec<i64> =
            (0..data.len()).filter(|&i| keep(data.trajectory[i])).map(|i| i as i64).collect();
        Tensor::from_slice(&idx).to_device(device)
    };
    let train_idx = pick(&|tr| chosen.contains(&tr) && !val_set.contains(&tr));
    let val_idx = pick(&|tr| val_set.contains(&tr));
    let nll = |idx: &Tensor| -> Tensor {
        let s = t.states.index_select(0, idx);
        let target = to_logits(&t.actions.index_select(0, idx), cfg.floor);
        let (mean, log_std) = policy.forward(&s);
        let mean = &mean - mean.mean_dim(-1, true, Kind::Float);
        -log_prob(&target, &mean, &log_std).mean(Kind::Float) / k as f64
    };
    let mut opt = nn::Adam::default().build(&policy_vs, cfg.sft.lr)?;
    let n_train = train_idx.size()[0];
    for step in 1..=cfg.sft.steps {
        let b = Tensor::randint(n_train, [cfg.sft.batch_size as i64], (Kind::Int64, device));
        let loss = nll(&train_idx.index_select(0, &b));
        opt.backward_step(&loss);
        if step % 50 == 0 || step == cfg.sft.steps {
            let val = if val_idx.size()[0] > 0 {
                tch::no_grad(|| nll(&val_idx)).double_value(&[])
            } else {
                f64::NAN
            };
            log.sft.push((step, loss.double_value(&[]), val));
            progress("warm-up", step, cfg.sft.steps);
        }
    }

    if cfg.cql.steps > 0 {
        cql(&t, &policy, &policy_vs, &net, cfg, device, &mut log, &mut progress)?;
    }
    Ok(Trained { policy: policy_vs, log })
}

#[allow(clippy::too_many_arguments)]
fn cql(
    t: &Tensors,
    policy: &PolicyModel,
    policy_vs: &nn::VarStore,
    net: &NetConfig,
    cfg: &AgentConfig,
    device: Device,
    log: &mut TrainLog,
    progress: &mut impl FnMut(&str, usize, usize),
) -> Result<(), AgentError> {
    let c = &cfg.cql;
    let (n, k) = (t.states.size()[0], t.states.size()[1]);
    let q_vs = nn::VarStore::new(device);
    let q1 = CriticModel::new(&(q_vs.root() / "q1"), net);
    let q2 = CriticModel::new(&(q_vs.root() / "q2"), net);
    let mut target_vs = nn::VarStore::new(device);
    let t1 = CriticModel::new(&(target_vs.root() / "q1"), net);
    let t2 = CriticModel::new(&(target_vs.root() / "q2"), net);
    target_vs.copy(&q_vs)?;
    let temp_vs = nn::VarStore::new(device);
    let log_temp = temp_vs
        .root()
        .var_copy("log_temperature", &Tensor::from(c.initial_temperature.ln() as f32));
    let alpha_vs = nn::VarStore::new(device);
    let log_alpha =
        alpha_vs.root().var_copy("log_alpha", &Tensor::from(c.alpha.max(1e-6).ln() as f32));
    let mut opt_pi = nn::Adam::default().build(policy_vs, c.actor_lr)?;
    let mut opt_q = nn::Adam::default().build(&q_vs, c.critic_lr)?;
    let mut opt_temp = nn::Adam::default().build(&temp_vs, c.temperature_lr)?;
    let mut opt_alpha = nn::Adam::default().build(&alpha_vs, c.temperature_lr)?;
    let target_entropy = -(k as f64) * c.entropy_per_domain;
    let half = (c.samples / 2).max(1) as i64;
    let sample = |s: &Tensor| -> (Tensor, Tensor) {
        let (mean, log_std) = policy.forward(s);
        let z = &mean + log_std.exp() * mean.randn_like();
        let lp = log_prob(&z, &mean, &log_std);
        (z, lp)
    };
    for step in 1..=c.steps {
        let idx = Tensor::randint(n, [c.batch_size as i64], (Kind::Int64, device));
        let s = t.states.index_select(0, &idx);
        let s2 = t.next_states.index_select(0, &idx);
        let a = t.actions.index_select(0, &idx);
        let r = t.rewards.index_select(0, &idx);
        let done = t.dones.index_select(0, &idx);
        let b = s.size()[0];
        let temp = log_temp.exp().detach();
        let alpha = if c.auto_alpha {
            log_alpha.exp().clamp(0.0, 1e6)
        } else {
            Tensor::from(c.alpha as f32).to_device(device)
        };

        // Critic targets and the sampled actions of the penalty carry no gradient.
        let (y, repeated, sampled) = tch::no_grad(|| {
            let (z2, lp2) = sample(&s2);
            let a2 = to_weights(&z2, cfg.floor);
            let q_next = t1.forward(&s2, &a2).minimum(&t2.forward(&s2, &a2)) - &temp * &lp2;
            let y = &r + (1.0 - &done) * cfg.gamma * q_next;
            // M actions per state: `half` from the policy, `half` uniform on the simplex.
            let repeated = s.unsqueeze(1).expand([b, 2 * half, k, s.size()[2]], false).reshape([
                b * 2 * half,
                k,
                -1,
            ]);
            let (zp, _) =
                sample(&s.unsqueeze(1).expand([b, half, k, s.size()[2]], false).reshape([
                    b * half,
                    k,
                    -1,
                ]));
            let policy_a = to_weights(&zp, cfg.floor).view([b, half, k]);
            let u = -(Tensor::rand([b, half, k], (Kind::Float, device)).clamp_min(1e-12).log());
            let uniform = &u / u.sum_dim_intlist(-1, true, Kind::Float);
            let sampled = Tensor::cat(&[policy_a, uniform], 1).view([b * 2 * half, k]);
            (y, repeated, sampled)
        });
        let m = (2 * half) as f64;
        let (mut tds, mut gaps) = (Vec::new(), Vec::new());
        for q in [&q1, &q2] {
            let q_data = q.forward(&s, &a);
            tds.push((&q_data - &y).square().mean(Kind::Float));
            let q_samples = q.forward(&repeated, &sampled).view([b, 2 * half]);
            gaps.push((q_samples.logsumexp([1], false) - m.ln() - &q_data).mean(Kind::Float));
        }
        // Sums of the two critics' terms (out of place: autograd keeps both).
        let td = Tensor::stack(&tds, 0).sum(Kind::Float);
        let gap = Tensor::stack(&gaps, 0).sum(Kind::Float);
        let conservative =
            if c.auto_alpha { &alpha.detach() * (&gap - c.target_gap) } else { &alpha * &gap };
        opt_q.backward_step(&(&td + conservative));
        if c.auto_alpha {
            // Dual ascent: alpha grows while the gap exceeds its target.
            let alpha_loss = -(log_alpha.exp() * (gap.detach() - c.target_gap));
            opt_alpha.backward_step(&alpha_loss);
        }

        // Actor.
        let (z, lp) = sample(&s);
        let a_pi = to_weights(&z, cfg.floor);
        let q_pi = q1.forward(&s, &a_pi).minimum(&q2.forward(&s, &a_pi));
        let actor = (&temp * &lp - q_pi).mean(Kind::Float);
        opt_pi.backward_step(&actor);

        // Temperature.
        let temp_loss = -(&log_temp * (lp.detach() + target_entropy)).mean(Kind::Float);
        opt_temp.backward_step(&temp_loss);

        // Target critics.
        tch::no_grad(|| {
            let src = q_vs.variables();
            for (name, mut dst) in target_vs.variables() {
                let s = &src[&name];
                dst.copy_(&(&dst * (1.0 - c.tau) + s * c.tau));
            }
        });
        if step % 50 == 0 || step == c.steps {
            log.cql.push((
                step,
                td.double_value(&[]) / 2.0,
                gap.double_value(&[]) / 2.0,
                actor.double_value(&[]),
                temp.double_value(&[]),
                alpha.double_value(&[]),
            ));
            progress("cql", step, c.steps);
        }
    }
    Ok(())
}
