//! A LLaMA-style decoder in one file (after nanoGPT and candle's llama2_c): token embedding,
//! `n_layers` × [RMSNorm → causal self-attention with RoPE → residual, RMSNorm → SwiGLU MLP →
//! residual], final RMSNorm, output projection (optionally tied to the embedding).
//!
//! Checkpoints use Hugging Face `LlamaForCausalLM` names (`model.layers.0.self_attn.q_proj.weight`,
//! …) so they load there unchanged. In memory, q/k/v and gate/up are each one fused matrix
//! (one parameter, so one entry of the optimizer's flat layout); the forward pass multiplies
//! by each block of rows apart (see `products`), and [`Llama::hf_tensors`] and
//! `Llama::load_hf` split and join them at the checkpoint boundary.

use std::collections::HashMap;

use tch::nn::{Init, Path};
use tch::{Kind, Tensor};

use crate::ModelConfig;

/// One decoder layer's weights.
#[derive(Debug)]
struct Layer {
    input_norm: Tensor,
    /// q, k and v projections stacked: (d + 2·kv_dim, d).
    qkv: Tensor,
    o: Tensor,
    post_norm: Tensor,
    /// gate and up projections stacked: (2·d_ff, d).
    gate_up: Tensor,
    down: Tensor,
}

/// The model: weights live in the `VarStore` that `root` belongs to.
#[derive(Debug)]
pub struct Llama {
    cfg: ModelConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Option<Tensor>,
    /// RoPE tables, (max_seq_len, head_dim): cos and sin repeated over both halves.
    cos: Tensor,
    sin: Tensor,
}

