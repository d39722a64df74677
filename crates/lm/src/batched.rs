//! Several proxies of one shape trained in lockstep as one network with stacked weights (issue
//! 20, point 3): every weight gains a leading proxy axis, each product is a batched matmul
//! over it, attention runs over all proxies' rows as one batch, and each proxy keeps its own
//! batches (its own sampler and mixture), loss, gradient clip and AdamW moments.
//!
//! [`train_stage_batched`] stacks N [`Session`]s' weights and optimizer moments, trains each
//! on its own mixture for a stage and writes everything back, so each session ends where
//! training it alone would have, to float rounding (other BLAS shapes, and the tensor-op form
//! of AdamW: a test holds the two within 1e-5 of the weights' scale after two stages). The
//! sessions stay the unit of everything else (observation, checkpoints, resume), so a caller
//! batches only the training of a stage.
//!
//! On a CPU one small proxy already fills the products and stacking only adds copies
//! (BENCHMARKS.md, "Batched proxies, measured before building them": 0.85-1.05× per
//! proxy-step); on a GPU, where one small proxy leaves most of the device idle, it is the way
//! to fill it. In bfloat16 every product's output is cast back to float32 at once (the
//! single-model forward keeps the SwiGLU product in bfloat16), so the two agree only to
//! bfloat16's rounding there.

use std::collections::HashMap;
use std::time::Instant;

use mixagent_core::Mixture;
use tch::{Kind, Tensor};

use crate::model::{rope, rope_tables, token_cross_entropy};
use crate::{LmError, ModelConfig, Session, StageStats};

/// A stacked parameter's AdamW moments, `m` and `v`, `(N, …)` each.
type Moments = (Tensor, Tensor);

/// The stacked weights of N models of one shape, `(N, …)` each, by variable name.
struct Stacked {
    cfg: ModelConfig,
    n: i64,
    params: Vec<(String, Tensor)>,
    index: HashMap<String, usize>,
    cos: Tensor,
    sin: Tensor,
}

impl Stacked {
    fn p(&self, name: &str) -> &Tensor {
        &self.params[self.index[name]].1
    }

