//! AdamW (Loshchilov & Hutter 2019) over all parameters at once: gradients are gathered into
//! one flat buffer so the moment updates, the global-norm clip and the bias corrections are a
//! handful of tensor ops per step instead of eight per parameter (on a small model the
//! per-op overhead, not the arithmetic, is what costs).
//!
//! Update, with g clipped to global norm `clip` and t the 1-based step:
//! m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
//! p ← p − lr·wd·p  (matrices only);  p ← p − lr·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).

use std::collections::HashMap;

use tch::{Kind, Tensor};

/// AdamW hyperparameters (learning rate comes per step from the schedule).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamWConfig {
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices (not norm weights).
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 disables).
    pub grad_clip: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, grad_clip: 1.0 }
    }
}

/// Where each parameter sits in the flat moment buffers: (name, offset, numel).
pub type ParamLayout = Vec<(String, i64, i64)>;

/// A snapshot of the optimizer for a checkpoint.
pub struct AdamWState {
    /// `adamw.m` and `adamw.v`, flat.
    pub tensors: Vec<(String, Tensor)>,
    /// Steps taken.
    pub step: u64,
    /// The layout the flat buffers follow.
    pub layout: ParamLayout,
}

/// The optimizer and its state: first and second moments as flat buffers, and the step.
pub struct AdamW {
    cfg: AdamWConfig,
    /// (name, parameter, offset into the flat buffers, numel, decayed)
    params: Vec<(String, Tensor, i64, i64, bool)>,
    m: Tensor,
    v: Tensor,
    step: u64,
}

impl AdamW {
    /// Optimizer over `named` parameters (sorted by name, so the flat layout is stable).
    pub fn new(named: Vec<(String, Tensor)>, cfg: AdamWConfig) -> Self {
        let mut named = named;
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut offset = 0;
        let device = named.first().map(|(_, t)| t.device()).unwrap_or(tch::Device::Cpu);
        let params = named
            .into_iter()
            .map(|(name, t)| {
                let n = t.numel() as i64;
                let decayed = t.dim() >= 2;
                let entry = (name, t, offset, n, decayed);
                offset += n;
                entry
            })
            .collect();
        let zeros = || Tensor::zeros([offset], (Kind::Float, device));
        AdamW { cfg, params, m: zeros(), v: zeros(), step: 0 }
    }

    /// Steps taken.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Clears the gradients.
    pub fn zero_grad(&mut self) {
        for (_, p, ..) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// One update at learning rate `lr`. Returns the global gradient norm before clipping
    /// (a 0-d tensor, so reading it is the caller's choice of when to synchronise).
    pub fn step(&mut self, lr: f64) -> Tensor {
        let _guard = tch::no_grad_guard();
        let grads: Vec<Tensor> = self
            .params
            .iter()
            .map(|(_, p, _, n, _)| {
                let g = p.grad();
                if g.defined() {
                    g.reshape([-1])
                } else {
                    Tensor::zeros([*n], (Kind::Float, p.device()))
                }
            })
            .collect();
        let mut g = Tensor::cat(&grads, 0);
        let norm = g.norm();
        if self.cfg.grad_clip > 0.0 {
            // min(1, clip / norm) without a host sync.
            let coef = (self.cfg.grad_clip / (&norm + 1e-6)).clamp_max(1.0);
            let _ = g.g_mul_(&coef);
        }
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let _ = self.m.lerp_(&g, 1.0 - b1);
        let _ = self.v.lerp_(&g.square(), 1.0 - b2);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        let denom = (&self.v / bc2).sqrt_().g_add_scalar_(self.cfg.eps);
        let update = (&self.m / &denom).g_mul_scalar_(lr / bc1);
        let decay = 1.0 - lr * self.cfg.weight_decay;
        for (_, p, off, n, decayed) in &mut self.params {
            if *decayed && self.cfg.weight_decay > 0.0 {
                let _ = p.g_mul_scalar_(decay);
            }
            let _ = p.g_sub_(&update.narrow(0, *off, *n).view(p.size().as_slice()));
        }
        norm
    }

    /// The state to checkpoint: `m`, `v` (flat) and the step, plus the layout it refers to.
    pub fn state(&self) -> AdamWState {
        AdamWState {
            tensors: vec![
                ("adamw.m".into(), self.m.shallow_clone()),
                ("adamw.v".into(), self.v.shallow_clone()),
            ],
            step: self.step,
            layout: self
                .params
                .iter()
                .map(|(name, _, off, n, _)| (name.clone(), *off, *n))
                .collect(),
        }
    }

    /// Restores `m`, `v` and the step; the layout must match this optimizer's.
    pub(crate) fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        layout: &[(String, i64, i64)],
    ) -> Result<(), String> {
        let ours: Vec<(String, i64, i64)> =
            self.params.iter().map(|(name, _, off, n, _)| (name.clone(), *off, *n)).collect();
        if ours != layout {
            return Err("optimizer state was saved for another set of parameters".into());
        }
        for (key, slot) in [("adamw.m", &mut self.m), ("adamw.v", &mut self.v)] {
            let t = tensors.get(key).ok_or_else(|| format!("optimizer state has no `{key}`"))?;
            if t.size() != slot.size() {
                return Err(format!(
                    "optimizer `{key}` has shape {:?}, expected {:?}",
                    t.size(),
                    slot.size()
                ));
            }
            let _guard = tch::no_grad_guard();
            slot.copy_(t);
        }
        self.step = step;
        Ok(())
    }
}