/// libtorch's default generator is process-global; this lock makes "seed, then initialise"
/// atomic when several models are built concurrently (tests, parallel rollouts in one process).
static RNG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` with libtorch's global generator seeded to `seed`, holding a process-wide lock so
/// no other seeded section can interleave.
pub fn with_seed<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    let _guard = RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed as i64);
    f()
}

/// `(out, in)` weight with N(0, std²) init.
fn weight(p: &Path, name: &str, out: usize, inp: usize, std: f64) -> Tensor {
    p.var(name, &[out as i64, inp as i64], Init::Randn { mean: 0.0, stdev: std })
}

impl Llama {
    /// Creates the variables under `root` (GPT-2 / LLaMA init: N(0, 0.02), residual output
    /// projections scaled by 1/√(2·n_layers), norms at 1).
    pub fn new(root: &Path, cfg: &ModelConfig) -> Self {
        let (d, kvd, ff) = (cfg.d_model, cfg.n_kv_heads * cfg.head_dim(), cfg.d_ff);
        let std = 0.02;
        let resid_std = std / (2.0 * cfg.n_layers as f64).sqrt();
        let model = root / "model";
        let embed = weight(&(&model / "embed_tokens"), "weight", cfg.vocab_size, d, std);
        let layers = (0..cfg.n_layers)
            .map(|i| {
                let l = &model / "layers" / i;
                let attn = &l / "self_attn";
                let mlp = &l / "mlp";
                Layer {
                    input_norm: (&l / "input_layernorm").var(
                        "weight",
                        &[d as i64],
                        Init::Const(1.0),
                    ),
                    qkv: weight(&(&attn / "qkv_proj"), "weight", d + 2 * kvd, d, std),
                    o: weight(&(&attn / "o_proj"), "weight", d, d, resid_std),
                    post_norm: (&l / "post_attention_layernorm").var(
                        "weight",
                        &[d as i64],
                        Init::Const(1.0),
                    ),
                    gate_up: weight(&(&mlp / "gate_up_proj"), "weight", 2 * ff, d, std),
                    down: weight(&(&mlp / "down_proj"), "weight", d, ff, resid_std),
                }
            })
            .collect();
        let norm = (&model / "norm").var("weight", &[d as i64], Init::Const(1.0));
        let lm_head = (!cfg.tie_embeddings)
            .then(|| weight(&(root / "lm_head"), "weight", cfg.vocab_size, d, std));
        let (cos, sin) = rope_tables(cfg, root.device());
        Llama { cfg: cfg.clone(), embed, layers, norm, lm_head, cos, sin }
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// The weights under Hugging Face `LlamaForCausalLM` names (fused matrices split; views,
    /// no copies).
    pub fn hf_tensors(&self) -> Vec<(String, Tensor)> {
        let (d, kvd, ff) = (
            self.cfg.d_model as i64,
            (self.cfg.n_kv_heads * self.cfg.head_dim()) as i64,
            self.cfg.d_ff as i64,
        );
        let mut out = vec![("model.embed_tokens.weight".to_string(), self.embed.shallow_clone())];
        for (i, l) in self.layers.iter().enumerate() {
            let p = |s: &str| format!("model.layers.{i}.{s}.weight");
            out.push((p("input_layernorm"), l.input_norm.shallow_clone()));
            out.push((p("self_attn.q_proj"), l.qkv.narrow(0, 0, d)));
            out.push((p("self_attn.k_proj"), l.qkv.narrow(0, d, kvd)));
            out.push((p("self_attn.v_proj"), l.qkv.narrow(0, d + kvd, kvd)));
            out.push((p("self_attn.o_proj"), l.o.shallow_clone()));
            out.push((p("post_attention_layernorm"), l.post_norm.shallow_clone()));
            out.push((p("mlp.gate_proj"), l.gate_up.narrow(0, 0, ff)));
            out.push((p("mlp.up_proj"), l.gate_up.narrow(0, ff, ff)));
            out.push((p("mlp.down_proj"), l.down.shallow_clone()));
        }
        out.push(("model.norm.weight".to_string(), self.norm.shallow_clone()));
        if let Some(head) = &self.lm_head {
            out.push(("lm_head.weight".to_string(), head.shallow_clone()));
        }
        out
    }

    /// Copies Hugging Face-named weights into the model. Every tensor must be present with the
    /// model's shape; the error names the first that is not.
    pub(crate) fn load_hf(&self, weights: &HashMap<String, Tensor>) -> Result<(), String> {
        let _guard = tch::no_grad_guard();
        for (name, mut dst) in self.hf_tensors() {
            let src = weights.get(&name).ok_or_else(|| format!("tensor `{name}` is missing"))?;
            if src.size() != dst.size() {
                return Err(format!(
                    "tensor `{name}` has shape {:?}, the model expects {:?}",
                    src.size(),
                    dst.size()
                ));
            }
            // `dst` may be a view into a fused matrix: copying into it fills that block.
            dst.copy_(src);
        }
        Ok(())
    }

    /// Logits `(B, T, V)` for token ids `(B, T)` (int64).
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        self.forward_in(ids, Kind::Float)
    }

    /// [`Llama::forward`] with the matrix products in `matmul` (`Float` or `BFloat16`: see
    /// [`crate::matmul_kind`]); the logits are float32 either way.
    pub fn forward_in(&self, ids: &Tensor, matmul: Kind) -> Tensor {
        self.head_in(&self.hidden_in(ids, matmul), matmul)
    }

    /// The output projection: logits `(…, V)` of final hidden states `(…, C)`. Scoring a few
    /// positions of a sequence needs it only there (the projection is a third of a small
    /// model's flops).
    pub fn head(&self, hidden: &Tensor) -> Tensor {
        self.head_in(hidden, Kind::Float)
    }

    /// [`Llama::head`] with the product in `matmul`; the logits are float32 either way.
    pub fn head_in(&self, hidden: &Tensor, matmul: Kind) -> Tensor {
        linear(hidden, self.lm_head.as_ref().unwrap_or(&self.embed), matmul).to_kind(Kind::Float)
    }

    /// Final hidden states `(B, T, C)`, after the last norm, for token ids `(B, T)`.
    pub fn hidden(&self, ids: &Tensor) -> Tensor {
        self.hidden_in(ids, Kind::Float)
    }

    /// [`Llama::hidden`] with the matrix products in `matmul`. In bfloat16 the residual
    /// stream, norms, RoPE and attention stay float32; only the SwiGLU product between the two
    /// MLP matrices stays in bfloat16 (one cast fewer each way).
    // `x = x + …`, not `x += …`: tch's `+=` is the in-place `add_`, which would overwrite a
    // tensor autograd saved for the backward pass of the previous RMSNorm.
    #[allow(clippy::assign_op_pattern)]
    pub fn hidden_in(&self, ids: &Tensor, matmul: Kind) -> Tensor {
        let (b, t) = ids.size2().expect("ids are (B, T)");
        let cfg = &self.cfg;
        let (h, kvh, hd) = (cfg.n_heads as i64, cfg.n_kv_heads as i64, cfg.head_dim() as i64);
        let (d, kvd, ff) = (cfg.d_model as i64, kvh * hd, cfg.d_ff as i64);
        // (T, 1, 1, hd): broadcast over batch, the q/k axis and heads of (B, T, ·, H, hd).
        let cos = self.cos.narrow(0, 0, t).view([t, 1, 1, hd]);
        let sin = self.sin.narrow(0, 0, t).view([t, 1, 1, hd]);
        let mut x = Tensor::embedding(&self.embed, ids, -1, false, false); // (B, T, C)
        for l in &self.layers {
            let y = x.rms_norm([d], Some(&l.input_norm), cfg.norm_eps);
            let (q, k, v) = if kvh == h {
                // One RoPE over q and k together: (B, T, 2, H, hd).
                let [qk, v] = products(&y, &l.qkv, &[2 * d, kvd], matmul);
                let qk = rope(&qk.to_kind(Kind::Float).view([b, t, 2, h, hd]), &cos, &sin);
                let [q, k]: [Tensor; 2] = qk.unbind(2).try_into().expect("q and k");
                (q, k, v)
            } else {
                let [q, k, v] = products(&y, &l.qkv, &[d, kvd, kvd], matmul);
                let q = rope(&q.to_kind(Kind::Float).view([b, t, 1, h, hd]), &cos, &sin);
                let k = rope(&k.to_kind(Kind::Float).view([b, t, 1, kvh, hd]), &cos, &sin);
                (q.squeeze_dim(2), k.squeeze_dim(2), v)
            };
            let (q, k) = (q.transpose(1, 2), k.transpose(1, 2)); // (B, H, T, hd)
            let v = v.to_kind(Kind::Float).view([b, t, kvh, hd]).transpose(1, 2);
            let a = Tensor::scaled_dot_product_attention::<Tensor>(
                &q,
                &k,
                &v,
                None,
                0.0,
                true,
                None,
                kvh != h,
            );
            let a = a.transpose(1, 2).reshape([b, t, d]);
            x = x + linear(&a, &l.o, matmul).to_kind(Kind::Float);
            let y = x.rms_norm([d], Some(&l.post_norm), cfg.norm_eps);
            let [gate, up] = products(&y, &l.gate_up, &[ff, ff], matmul);
            let m = gate.silu() * up;
            x = x + linear(&m, &l.down, matmul).to_kind(Kind::Float);
        }
        x.rms_norm([cfg.d_model as i64], Some(&self.norm), cfg.norm_eps)
    }

    /// Per-token cross-entropy `(B, T)` of predicting `window[:, 1:]` from `window[:, :-1]`,
    /// where `window` is the sampler's `(B, T+1)` int64 batch.
    pub fn token_losses(&self, window: &Tensor) -> Tensor {
        self.token_losses_in(window, Kind::Float)
    }

    /// [`Llama::token_losses`] with the matrix products in `matmul`; the softmax and the loss
    /// in float32.
    pub fn token_losses_in(&self, window: &Tensor, matmul: Kind) -> Tensor {
        let (b, t1) = window.size2().expect("window is (B, T+1)");
        let inputs = window.narrow(1, 0, t1 - 1);
        let targets = window.narrow(1, 1, t1 - 1);
        let logits = self.forward_in(&inputs, matmul);
        token_cross_entropy(&logits, &targets, self.cfg.vocab_size as i64).view([b, t1 - 1])
    }
}

/// Per-token cross-entropy of `logits` `(…, V)` against `targets` `(…)`, flat.
pub(crate) fn token_cross_entropy(logits: &Tensor, targets: &Tensor, vocab: i64) -> Tensor {
    logits.view([-1, vocab]).cross_entropy_loss::<Tensor>(
        &targets.reshape([-1]),
        None,
        tch::Reduction::None,
        -100,
        0.0,
    )
}

/// `x·wᵀ` with both operands in `kind`; the result is in `kind` (a no-op cast for float32).
pub(crate) fn linear(x: &Tensor, w: &Tensor, kind: Kind) -> Tensor {
    if kind == Kind::Float {
        return x.linear::<Tensor>(w, None);
    }
    x.to_kind(kind).linear::<Tensor>(&w.to_kind(kind), None)
}

/// `x·wᵢᵀ` for the blocks of rows `wᵢ` of a fused matrix `w` (`sizes` rows each), `x` cast to
/// `kind` once. One product a block, not one product split afterwards: each output is then
/// contiguous, and the backward assembles the small weight gradient, not the activations'
/// (a split of the fused output costs a `cat` of the activation gradients, and a `narrow`
/// a zero-filled copy of them a block: 5-10% of a `demo` step, issue 20).
fn products<const N: usize>(x: &Tensor, w: &Tensor, sizes: &[i64; N], kind: Kind) -> [Tensor; N] {
    let x = if kind == Kind::Float { x.shallow_clone() } else { x.to_kind(kind) };
    let blocks = w.split_with_sizes(sizes.as_slice(), 0);
    let out: Vec<Tensor> = blocks.iter().map(|wi| linear(&x, wi, kind)).collect();
    out.try_into().expect("one block a size")
}

/// cos/sin tables for RoPE in the "rotate half" layout of Hugging Face LLaMA. The sin table's
/// first half is negated, so `rotate_half(x)·sin` becomes `roll(x, hd/2)·sin` (one op, not four).
pub(crate) fn rope_tables(cfg: &ModelConfig, device: tch::Device) -> (Tensor, Tensor) {
    let hd = cfg.head_dim() as i64;
    let inv_freq: Vec<f32> =
        (0..hd / 2).map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / hd as f64) as f32).collect();
    let inv_freq = Tensor::from_slice(&inv_freq);
    let pos = Tensor::arange(cfg.max_seq_len as i64, (Kind::Float, tch::Device::Cpu));
    let freqs = pos.outer(&inv_freq); // (T, hd/2)
    let cos = Tensor::cat(&[freqs.cos(), freqs.cos()], 1); // (T, hd)
    let sin = Tensor::cat(&[-freqs.sin(), freqs.sin()], 1);
    (cos.to_device(device), sin.to_device(device))
}

/// Applies RoPE along the last axis: x·cos + rotate_half(x)·sin, where
/// rotate_half([x1, x2]) = [−x2, x1] = roll(x, hd/2) with the sign folded into `sin`.
pub(crate) fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let half = x.size().last().copied().expect("non-scalar") / 2;
    x * cos + x.roll([half], [-1]) * sin
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block products give what one fused product split afterwards gives, forward and
    /// backward, to float rounding (the two run different BLAS shapes; the training step's
    /// losses agree to about 1e-8, BENCHMARKS.md).
    #[test]
    fn block_products_match_the_split_fused_product() {
        let cpu = (Kind::Float, tch::Device::Cpu);
        let (x, w, ca, cb) = with_seed(7, || {
            (
                Tensor::randn([4, 5, 8], cpu),
                Tensor::randn([12, 8], cpu),
                Tensor::randn([4, 5, 7], cpu),
                Tensor::randn([4, 5, 5], cpu),
            )
        });
        let run = |blocks: bool| {
            let x = x.copy().set_requires_grad(true);
            let w = w.copy().set_requires_grad(true);
            let [a, b] = if blocks {
                products(&x, &w, &[7, 5], Kind::Float)
            } else {
                let parts = x.linear::<Tensor>(&w, None).split_with_sizes([7, 5], -1);
                [parts[0].shallow_clone(), parts[1].shallow_clone()]
            };
            let loss = (&a * &ca).sum(Kind::Float) + (&b * &cb).sum(Kind::Float);
            let grads = Tensor::run_backward(&[loss], &[&x, &w], false, false);
            [a, b, grads[0].shallow_clone(), grads[1].shallow_clone()]
        };
        let (fused, blocks) = (run(false), run(true));
        for (name, (f, p)) in ["a", "b", "dx", "dw"].iter().zip(fused.iter().zip(blocks.iter())) {
            assert_eq!(f.size(), p.size(), "{name}");
            let diff = (f - p).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{name}: the block products differ by {diff}");
        }
    }
}