    /// Per-token cross-entropy `(N, B, T)` of each model on its own `(B, T+1)` windows,
    /// stacked `(N, B, T+1)`.
    // `x = x + …`, not `x += …` (tch's in-place `add_`): as in `Llama::hidden_in`, autograd
    // saved `x` for the backward pass of the norm before it.
    #[allow(clippy::assign_op_pattern)]
    fn token_losses(&self, window: &Tensor, kind: Kind) -> Tensor {
        let (n, b, t1) = window.size3().expect("windows are (N, B, T+1)");
        let t = t1 - 1;
        let cfg = &self.cfg;
        let (h, kvh, hd) = (cfg.n_heads as i64, cfg.n_kv_heads as i64, cfg.head_dim() as i64);
        let (d, kvd, ff, v) =
            (cfg.d_model as i64, kvh * hd, cfg.d_ff as i64, cfg.vocab_size as i64);
        let inputs = window.narrow(2, 0, t);
        let targets = window.narrow(2, 1, t);
        let cos = self.cos.narrow(0, 0, t).view([t, 1, 1, hd]);
        let sin = self.sin.narrow(0, 0, t).view([t, 1, 1, hd]);
        // Model i's token ids offset into the i-th block of the stacked embedding.
        let offsets = Tensor::arange(n, (Kind::Int64, window.device())).view([n, 1, 1]) * v;
        let embed = self.p("model.embed_tokens.weight");
        let ids = (&inputs + offsets).view([n, b * t]);
        let mut x = Tensor::embedding(&embed.reshape([n * v, d]), &ids, -1, false, false); // (N, BT, C)
        let rms = |x: &Tensor, w: &Tensor| -> Tensor {
            let scale = (x.square().mean_dim(-1, true, Kind::Float) + cfg.norm_eps).rsqrt();
            x * scale * w.view([n, 1, d])
        };
        let layer = |i: usize, s: &str| format!("model.layers.{i}.{s}.weight");
        for i in 0..cfg.n_layers {
            let y = rms(&x, self.p(&layer(i, "input_layernorm")));
            let (q, k, vv) = if kvh == h {
                let [qk, vv] =
                    products(&y, self.p(&layer(i, "self_attn.qkv_proj")), &[2 * d, kvd], kind);
                let qk = rope(&qk.view([n * b, t, 2, h, hd]), &cos, &sin);
                let [q, k]: [Tensor; 2] = qk.unbind(2).try_into().expect("q and k");
                (q, k, vv)
            } else {
                let [q, k, vv] =
                    products(&y, self.p(&layer(i, "self_attn.qkv_proj")), &[d, kvd, kvd], kind);
                let q = rope(&q.view([n * b, t, 1, h, hd]), &cos, &sin);
                let k = rope(&k.view([n * b, t, 1, kvh, hd]), &cos, &sin);
                (q.squeeze_dim(2), k.squeeze_dim(2), vv)
            };
            let (q, k) = (q.transpose(1, 2), k.transpose(1, 2)); // (NB, H, T, hd)
            let vv = vv.view([n * b, t, kvh, hd]).transpose(1, 2);
            let a = Tensor::scaled_dot_product_attention::<Tensor>(
                &q,
                &k,
                &vv,
                None,
                0.0,
                true,
                None,
                kvh != h,
            );
            let a = a.transpose(1, 2).reshape([n, b * t, d]);
            x = x + bmm(&a, self.p(&layer(i, "self_attn.o_proj")), kind);
            let y = rms(&x, self.p(&layer(i, "post_attention_layernorm")));
            let [gate, up] = products(&y, self.p(&layer(i, "mlp.gate_up_proj")), &[ff, ff], kind);
            x = x + bmm(&(gate.silu() * up), self.p(&layer(i, "mlp.down_proj")), kind);
        }
        let x = rms(&x, self.p("model.norm.weight"));
        let head = match self.index.get("lm_head.weight") {
            Some(&i) => &self.params[i].1,
            None => embed,
        };
        token_cross_entropy(&bmm(&x, head, kind), &targets, v).view([n, b, t])
    }
}

/// `x·wᵀ` per model: `x` `(N, M, K)`, `w` `(N, O, K)`, in `kind`; float32 out.
fn bmm(x: &Tensor, w: &Tensor, kind: Kind) -> Tensor {
    if kind == Kind::Float {
        return x.matmul(&w.transpose(1, 2));
    }
    x.to_kind(kind).matmul(&w.to_kind(kind).transpose(1, 2)).to_kind(Kind::Float)
}

/// [`bmm`] by each block of rows of a fused matrix `w` (`sizes` rows each), as the
/// single-model forward multiplies (contiguous outputs).
fn products<const K: usize>(x: &Tensor, w: &Tensor, sizes: &[i64; K], kind: Kind) -> [Tensor; K] {
    let blocks = w.split_with_sizes(sizes.as_slice(), 1);
    let out: Vec<Tensor> = blocks.iter().map(|wi| bmm(x, wi, kind)).collect();
    out.try_into().expect("one block a size")
}

/// Why `sessions` cannot train as one stacked network, if they cannot.
fn check(sessions: &[Session], mixtures: &[Mixture]) -> Result<(), LmError> {
    let bad = |m: String| Err(LmError::Config(format!("batched proxies: {m}")));
    let Some(first) = sessions.first() else {
        return bad("no sessions".into());
    };
    if mixtures.len() != sessions.len() {
        return bad(format!("{} mixtures for {} sessions", mixtures.len(), sessions.len()));
    }
    // Each proxy has its own seed; everything else must agree.
    let same_training = |s: &Session| {
        let mut a = s.train.clone();
        a.seed = first.train.seed;
        a == first.train
    };
    for (i, s) in sessions.iter().enumerate() {
        if s.model().config() != first.model().config() {
            return bad(format!("session {i} trains another model shape than session 0"));
        }
        if !same_training(s)
            || s.lr != first.lr
            || s.device != first.device
            || s.matmul != first.matmul
        {
            return bad(format!(
                "session {i} has other training settings than session 0 (only the seed may differ)"
            ));
        }
        if s.step != first.step || s.opt.step_count() != first.opt.step_count() {
            return bad(format!(
                "session {i} is at step {}, session 0 at {}: proxies train in lockstep",
                s.step, first.step
            ));
        }
    }
    for (i, (s, m)) in sessions.iter().zip(mixtures).enumerate() {
        m.check_space(s.space()).map_err(|e| LmError::Config(format!("session {i}: {e}")))?;
    }
    Ok(())
}

