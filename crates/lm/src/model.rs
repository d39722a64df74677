//! A LLaMA-style decoder in one file (after nanoGPT and candle's llama2_c): token embedding,
//! `n_layers` × [RMSNorm → causal self-attention with RoPE → residual, RMSNorm → SwiGLU MLP →
//! residual], final RMSNorm, output projection (optionally tied to the embedding).
//!
//! Parameter names follow Hugging Face `LlamaForCausalLM` (`model.layers.0.self_attn.q_proj.weight`,
//! …) so a checkpoint's safetensors load there unchanged.

use tch::nn::{Init, Path};
use tch::{Kind, Tensor};

use crate::ModelConfig;

/// One decoder layer's weights.
#[derive(Debug)]
struct Layer {
    input_norm: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    o: Tensor,
    post_norm: Tensor,
    gate: Tensor,
    up: Tensor,
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
                    q: weight(&(&attn / "q_proj"), "weight", d, d, std),
                    k: weight(&(&attn / "k_proj"), "weight", kvd, d, std),
                    v: weight(&(&attn / "v_proj"), "weight", kvd, d, std),
                    o: weight(&(&attn / "o_proj"), "weight", d, d, resid_std),
                    post_norm: (&l / "post_attention_layernorm").var(
                        "weight",
                        &[d as i64],
                        Init::Const(1.0),
                    ),
                    gate: weight(&(&mlp / "gate_proj"), "weight", ff, d, std),
                    up: weight(&(&mlp / "up_proj"), "weight", ff, d, std),
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

    /// Logits `(B, T, V)` for token ids `(B, T)` (int64).
    // `x = x + …`, not `x += …`: tch's `+=` is the in-place `add_`, which would overwrite a
    // tensor autograd saved for the backward pass of the previous RMSNorm.
    #[allow(clippy::assign_op_pattern)]
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        let (b, t) = ids.size2().expect("ids are (B, T)");
        let cfg = &self.cfg;
        let (h, kvh, hd) = (cfg.n_heads as i64, cfg.n_kv_heads as i64, cfg.head_dim() as i64);
        let cos = self.cos.narrow(0, 0, t);
        let sin = self.sin.narrow(0, 0, t);
        let mut x = Tensor::embedding(&self.embed, ids, -1, false, false); // (B, T, C)
        for l in &self.layers {
            let y = x.rms_norm([cfg.d_model as i64], Some(&l.input_norm), cfg.norm_eps);
            let q = y.linear::<Tensor>(&l.q, None).view([b, t, h, hd]).transpose(1, 2); // (B, H, T, hd)
            let k = y.linear::<Tensor>(&l.k, None).view([b, t, kvh, hd]).transpose(1, 2);
            let v = y.linear::<Tensor>(&l.v, None).view([b, t, kvh, hd]).transpose(1, 2);
            let (q, k) = (rope(&q, &cos, &sin), rope(&k, &cos, &sin));
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
            let a = a.transpose(1, 2).reshape([b, t, cfg.d_model as i64]);
            x = x + a.linear::<Tensor>(&l.o, None);
            let y = x.rms_norm([cfg.d_model as i64], Some(&l.post_norm), cfg.norm_eps);
            let m = y.linear::<Tensor>(&l.gate, None).silu() * y.linear::<Tensor>(&l.up, None);
            x = x + m.linear::<Tensor>(&l.down, None);
        }
        let x = x.rms_norm([cfg.d_model as i64], Some(&self.norm), cfg.norm_eps);
        x.linear::<Tensor>(self.lm_head.as_ref().unwrap_or(&self.embed), None)
    }

    /// Per-token cross-entropy `(B, T)` of predicting `window[:, 1:]` from `window[:, :-1]`,
    /// where `window` is the sampler's `(B, T+1)` int64 batch.
    pub fn token_losses(&self, window: &Tensor) -> Tensor {
        let (b, t1) = window.size2().expect("window is (B, T+1)");
        let inputs = window.narrow(1, 0, t1 - 1);
        let targets = window.narrow(1, 1, t1 - 1);
        let logits = self.forward(&inputs);
        logits
            .view([-1, self.cfg.vocab_size as i64])
            .cross_entropy_loss::<Tensor>(
                &targets.reshape([-1]),
                None,
                tch::Reduction::None,
                -100,
                0.0,
            )
            .view([b, t1 - 1])
    }
}

/// cos/sin tables for RoPE in the "rotate half" layout of Hugging Face LLaMA.
fn rope_tables(cfg: &ModelConfig, device: tch::Device) -> (Tensor, Tensor) {
    let hd = cfg.head_dim() as i64;
    let inv_freq: Vec<f32> =
        (0..hd / 2).map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / hd as f64) as f32).collect();
    let inv_freq = Tensor::from_slice(&inv_freq);
    let pos = Tensor::arange(cfg.max_seq_len as i64, (Kind::Float, tch::Device::Cpu));
    let freqs = pos.outer(&inv_freq); // (T, hd/2)
    let emb = Tensor::cat(&[&freqs, &freqs], 1); // (T, hd)
    (emb.cos().to_device(device), emb.sin().to_device(device))
}

/// Applies RoPE to `(B, H, T, hd)`: x·cos + rotate_half(x)·sin.
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let half = x.size()[3] / 2;
    let x1 = x.narrow(3, 0, half);
    let x2 = x.narrow(3, half, half);
    let rotated = Tensor::cat(&[&x2.neg(), &x1], 3);
    x * cos + rotated * sin
}
