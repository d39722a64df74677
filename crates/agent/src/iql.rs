//! Implicit Q-Learning (Kostrikov, Nair and Levine 2021, "Offline Reinforcement Learning with
//! Implicit Q-Learning", arXiv 2110.06169), the alternative to CQL (`algorithm = "iql"`). It
//! never evaluates an action the data do not contain, so there is no conservative penalty to
//! weigh: a state-value network learns an upper expectile of the (target) critics' values of
//! the data's actions, the critics learn `r + γ(1 − done)·V(s')`, and the actor is
//! advantage-weighted behaviour cloning of the data's actions:
//!
//! - value: `E[|τ − 1(u < 0)|·u²]`, `u = min_j Q'_j(s, a) − V(s)` (expectile τ);
//! - critics: `Σ_j E[(r + γ(1 − done)·V(s') − Q_j(s, a))²]`;
//! - actor: `−E[min(exp(β·(min_j Q'_j(s, a) − V(s))), w_max) · log π(a|s)]`, the log-density
//!   per free dimension as in the warm-up.
//!
//! One [`Iql::step`] per batch returns its named losses (the d3rlpy shape: the configuration
//! apart from the computation).

use mixagent_policy::{NamedTensors, NetConfig};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::cql::{critic_tensors, ensemble, smallest};
use crate::train::{centred, free_logits, log_prob, to_logits, Batch};
use crate::{AgentError, CriticModel, PolicyModel};

/// IQL settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IqlConfig {
    /// Gradient steps.
    pub steps: usize,
    /// Transitions per batch.
    pub batch_size: usize,
    /// Actor learning rate.
    pub actor_lr: f64,
    /// Critic learning rate.
    pub critic_lr: f64,
    /// Value learning rate.
    pub value_lr: f64,
    /// Expectile τ of the value (0.5: the mean; toward 1: the best action in the data).
    pub expectile: f64,
    /// Inverse temperature β of the advantage weights.
    pub beta: f64,
    /// Largest advantage weight.
    pub max_weight: f64,
    /// Polyak factor of the target critics.
    pub tau: f64,
    /// Divide rewards by their standard deviation over the data (as `cql.normalise_rewards`).
    pub normalise_rewards: bool,
}

impl Default for IqlConfig {
    fn default() -> Self {
        IqlConfig {
            steps: 2000,
            batch_size: 128,
            actor_lr: 3e-4,
            critic_lr: 3e-4,
            value_lr: 3e-4,
            expectile: 0.7,
            beta: 3.0,
            max_weight: 100.0,
            tau: 0.005,
            normalise_rewards: true,
        }
    }
}

impl IqlConfig {
    /// Range checks serde cannot express.
    pub fn validate(&self) -> Result<(), AgentError> {
        let rates = [self.actor_lr, self.critic_lr, self.value_lr, self.beta, self.max_weight];
        let ok = self.batch_size > 0
            && rates.iter().all(|&r| r > 0.0 && r.is_finite())
            && self.expectile > 0.0
            && self.expectile < 1.0
            && self.tau > 0.0
            && self.tau <= 1.0;
        if ok {
            Ok(())
        } else {
            Err(AgentError::Config(
                "iql: batch_size, learning rates, beta and max_weight must be > 0, expectile in (0, 1), tau in (0, 1]".into(),
            ))
        }
    }
}

/// V(s): the state tokens through a trunk, pooled over the source and the target entries.
struct ValueModel {
    trunk: crate::net::Trunk,
    hidden: nn::Linear,
    out: nn::Linear,
}

impl ValueModel {
    fn new(p: &nn::Path, cfg: &NetConfig) -> Self {
        let d = cfg.d_model as i64;
        ValueModel {
            trunk: crate::net::Trunk::new(p, cfg),
            hidden: nn::linear(p / "v_hidden", 2 * d, d, Default::default()),
            out: nn::linear(p / "v_out", d, 1, Default::default()),
        }
    }

    /// `x`: (B, K, F), `is_target`: (B, K) → V (B).
    fn forward(&self, x: &Tensor, is_target: &Tensor) -> Tensor {
        let h = self.trunk.forward(x);
        let pool = |m: &Tensor| {
            let m = m.unsqueeze(-1);
            (&h * &m).sum_dim_intlist(1, false, Kind::Float)
                / m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0)
        };
        let pooled = Tensor::cat(&[pool(&(1.0 - is_target)), pool(is_target)], 1);
        self.out.forward(&self.hidden.forward(&pooled).silu()).squeeze_dim(-1)
    }
}