/// Trains each of `sessions` for `steps` optimizer steps on batches drawn by its own mixture
/// (`mixtures[i]`), all as one network with stacked weights, and writes the weights, the
/// AdamW moments and the steps back into each session. The sessions must train one model
/// shape with the same settings (their seeds aside) from the same step. Each session's stage
/// statistics report its own losses and tokens, and an equal share of the wall time.
pub fn train_stage_batched(
    sessions: &mut [Session],
    mixtures: &[Mixture],
    steps: u64,
) -> Result<Vec<StageStats>, LmError> {
    check(sessions, mixtures)?;
    let start = Instant::now();
    let first = &sessions[0];
    let (device, kind) = (first.device, first.matmul);
    let cfg = first.model().config().clone();
    let adamw = first.opt.config().clone();
    let (b, t1) = (first.train.batch_size as i64, first.train.seq_len as i64 + 1);
    let accum = first.train.grad_accum;
    let n = sessions.len() as i64;
    let vars: Vec<HashMap<String, Tensor>> = sessions.iter().map(|s| s.vs.variables()).collect();
    // Stacked parameters and moments, in the optimizer's layout order.
    let slots: Vec<(String, i64, i64, bool)> = first
        .opt
        .slots()
        .map(|(name, off, len, decayed)| (name.to_string(), off, len, decayed))
        .collect();
    type Stacks = (Vec<(String, Tensor)>, Vec<Moments>);
    let (params, moments): Stacks = tch::no_grad(|| {
        slots
            .iter()
            .map(|(name, off, len, _)| {
                let shape = vars[0][name].size();
                let stack = |f: &dyn Fn(usize) -> Tensor| {
                    Tensor::stack(&(0..sessions.len()).map(f).collect::<Vec<_>>(), 0)
                };
                let p = stack(&|i| vars[i][name].detach()).set_requires_grad(true);
                let m = stack(&|i| {
                    sessions[i].opt.moments().0.narrow(0, *off, *len).view(shape.as_slice())
                });
                let v = stack(&|i| {
                    sessions[i].opt.moments().1.narrow(0, *off, *len).view(shape.as_slice())
                });
                ((name.clone(), p), (m, v))
            })
            .unzip()
    });
    let (cos, sin) = rope_tables(&cfg, device);
    let index = params.iter().enumerate().map(|(i, (name, _))| (name.clone(), i)).collect();
    let model = Stacked { cfg, n, params, index, cos, sin };
    for s in sessions.iter_mut() {
        s.take_domain_stats();
    }
    let mut loss_sums = vec![0.0f64; sessions.len()];
    let mut moments = moments;
    // The steps; whatever ends them, the steps completed are written back below, so a failed
    // stage leaves each session as `Session::train_stage` would: its finished steps applied.
    let mut run = || -> Result<(), LmError> {
        for _ in 0..steps {
            let mut losses = vec![0.0f64; sessions.len()];
            for _ in 0..accum {
                let mut windows = Vec::with_capacity(sessions.len());
                for (s, m) in sessions.iter_mut().zip(mixtures) {
                    s.sampler.fill(m, &mut s.buf)?;
                    windows.push(Tensor::from_slice(&s.buf).view([b, t1]));
                }
                let window = Tensor::stack(&windows, 0).to_device(device);
                let rows = model.token_losses(&window, kind).mean_dim(2, false, Kind::Float); // (N, B)
                (rows.mean_dim(1, false, Kind::Float).sum(Kind::Float) / accum as f64).backward();
                let rows = rows.detach().to_device(tch::Device::Cpu);
                for (i, s) in sessions.iter_mut().enumerate() {
                    let r: Vec<f32> = Vec::try_from(rows.get(i as i64))?;
                    s.count_rows(&r);
                    losses[i] += r.iter().map(|&x| f64::from(x)).sum::<f64>() / r.len() as f64;
                }
            }
            for (i, s) in sessions.iter().enumerate() {
                let loss = losses[i] / accum as f64;
                if !loss.is_finite() {
                    return Err(LmError::NonFiniteLoss {
                        step: s.step,
                        loss,
                        last_good: format!(
                            "the last checkpoint (proxy {i} of {} trained together; the steps before this one are kept in every proxy)",
                            sessions.len()
                        ),
                    });
                }
                loss_sums[i] += loss;
            }
            let step = sessions[0].opt.step_count() + 1;
            let lr = sessions[0].lr.at(sessions[0].step);
            adamw_step(&model, &slots, &mut moments, &adamw, lr, step);
            for s in sessions.iter_mut() {
                s.step += 1;
                s.opt.advance(1);
            }
        }
        Ok(())
    };
    let result = run();
    // Back into each session: weights, moments.
    tch::no_grad(|| {
        for (i, s) in sessions.iter_mut().enumerate() {
            let i64i = i as i64;
            for ((name, off, len, _), ((_, p), (m, v))) in
                slots.iter().zip(model.params.iter().zip(&moments))
            {
                vars[i][name].shallow_clone().copy_(&p.get(i64i));
                let (sm, sv) = s.opt.moments();
                sm.narrow(0, *off, *len).copy_(&m.get(i64i).reshape([-1]));
                sv.narrow(0, *off, *len).copy_(&v.get(i64i).reshape([-1]));
            }
        }
    });
    result?;
    let secs = start.elapsed().as_secs_f64() / sessions.len() as f64;
    Ok(sessions.iter_mut().zip(loss_sums).map(|(s, sum)| s.stage_stats(steps, sum, secs)).collect())
}

