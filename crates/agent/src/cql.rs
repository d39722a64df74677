//! Conservative Q-Learning (Kumar et al. 2020, "Conservative Q-Learning for Offline
//! Reinforcement Learning", NeurIPS) on a soft actor-critic backbone (Haarnoja et al. 2018), as
//! d3rlpy's continuous CQL implements it (the formulas are in `train.rs`'s module docs). In the
//! d3rlpy shape: [`CqlConfig`] apart from [`Cql`], whose `step(&Batch)` makes one update of the
//! critics, the conservative weight, and (after the critic warm-up) the actor and the
//! temperature, and returns the named losses.

use mixagent_policy::{critic_prefix, NamedTensors, NetConfig};
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::train::{free_logits, log_prob, to_weights, Batch};
use crate::{AgentError, CriticModel, PolicyModel};

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
    /// Draw the penalty's uniform actions uniformly in the target share, then uniformly on the
    /// simplex within each field (true), instead of uniformly on the whole simplex (false).
    /// Over 20 domains the whole simplex puts almost all of its mass near a 50% share and
    /// near-even weights, so the penalty pushes Q down there and the actor flees to corners.
    pub uniform_share: bool,
    /// Polyak factor of the target critics.
    pub tau: f64,
    /// Critic-only steps before the actor starts moving (the actor starts from the warm-up
    /// policy; a critic still near its random start would steer it anywhere).
    pub critic_warmup: usize,
    /// Divide rewards by their standard deviation over the data, so `alpha`, the temperature
    /// and the learning rates mean the same for any reward scale (real per-stage rewards are
    /// about 0.01; a toy's can be 0.3). The policy does not depend on the scale.
    pub normalise_rewards: bool,
    /// Critics in the ensemble (≥ 2). The TD target and the actor read the smallest of them
    /// (SAC-N; with 2, clipped double Q); all are saved in the artifact, where a decision can
    /// weigh candidate mixtures by their pessimistic value (`decision` of the agent config).
    #[serde(default = "default_critics")]
    pub critics: usize,
    /// What the critics regress on: the soft TD target (`td`, bootstrapped through the policy's
    /// next action) or the observed discounted return-to-go of the data's own trajectory
    /// (`return`: the behaviour policy's value, Q^β, with no bootstrapping, so no
    /// overestimation can feed on itself; the actor then makes one step of improvement over
    /// it, Brandfonbrener et al. 2021, "Offline RL Without Off-Policy Evaluation").
    #[serde(default)]
    pub critic_target: CriticTarget,
}

/// The critics' regression target (see [`CqlConfig::critic_target`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CriticTarget {
    /// `r + γ(1 − done)(min_j Q'_j(s', a') − α_ent·log π(a'|s'))`, `a' ~ π(s')`.
    #[default]
    Td,
    /// The data's discounted return-to-go from this stage.
    Return,
}

/// The default ensemble: twin critics.
pub(crate) fn default_critics() -> usize {
    2
}

/// The critics' variables as artifact tensors: `q<j+1>.…` of `vs` becomes `critic.<j>.…`.
pub(crate) fn critic_tensors(vs: &nn::VarStore) -> Result<NamedTensors, AgentError> {
    let mut out = NamedTensors::new();
    for (name, t) in crate::named_tensors(vs)? {
        let (head, rest) = name.split_once('.').expect("critic variables are q<j>.<name>");
        let j: usize = head.trim_start_matches('q').parse().expect("q<j>");
        out.insert(format!("{}{rest}", critic_prefix(j - 1)), t);
    }
    Ok(out)
}

/// `n` critics `q1..qn` under the root of `vs`.
pub(crate) fn ensemble(vs: &nn::VarStore, net: &NetConfig, n: usize) -> Vec<CriticModel> {
    (1..=n).map(|j| CriticModel::new(&(vs.root() / format!("q{j}")), net)).collect()
}

/// The smallest value of the critics (each `f(critic)`), elementwise.
pub(crate) fn smallest(critics: &[CriticModel], f: impl Fn(&CriticModel) -> Tensor) -> Tensor {
    let mut it = critics.iter().map(f);
    let first = it.next().expect("at least one critic");
    it.fold(first, |m, q| m.minimum(&q))
}

/// Soft TD target `r + γ(1 − done)(q_next − α_ent·log π(a'|s'))`; `q_next` is the smaller
/// target critic's value of the sampled next action.
fn td_target(
    r: &Tensor,
    done: &Tensor,
    gamma: f64,
    q_next: &Tensor,
    temp: &Tensor,
    lp_next: &Tensor,
) -> Tensor {
    r + (1.0 - done) * gamma * (q_next - temp * lp_next)
}

/// CQL(H) gap of one critic: mean over states of `logsumexp_i Q(s, a_i) − log M − Q(s, a_data)`
/// from its values at M sampled actions `(B, M)` and at the data's action `(B)`.
fn conservative_gap(q_samples: &Tensor, q_data: &Tensor) -> Tensor {
    let m = q_samples.size()[1] as f64;
    (q_samples.logsumexp([1], false) - m.ln() - q_data).mean(Kind::Float)
}