/// The losses of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IqlLosses {
    /// Mean squared TD error per critic.
    pub critic: f64,
    /// Expectile loss of the value.
    pub value: f64,
    /// Advantage-weighted negative log-likelihood.
    pub actor: f64,
    /// Mean advantage weight of the batch.
    pub weight: f64,
}

/// IQL's networks and optimizers around the policy being trained.
pub struct Iql<'a> {
    cfg: IqlConfig,
    gamma: f64,
    floor: f64,
    policy: &'a PolicyModel,
    q_vs: nn::VarStore,
    q: Vec<CriticModel>,
    target_vs: nn::VarStore,
    target: Vec<CriticModel>,
    value: ValueModel,
    opt_q: nn::Optimizer,
    opt_v: nn::Optimizer,
    opt_pi: nn::Optimizer,
}

impl<'a> Iql<'a> {
    /// Fresh critics and value for `policy` (whose variables are in `policy_vs`).
    pub fn new(
        cfg: &IqlConfig,
        gamma: f64,
        floor: f64,
        policy: &'a PolicyModel,
        policy_vs: &nn::VarStore,
        net: &NetConfig,
        device: Device,
    ) -> Result<Self, AgentError> {
        let q_vs = nn::VarStore::new(device);
        let q = ensemble(&q_vs, net, 2);
        let mut target_vs = nn::VarStore::new(device);
        let target = ensemble(&target_vs, net, 2);
        target_vs.copy(&q_vs)?;
        let v_vs = nn::VarStore::new(device);
        let value = ValueModel::new(&(v_vs.root() / "v"), net);
        Ok(Iql {
            opt_q: nn::Adam::default().build(&q_vs, cfg.critic_lr)?,
            opt_v: nn::Adam::default().build(&v_vs, cfg.value_lr)?,
            opt_pi: nn::Adam::default().build(policy_vs, cfg.actor_lr)?,
            cfg: cfg.clone(),
            gamma,
            floor,
            policy,
            q_vs,
            q,
            target_vs,
            target,
            value,
        })
    }

    /// One gradient step of the value, the critics and the actor on `b`, then the target
    /// critics' Polyak update.
    pub fn step(&mut self, b: &Batch) -> IqlLosses {
        let c = &self.cfg;
        // The target critics' value of the data's action, and the next state's value.
        let (q_data, v_next) = tch::no_grad(|| {
            let q = smallest(&self.target, |q| q.forward(&b.s, &b.a));
            (q, self.value.forward(&b.s2, &b.mask))
        });
        // Value: an upper expectile of Q over the data's actions.
        let v = self.value.forward(&b.s, &b.mask);
        let u = &q_data - &v;
        let weight = (u.lt(0.0).to_kind(Kind::Float) - c.expectile).abs();
        let value_loss = (weight * u.square()).mean(Kind::Float);
        self.opt_v.backward_step(&value_loss);
        // Critics: one-step TD toward the value of the next state.
        let y = &b.r + (1.0 - &b.done) * self.gamma * v_next;
        let critic_loss = self
            .q
            .iter()
            .map(|q| (q.forward(&b.s, &b.a) - &y).square().mean(Kind::Float))
            .fold(Tensor::from(0f32).to_device(b.s.device()), |acc, l| acc + l);
        self.opt_q.backward_step(&critic_loss);
        // Actor: behaviour cloning weighted by exp(β·advantage).
        let adv = (&q_data - v.detach()).detach();
        let w = (adv * c.beta).exp().clamp_max(c.max_weight);
        let (z, share) = to_logits(&b.a, &b.mask, self.floor);
        let mut pi = self.policy.forward(&b.s, &b.mask);
        pi.mean = centred(&pi.mean, &b.mask);
        let free = free_logits(&b.mask);
        let dims = free.sum_dim_intlist(-1, false, Kind::Float) + 1.0;
        let lp = log_prob(&z, &share, &pi, &free) / dims;
        let actor_loss = -(&w * lp).mean(Kind::Float);
        self.opt_pi.backward_step(&actor_loss);
        tch::no_grad(|| {
            let src = self.q_vs.variables();
            for (name, mut dst) in self.target_vs.variables() {
                dst.copy_(&(&dst * (1.0 - c.tau) + &src[&name] * c.tau));
            }
        });
        IqlLosses {
            critic: critic_loss.double_value(&[]) / 2.0,
            value: value_loss.double_value(&[]),
            actor: actor_loss.double_value(&[]),
            weight: w.mean(Kind::Float).double_value(&[]),
        }
    }

    /// The critics as artifact tensors (`critic.<j>.…`) and their number.
    pub fn critics(&self) -> Result<(NamedTensors, usize), AgentError> {
        Ok((critic_tensors(&self.q_vs)?, self.q.len()))
    }
}