/// One AdamW update of every model's stacked parameters, each model clipped by its own
/// gradient norm (the single-model update's arithmetic as tensor ops, per model).
fn adamw_step(
    model: &Stacked,
    slots: &[(String, i64, i64, bool)],
    moments: &mut [Moments],
    cfg: &crate::AdamWConfig,
    lr: f64,
    step: u64,
) {
    let _guard = tch::no_grad_guard();
    let n = model.n;
    let device = model.params[0].1.device();
    let grads: Vec<Tensor> = model
        .params
        .iter()
        .map(|(_, p)| {
            let g = p.grad();
            if g.defined() {
                g
            } else {
                p.zeros_like()
            }
        })
        .collect();
    let mut squares = Tensor::zeros([n], (Kind::Float, device));
    for g in &grads {
        squares += g.reshape([n, -1]).square().sum_dim_intlist(1, false, Kind::Float);
    }
    let coef = if cfg.grad_clip > 0.0 {
        (cfg.grad_clip / (squares.sqrt() + 1e-6)).clamp_max(1.0)
    } else {
        Tensor::ones([n], (Kind::Float, device))
    };
    let t = step as i32;
    let (b1, b2) = (cfg.beta1, cfg.beta2);
    let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
    let decay = 1.0 - lr * cfg.weight_decay;
    for (((_, p), g), ((_, _, _, decayed), (m, v))) in
        model.params.iter().zip(&grads).zip(slots.iter().zip(moments.iter_mut()))
    {
        let mut shape = vec![n];
        shape.extend(std::iter::repeat_n(1, p.dim() - 1));
        let g = g * coef.view(shape.as_slice());
        let _ = m.lerp_(&g, 1.0 - b1);
        let _ = v.lerp_(&g.square(), 1.0 - b2);
        let update = (&*m / ((&*v / bc2).sqrt() + cfg.eps)) * (lr / bc1);
        let mut p = p.shallow_clone();
        // Matrices decay: a stacked parameter is a matrix when each model's slice is.
        if *decayed && cfg.weight_decay > 0.0 {
            let _ = p.g_mul_scalar_(decay);
        }
        let _ = p.g_sub_(&update);
        let mut g = p.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
}