/// The losses of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CqlLosses {
    /// Mean squared TD error per critic.
    pub td: f64,
    /// Conservative gap per critic.
    pub gap: f64,
    /// Actor loss (NaN during the critic warm-up).
    pub actor: f64,
    /// Entropy temperature.
    pub temperature: f64,
    /// Conservative weight.
    pub alpha: f64,
}

/// CQL's critics, temperature, conservative weight and optimizers around the policy.
pub struct Cql<'a> {
    cfg: CqlConfig,
    gamma: f64,
    floor: f64,
    device: Device,
    policy: &'a PolicyModel,
    q_vs: nn::VarStore,
    q: Vec<CriticModel>,
    target_vs: nn::VarStore,
    target: Vec<CriticModel>,
    _temp_vs: nn::VarStore,
    log_temp: Tensor,
    _alpha_vs: nn::VarStore,
    log_alpha: Tensor,
    opt_pi: nn::Optimizer,
    opt_q: nn::Optimizer,
    opt_temp: nn::Optimizer,
    opt_alpha: nn::Optimizer,
    /// Steps taken.
    steps: usize,
}

impl<'a> Cql<'a> {
    /// Fresh critics for `policy` (whose variables are in `policy_vs`).
    pub fn new(
        cfg: &CqlConfig,
        gamma: f64,
        floor: f64,
        policy: &'a PolicyModel,
        policy_vs: &nn::VarStore,
        net: &NetConfig,
        device: Device,
    ) -> Result<Self, AgentError> {
        let c = cfg;
        let q_vs = nn::VarStore::new(device);
        let q = ensemble(&q_vs, net, c.critics);
        let mut target_vs = nn::VarStore::new(device);
        let target = ensemble(&target_vs, net, c.critics);
        target_vs.copy(&q_vs)?;
        let temp_vs = nn::VarStore::new(device);
        let log_temp = temp_vs
            .root()
            .var_copy("log_temperature", &Tensor::from(c.initial_temperature.ln() as f32));
        let alpha_vs = nn::VarStore::new(device);
        let log_alpha =
            alpha_vs.root().var_copy("log_alpha", &Tensor::from(c.alpha.max(1e-6).ln() as f32));
        Ok(Cql {
            opt_pi: nn::Adam::default().build(policy_vs, c.actor_lr)?,
            opt_q: nn::Adam::default().build(&q_vs, c.critic_lr)?,
            opt_temp: nn::Adam::default().build(&temp_vs, c.temperature_lr)?,
            opt_alpha: nn::Adam::default().build(&alpha_vs, c.temperature_lr)?,
            cfg: c.clone(),
            gamma,
            floor,
            device,
            policy,
            q_vs,
            q,
            target_vs,
            target,
            _temp_vs: temp_vs,
            log_temp,
            _alpha_vs: alpha_vs,
            log_alpha,
            steps: 0,
        })
    }

    /// One update on `b`; the actor and the temperature move once the critics have had
    /// `critic_warmup` steps.
    pub fn step(&mut self, b: &Batch) -> CqlLosses {
        self.steps += 1;
        let c = &self.cfg;
        let half = (c.samples / 2).max(1) as i64;
        let Batch { s, s2, a, mask, r, done, g } = b;
        let free = free_logits(mask);
        // The entropy target counts the action's free dimensions: free logits and the share.
        let target_entropy =
            -(free.sum_dim_intlist(-1, false, Kind::Float) + 1.0) * c.entropy_per_domain;
        let temp = self.log_temp.exp().detach();
        let alpha = if c.auto_alpha {
            self.log_alpha.exp().clamp(0.0, 1e6)
        } else {
            Tensor::from(c.alpha as f32).to_device(self.device)
        };

        // Critic targets and the sampled actions of the penalty carry no gradient.
        let (y, actions) = tch::no_grad(|| {
            let y = match c.critic_target {
                CriticTarget::Return => g.shallow_clone(),
                CriticTarget::Td => {
                    let pi2 = self.policy.forward(s2, mask);
                    let (z2, u2) = pi2.sample();
                    let lp2 = log_prob(&z2, &u2, &pi2, &free);
                    let a2 = to_weights(&z2, &u2, mask, self.floor);
                    let q_next = smallest(&self.target, |q| q.forward(s2, &a2));
                    td_target(r, done, self.gamma, &q_next, &temp, &lp2)
                }
            };
            // Per state: the data's action, then `half` policy samples and `half` uniform
            // points on the simplex (B, 1 + 2·half, K).
            let pi = self.policy.forward(s, mask).per_sample();
            let b = s.size()[0];
            let z = pi.mean.expand([b, half, -1], false);
            let z = &z + pi.log_std.exp() * z.randn_like();
            let u = pi.share_mean.expand([b, half], false);
            let u = &u + pi.share_log_std.exp() * u.randn_like();
            let k = s.size()[1];
            let e =
                -(Tensor::rand([b, half, k], (Kind::Float, self.device)).clamp_min(1e-12).log());
            let uniform = if c.uniform_share {
                let m = mask.unsqueeze(1);
                let within = |g: &Tensor| {
                    let x = &e * g;
                    &x / x.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1e-12)
                };
                let share = Tensor::rand([b, half, 1], (Kind::Float, self.device));
                let w = &share * within(&m) + (1.0 - &share) * within(&(1.0 - &m));
                w * (1.0 - self.floor) + self.floor / k as f64
            } else {
                &e / e.sum_dim_intlist(-1, true, Kind::Float)
            };
            let sampled = to_weights(&z, &u, &mask.unsqueeze(1), self.floor);
            (y, Tensor::cat(&[a.unsqueeze(1), sampled, uniform], 1))
        });
        let (mut tds, mut gaps, mut states) = (Vec::new(), Vec::new(), Vec::new());
        for q in &self.q {
            let h = q.encode(s);
            let scores = q.score(&h, &actions); // (B, 1 + 2·half)
            let q_data = scores.select(1, 0);
            tds.push((&q_data - &y).square().mean(Kind::Float));
            gaps.push(conservative_gap(&scores.narrow(1, 1, 2 * half), &q_data));
            states.push(h.detach());
        }
        // Sums of the critics' terms (out of place: autograd keeps each).
        let td = Tensor::stack(&tds, 0).sum(Kind::Float);
        let gap = Tensor::stack(&gaps, 0).sum(Kind::Float);
        let conservative =
            if c.auto_alpha { &alpha.detach() * (&gap - c.target_gap) } else { &alpha * &gap };
        self.opt_q.backward_step(&(&td + conservative));
        if c.auto_alpha {
            // Dual ascent: alpha grows while the gap exceeds its target.
            let alpha_loss = -(self.log_alpha.exp() * (gap.detach() - c.target_gap));
            self.opt_alpha.backward_step(&alpha_loss);
        }

        // Actor and temperature, once the critics have had their warm-up. The critics'
        // state embeddings of this batch are reused (from just before their update).
        let actor = if self.steps > c.critic_warmup {
            let pi = self.policy.forward(s, mask);
            let (z, u) = pi.sample();
            let lp = log_prob(&z, &u, &pi, &free);
            let a_pi = to_weights(&z, &u, mask, self.floor).unsqueeze(1);
            let q_pi = self
                .q
                .iter()
                .zip(&states)
                .map(|(q, h)| q.score(h, &a_pi))
                .reduce(|m, q| m.minimum(&q))
                .expect("at least one critic");
            let actor = (&temp * &lp - q_pi.squeeze_dim(1)).mean(Kind::Float);
            self.opt_pi.backward_step(&actor);
            let temp_loss = -(&self.log_temp * (lp.detach() + &target_entropy)).mean(Kind::Float);
            self.opt_temp.backward_step(&temp_loss);
            actor.double_value(&[])
        } else {
            f64::NAN
        };

        // Target critics.
        tch::no_grad(|| {
            let src = self.q_vs.variables();
            for (name, mut dst) in self.target_vs.variables() {
                let s = &src[&name];
                dst.copy_(&(&dst * (1.0 - c.tau) + s * c.tau));
            }
        });
        let n = self.q.len() as f64;
        CqlLosses {
            td: td.double_value(&[]) / n,
            gap: gap.double_value(&[]) / n,
            actor,
            temperature: temp.double_value(&[]),
            alpha: alpha.double_value(&[]),
        }
    }
}

impl Cql<'_> {
    /// The critics as artifact tensors (`critic.<j>.…`) and their number.
    pub fn critics(&self) -> Result<(NamedTensors, usize), AgentError> {
        Ok((critic_tensors(&self.q_vs)?, self.q.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v)
    }

    fn close(x: &Tensor, want: &[f32]) {
        let got = Vec::<f32>::try_from(x.reshape([-1])).unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn td_target_and_conservative_gap_by_hand() {
        // 1 + 0.5·(2 − 0.1·(−1)) = 2.05; a last stage keeps only its reward.
        let y = td_target(
            &t(&[1.0, 1.0]),
            &t(&[0.0, 1.0]),
            0.5,
            &t(&[2.0, 2.0]),
            &Tensor::from(0.1f32),
            &t(&[-1.0, -1.0]),
        );
        close(&y, &[2.05, 1.0]);
        // Equal values everywhere: no gap. Q = (0, ln 3) at the samples, 0 at the data:
        // ln(1 + 3) − ln 2 − 0 = ln 2. The mean over the two states is (0 + ln 2) / 2.
        let samples = t(&[1.0, 1.0, 0.0, 3f32.ln()]).view([2, 2]);
        let gap = conservative_gap(&samples, &t(&[1.0, 0.0]));
        close(&gap, &[2f32.ln() / 2.0]);
    }
}
