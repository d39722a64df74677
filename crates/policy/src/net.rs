//! The policy network's forward pass in plain Rust (no libtorch), for deployment: a small
//! transformer over domain tokens. The tch model of the agent trainer has the same layout and
//! tensor names, and must match this forward within 1e-5.
//!
//! Shapes: K domain tokens of F features → embed (F → d), plus each token's history summary
//! (below) → `n_layers` pre-norm blocks
//! (multi-head self-attention over the K tokens without positions, so the output is
//! permutation-equivariant and K is free; SiLU MLP d → d_ff → d) → final LayerNorm → per-token
//! head d → 2 (mean logit, log std), and a share head over the mean of the source tokens and
//! the mean of the target tokens, 2d → 2 (mean, log std of the target share's logit u).
//!
//! History (issue 21): a token's input row goes on after its F features with `history` slots
//! of `history_features` values (slot 0 the last stage; its first value 1 where the slot holds
//! a stage, 0 where it is empty). Each held slot is embedded, `e = W_m·silu(W_e·x + b_e) + b_m`
//! (width `history_width`), scored per head by `W_s·e + b_s`, and the slots are averaged per
//! head by the softmax of their scores (attention over time with a learned query); the pooled
//! vector, through `W_o`, is added to the token's embedding. A token with no stage yet adds
//! nothing. The blocks then attend over the entries.
//!
//! The action splits the field choice from the choice within a field (issue 17): target share
//! `s = σ(u)`, then `w_i = floor/K + (1 − floor)·(s·softmax_T(z)_i)` for a target entry and
//! `(1 − s)·softmax_S(z)_i` for a source one, each softmax over its own group. The split thus
//! no longer depends on how many entries each field has (2-D and 20-D read alike).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// Shape of the policy network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Input features per token (before the history slots).
    pub features: usize,
    /// History slots per token (the last stages seen; 0: no history).
    pub history: usize,
    /// Values per history slot.
    pub history_features: usize,
    /// Width of a history slot's embedding (a multiple of `n_heads`).
    pub history_width: usize,
    /// Width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// MLP hidden width.
    pub d_ff: usize,
    /// Blocks.
    pub n_layers: usize,
}

impl NetConfig {
    /// Values per token in the input: the features, then the history slots.
    pub fn input_width(&self) -> usize {
        self.features + self.history * self.history_features
    }
}

/// Named f32 tensors: name → (shape, row-major values).
pub type NamedTensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// LayerNorm epsilon (PyTorch's default).
pub const LN_EPS: f32 = 1e-5;
/// Log-std range of the Gaussian over logits.
pub const LOG_STD_RANGE: (f32, f32) = (-5.0, 2.0);

/// A dense layer `y = x Wᵀ + b`; `W` arrives row-major `(out, in)` as in PyTorch and is kept
/// transposed, `(in, out)`.
#[derive(Debug, Clone)]
struct Linear {
    wt: Vec<f32>,
    b: Vec<f32>,
    input: usize,
    output: usize,
}

impl Linear {
    fn new(w: Vec<f32>, b: Vec<f32>, input: usize, output: usize) -> Self {
        let mut wt = vec![0f32; w.len()];
        for o in 0..output {
            for k in 0..input {
                wt[k * output + o] = w[o * input + k];
            }
        }
        Linear { wt, b, input, output }
    }
}

impl Linear {
    /// `x`: `(n, in)` → `(n, out)`: the bias rows, plus `x · Wᵀ`.
    fn forward(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut y = Vec::with_capacity(n * self.output);
        for _ in 0..n {
            y.extend_from_slice(&self.b);
        }
        let (k, o) = (self.input, self.output);
        gemm((n, k, o), 1.0, (x, k, 1), (&self.wt, o, 1), (&mut y, o));
        y
    }
}

/// `C (m×n) += alpha · A (m×k) · B (k×n)` over strided views (row stride, column stride; C's
/// columns are contiguous), by the `matrixmultiply` crate's blocked, vectorised, single-threaded
/// sgemm (deterministic for a given CPU). Panics if a view reaches past its slice.
fn gemm(
    (m, k, n): (usize, usize, usize),
    alpha: f32,
    (a, rsa, csa): (&[f32], usize, usize),
    (b, rsb, csb): (&[f32], usize, usize),
    (c, rsc): (&mut [f32], usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, rs: usize, cols: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(k == 0 || last(m, rsa, k, csa) < a.len(), "gemm: A out of bounds");
    assert!(k == 0 || last(k, rsb, n, csb) < b.len(), "gemm: B out of bounds");
    assert!(last(m, rsc, n, 1) < c.len(), "gemm: C out of bounds");
    // SAFETY: every element the views address lies inside its slice (asserted above), and `c`
    // is borrowed mutably, so it aliases neither `a` nor `b`.
    #[allow(unsafe_code)]
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            1.0,
            c.as_mut_ptr(),
            rsc as isize,
            1,
        );
    }
}

#[derive(Debug, Clone)]
struct LayerNorm {
    g: Vec<f32>,
    b: Vec<f32>,
}

impl LayerNorm {
    fn forward(&self, x: &[f32], n: usize) -> Vec<f32> {
        let d = self.g.len();
        let mut y = vec![0f32; n * d];
        for i in 0..n {
            let row = &x[i * d..(i + 1) * d];
            let mean = row.iter().sum::<f32>() / d as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            let inv = 1.0 / (var + LN_EPS).sqrt();
            for j in 0..d {
                y[i * d + j] = (row[j] - mean) * inv * self.g[j] + self.b[j];
            }
        }
        y
    }
}

#[derive(Debug, Clone)]
struct Block {
    ln1: LayerNorm,
    qkv: Linear,
    out: Linear,
    ln2: LayerNorm,
    up: Linear,
    down: Linear,
}

/// The shared trunk of the policy and of each critic: embed, pre-norm blocks, final LayerNorm.
#[derive(Debug, Clone)]
struct Trunk {
    cfg: NetConfig,
    embed: Linear,
    history: Option<HistoryPool>,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
}

/// Attention over a token's history slots (see the module documentation).
#[derive(Debug, Clone)]
struct HistoryPool {
    embed: Linear,
    mix: Linear,
    score: Linear,
    out: Linear,
}

impl HistoryPool {
    /// The summaries `(k, d)` of `k` token rows `x` (normalised, `width` values each, the
    /// history slots from `from`): the held slots of every token go through the embedding as
    /// one matrix, then each token's are pooled per head.
    fn forward(&self, cfg: &NetConfig, x: &[f32], k: usize, width: usize, from: usize) -> Vec<f32> {
        let (f, dh, heads) = (cfg.history_features, cfg.history_width, cfg.n_heads);
        let mut held = Vec::new();
        let mut counts = vec![0usize; k];
        for (row, count) in x.chunks_exact(width).zip(&mut counts) {
            for slot in row[from..].chunks_exact(f).filter(|slot| slot[0] > 0.5) {
                held.extend_from_slice(slot);
                *count += 1;
            }
        }
        let n = held.len() / f;
        if n == 0 {
            return vec![0f32; k * cfg.d_model];
        }
        let mut a = self.embed.forward(&held, n);
        silu(&mut a);
        let e = self.mix.forward(&a, n); // (n, dh)
        let s = self.score.forward(&e, n); // (n, heads)
        let hd = dh / heads;
        let mut pooled = vec![0f32; k * dh];
        let mut weights = Vec::new();
        let mut start = 0;
        for (token, &count) in counts.iter().enumerate() {
            let rows = start..start + count;
            start += count;
            for head in 0..heads {
                let col = |j: usize| s[j * heads + head];
                let max = rows.clone().map(col).fold(f32::NEG_INFINITY, f32::max);
                weights.clear();
                weights.extend(rows.clone().map(|j| (col(j) - max).exp()));
                let sum: f32 = weights.iter().sum();
                let out = &mut pooled[token * dh + head * hd..token * dh + (head + 1) * hd];
                for (j, p) in rows.clone().zip(&weights) {
                    let v = &e[j * dh + head * hd..j * dh + (head + 1) * hd];
                    out.iter_mut().zip(v).for_each(|(o, v)| *o += p / sum * v);
                }
            }
        }
        let mut summary = self.out.forward(&pooled, k);
        // A token with no stage yet adds nothing (not even the bias).
        for (row, _) in summary.chunks_exact_mut(cfg.d_model).zip(&counts).filter(|(_, &c)| c == 0)
        {
            row.fill(0.0);
        }
        summary
    }
}

impl Trunk {
    /// Tensor names (under `prefix`) and shapes.
    fn tensor_shapes(cfg: &NetConfig, prefix: &str) -> Vec<(String, Vec<usize>)> {
        let (f, d, ff) = (cfg.features, cfg.d_model, cfg.d_ff);
        let mut v = vec![
            (format!("{prefix}embed.weight"), vec![d, f]),
            (format!("{prefix}embed.bias"), vec![d]),
        ];
        if cfg.history > 0 {
            let (hf, dh) = (cfg.history_features, cfg.history_width);
            for (name, out, input) in
                [("embed", dh, hf), ("mix", dh, dh), ("score", cfg.n_heads, dh), ("out", d, dh)]
            {
                v.push((format!("{prefix}history.{name}.weight"), vec![out, input]));
                v.push((format!("{prefix}history.{name}.bias"), vec![out]));
            }
        }
        for i in 0..cfg.n_layers {
            let p = format!("{prefix}blocks.{i}");
            v.extend([
                (format!("{p}.ln1.weight"), vec![d]),
                (format!("{p}.ln1.bias"), vec![d]),
                (format!("{p}.attn.qkv.weight"), vec![3 * d, d]),
                (format!("{p}.attn.qkv.bias"), vec![3 * d]),
                (format!("{p}.attn.out.weight"), vec![d, d]),
                (format!("{p}.attn.out.bias"), vec![d]),
                (format!("{p}.ln2.weight"), vec![d]),
                (format!("{p}.ln2.bias"), vec![d]),
                (format!("{p}.mlp.up.weight"), vec![ff, d]),
                (format!("{p}.mlp.up.bias"), vec![ff]),
                (format!("{p}.mlp.down.weight"), vec![d, ff]),
                (format!("{p}.mlp.down.bias"), vec![d]),
            ]);
        }
        v.extend([
            (format!("{prefix}ln_f.weight"), vec![d]),
            (format!("{prefix}ln_f.bias"), vec![d]),
        ]);
        v
    }

    fn new(cfg: &NetConfig, t: &mut Taken, prefix: &str) -> Self {
        let (f, d, ff) = (cfg.features, cfg.d_model, cfg.d_ff);
        let blocks = (0..cfg.n_layers)
            .map(|i| {
                let p = format!("{prefix}blocks.{i}");
                Block {
                    ln1: t.layer_norm(&format!("{p}.ln1")),
                    qkv: t.linear(&format!("{p}.attn.qkv"), d, 3 * d),
                    out: t.linear(&format!("{p}.attn.out"), d, d),
                    ln2: t.layer_norm(&format!("{p}.ln2")),
                    up: t.linear(&format!("{p}.mlp.up"), d, ff),
                    down: t.linear(&format!("{p}.mlp.down"), ff, d),
                }
            })
            .collect();
        let (hf, dh) = (cfg.history_features, cfg.history_width);
        let mut hist =
            |n: &str, input, output| t.linear(&format!("{prefix}history.{n}"), input, output);
        let history = (cfg.history > 0).then(|| HistoryPool {
            embed: hist("embed", hf, dh),
            mix: hist("mix", dh, dh),
            score: hist("score", dh, cfg.n_heads),
            out: hist("out", dh, d),
        });
        Trunk {
            cfg: cfg.clone(),
            embed: t.linear(&format!("{prefix}embed"), f, d),
            history,
            blocks,
            ln_f: t.layer_norm(&format!("{prefix}ln_f")),
        }
    }

    /// Final token states `(k, d)` of `k` token rows (normalised features, then history
    /// slots), row-major.
    fn forward(&self, x: &[f32], k: usize) -> Vec<f32> {
        let d = self.cfg.d_model;
        let (heads, hd) = (self.cfg.n_heads, self.cfg.d_model / self.cfg.n_heads);
        let scale = 1.0 / (hd as f32).sqrt();
        let (f, width) = (self.cfg.features, self.cfg.input_width());
        let own: Vec<f32> = x.chunks_exact(width).flat_map(|row| &row[..f]).copied().collect();
        let mut h = self.embed.forward(&own, k); // (K, d)
        if let Some(pool) = &self.history {
            let summary = pool.forward(&self.cfg, x, k, width, f);
            h.iter_mut().zip(&summary).for_each(|(o, v)| *o += v);
        }
        let mut scores = vec![0f32; k * k];
        for b in &self.blocks {
            let qkv = b.qkv.forward(&b.ln1.forward(&h, k), k); // (K, 3d): q | k | v
            let mut att = vec![0f32; k * d];
            for head in 0..heads {
                let off = head * hd;
                // scores (K, K) = scale · Q_h Kᵀ_h, read in place from the qkv rows.
                scores.fill(0.0);
                let kt = (&qkv[d + off..], 1, 3 * d);
                gemm((k, hd, k), scale, (&qkv[off..], 3 * d, 1), kt, (&mut scores, k));
                for row in scores.chunks_exact_mut(k) {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0.0;
                    for s in row.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    row.iter_mut().for_each(|s| *s /= sum);
                }
                // att[:, head] (K, hd) = P · V_h.
                let v = (&qkv[2 * d + off..], 3 * d, 1);
                gemm((k, k, hd), 1.0, (&scores, k, 1), v, (&mut att[off..], d));
            }
            let proj = b.out.forward(&att, k);
            h.iter_mut().zip(&proj).for_each(|(a, p)| *a += p);
            let mut up = b.up.forward(&b.ln2.forward(&h, k), k);
            silu(&mut up);
            let down = b.down.forward(&up, k);
            h.iter_mut().zip(&down).for_each(|(a, p)| *a += p);
        }
        self.ln_f.forward(&h, k)
    }
}

fn silu(x: &mut [f32]) {
    x.iter_mut().for_each(|u| *u = *u / (1.0 + (-*u).exp()));
}

/// Named tensors checked against the shapes a network needs, handed out once each.
struct Taken(HashMap<String, Vec<f32>>);

impl Taken {
    /// Takes every tensor of `shapes` out of `tensors`, or names the first missing or
    /// misshapen one.
    fn check(
        shapes: Vec<(String, Vec<usize>)>,
        tensors: &NamedTensors,
    ) -> Result<Self, PolicyError> {
        let mut taken = HashMap::new();
        for (name, shape) in shapes {
            let (got, values) = tensors
                .get(&name)
                .ok_or_else(|| PolicyError::Artifact(format!("missing tensor `{name}`")))?;
            if *got != shape {
                return Err(PolicyError::Artifact(format!(
                    "tensor `{name}` has shape {got:?}, expected {shape:?}"
                )));
            }
            taken.insert(name, values.clone());
        }
        Ok(Taken(taken))
    }

    fn take(&mut self, name: &str) -> Vec<f32> {
        self.0.remove(name).expect("checked above")
    }

    fn linear(&mut self, p: &str, input: usize, output: usize) -> Linear {
        Linear::new(
            self.take(&format!("{p}.weight")),
            self.take(&format!("{p}.bias")),
            input,
            output,
        )
    }

    fn layer_norm(&mut self, p: &str) -> LayerNorm {
        LayerNorm { g: self.take(&format!("{p}.weight")), b: self.take(&format!("{p}.bias")) }
    }
}

fn check_shape(cfg: &NetConfig) -> Result<(), PolicyError> {
    if cfg.d_model == 0 || cfg.n_heads == 0 || !cfg.d_model.is_multiple_of(cfg.n_heads) {
        return Err(PolicyError::Artifact(format!(
            "d_model {} must be a positive multiple of n_heads {}",
            cfg.d_model, cfg.n_heads
        )));
    }
    let history_ok = cfg.history == 0
        || (cfg.history_features > 0
            && cfg.history_width > 0
            && cfg.history_width.is_multiple_of(cfg.n_heads));
    if !history_ok {
        return Err(PolicyError::Artifact(format!(
            "with {} history slots, history_features ({}) must be > 0 and history_width ({}) a positive multiple of n_heads ({})",
            cfg.history, cfg.history_features, cfg.history_width, cfg.n_heads
        )));
    }
    Ok(())
}

/// Pseudo-random tensors of the given names and shapes, uniform in ±`scale`/2 (deterministic
/// in `seed`).
fn random(shapes: Vec<(String, Vec<usize>)>, seed: u64, scale: f32) -> NamedTensors {
    let mut state = seed;
    shapes
        .into_iter()
        .map(|(n, s)| {
            let len: usize = s.iter().product();
            let v = (0..len)
                .map(|_| {
                    state = mixagent_core::seed::mix64(state);
                    ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
                })
                .collect();
            (n, (s, v))
        })
        .collect()
}

/// The loaded policy network.
#[derive(Debug, Clone)]
pub struct PolicyNet {
    trunk: Trunk,
    head: Linear,
    share: Linear,
}

/// The network's outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyOutput {
    /// Mean logit per domain (within its group: source or target).
    pub mean: Vec<f32>,
    /// Log standard deviation per domain (clamped to [`LOG_STD_RANGE`]).
    pub log_std: Vec<f32>,
    /// Mean of the target share's logit.
    pub share_mean: f32,
    /// Its log standard deviation (clamped to [`LOG_STD_RANGE`]).
    pub share_log_std: f32,
}

/// Checks a forward's input: `k × features` values, `k` field marks, both fields present.
fn check_input(
    cfg: &NetConfig,
    x: &[f32],
    k: usize,
    is_target: &[bool],
) -> Result<(), PolicyError> {
    let f = cfg.input_width();
    if x.len() != k * f || k == 0 || is_target.len() != k {
        return Err(PolicyError::Input(format!(
            "{} values and {} field marks for {k} tokens of {f} values",
            x.len(),
            is_target.len()
        )));
    }
    if is_target.iter().all(|&t| t) || !is_target.iter().any(|&t| t) {
        return Err(PolicyError::Input(
            "the agent needs at least one source and one target entry".into(),
        ));
    }
    Ok(())
}

impl PolicyNet {
    /// The tensor names and shapes this network needs.
    pub fn tensor_shapes(cfg: &NetConfig) -> Vec<(String, Vec<usize>)> {
        let d = cfg.d_model;
        let mut v = Trunk::tensor_shapes(cfg, "");
        v.extend([
            ("head.weight".into(), vec![2, d]),
            ("head.bias".into(), vec![2]),
            ("share.weight".into(), vec![2, 2 * d]),
            ("share.bias".into(), vec![2]),
        ]);
        v
    }

    /// Pseudo-random tensors of the right names and shapes, uniform in ±`scale`/2, for tests
    /// and benchmarks (deterministic in `seed`).
    pub fn random_tensors(cfg: &NetConfig, seed: u64, scale: f32) -> NamedTensors {
        random(Self::tensor_shapes(cfg), seed, scale)
    }

    /// Builds the network from named f32 tensors (name → (shape, values)).
    pub fn from_tensors(cfg: NetConfig, tensors: &NamedTensors) -> Result<Self, PolicyError> {
        check_shape(&cfg)?;
        let mut t = Taken::check(Self::tensor_shapes(&cfg), tensors)?;
        let d = cfg.d_model;
        Ok(PolicyNet {
            trunk: Trunk::new(&cfg, &mut t, ""),
            head: t.linear("head", d, 2),
            share: t.linear("share", 2 * d, 2),
        })
    }

    /// The network's shape.
    pub fn config(&self) -> &NetConfig {
        &self.trunk.cfg
    }

    /// Forward over `k` tokens of (already normalised) features, row-major `(k, features)`;
    /// `is_target` marks the target-field tokens (at least one of each kind).
    pub fn forward(
        &self,
        x: &[f32],
        k: usize,
        is_target: &[bool],
    ) -> Result<PolicyOutput, PolicyError> {
        check_input(&self.trunk.cfg, x, k, is_target)?;
        let d = self.trunk.cfg.d_model;
        let last = self.trunk.forward(x, k); // (K, d)
        let out = self.head.forward(&last, k); // (K, 2)
                                               // Pooled (2d): mean of the source tokens, then mean of the target tokens.
        let mut pooled = vec![0f32; 2 * d];
        for want in [false, true] {
            let n = is_target.iter().filter(|&&t| t == want).count() as f32;
            let half = &mut pooled[usize::from(want) * d..(usize::from(want) + 1) * d];
            for (row, _) in last.chunks_exact(d).zip(is_target).filter(|(_, &t)| t == want) {
                half.iter_mut().zip(row).for_each(|(p, v)| *p += v / n);
            }
        }
        let share = self.share.forward(&pooled, 1); // (1, 2)
        let clamp = |v: f32| v.clamp(LOG_STD_RANGE.0, LOG_STD_RANGE.1);
        Ok(PolicyOutput {
            mean: (0..k).map(|i| out[2 * i]).collect(),
            log_std: (0..k).map(|i| clamp(out[2 * i + 1])).collect(),
            share_mean: share[0],
            share_log_std: clamp(share[1]),
        })
    }
}

/// A trained Q critic, deployed: the same layout and names as the trainer's `CriticModel`
/// (under a prefix such as `critic.0.`), matching its values within 1e-5. `encode` reads a
/// state's tokens once into per-domain embeddings; `score` values a mixture from them:
/// per domain `φ_k = silu(W_o·silu(h_k + W_a·(K·w_k, ln K·w_k)))`, pooled evenly and weighted
/// by the mixture, then a two-layer head to Q(s, w).
#[derive(Debug, Clone)]
pub struct CriticNet {
    trunk: Trunk,
    state: Linear,
    action: Linear,
    phi: Linear,
    hidden: Linear,
    q: Linear,
}

impl CriticNet {
    /// The tensor names (under `prefix`) and shapes of one critic.
    pub fn tensor_shapes(cfg: &NetConfig, prefix: &str) -> Vec<(String, Vec<usize>)> {
        let d = cfg.d_model;
        let mut v = Trunk::tensor_shapes(cfg, prefix);
        for (name, out, input) in [
            ("phi_state", d, d),
            ("phi_action", d, 2),
            ("phi_out", d, d),
            ("q_hidden", d, 2 * d),
            ("q_out", 1, d),
        ] {
            v.push((format!("{prefix}{name}.weight"), vec![out, input]));
            v.push((format!("{prefix}{name}.bias"), vec![out]));
        }
        v
    }

    /// Pseudo-random tensors for one critic under `prefix` (tests and benchmarks).
    pub fn random_tensors(cfg: &NetConfig, prefix: &str, seed: u64, scale: f32) -> NamedTensors {
        random(Self::tensor_shapes(cfg, prefix), seed, scale)
    }

    /// Builds the critic under `prefix` from named f32 tensors.
    pub fn from_tensors(
        cfg: NetConfig,
        tensors: &NamedTensors,
        prefix: &str,
    ) -> Result<Self, PolicyError> {
        check_shape(&cfg)?;
        let mut t = Taken::check(Self::tensor_shapes(&cfg, prefix), tensors)?;
        let d = cfg.d_model;
        let p = |n: &str| format!("{prefix}{n}");
        Ok(CriticNet {
            trunk: Trunk::new(&cfg, &mut t, prefix),
            state: t.linear(&p("phi_state"), d, d),
            action: t.linear(&p("phi_action"), 2, d),
            phi: t.linear(&p("phi_out"), d, d),
            hidden: t.linear(&p("q_hidden"), 2 * d, d),
            q: t.linear(&p("q_out"), d, 1),
        })
    }

    /// Per-domain embeddings `(k, d)` of `k` tokens of normalised features.
    pub fn encode(&self, x: &[f32], k: usize) -> Result<Vec<f32>, PolicyError> {
        let f = self.trunk.cfg.input_width();
        if x.len() != k * f || k == 0 {
            return Err(PolicyError::Input(format!(
                "{} values for {k} tokens of {f} values",
                x.len()
            )));
        }
        Ok(self.state.forward(&self.trunk.forward(x, k), k))
    }

    /// Q of the mixture `w` (one weight per token) in the state encoded as `h`.
    pub fn score(&self, h: &[f32], w: &[f64]) -> f32 {
        let (k, d) = (w.len(), self.trunk.cfg.d_model);
        let kw: Vec<f32> = w
            .iter()
            .flat_map(|&x| {
                let v = (x as f32 * k as f32).max(1e-6);
                [v, v.ln()]
            })
            .collect();
        let mut a = self.action.forward(&kw, k); // (K, d)
        a.iter_mut().zip(h).for_each(|(a, h)| *a += h);
        silu(&mut a);
        let mut phi = self.phi.forward(&a, k);
        silu(&mut phi);
        let mut pooled = vec![0f32; 2 * d];
        for (row, &wk) in phi.chunks_exact(d).zip(w) {
            for j in 0..d {
                pooled[j] += row[j] / k as f32;
                pooled[d + j] += row[j] * wk as f32;
            }
        }
        let mut hidden = self.hidden.forward(&pooled, 1);
        silu(&mut hidden);
        self.q.forward(&hidden, 1)[0]
    }
}

/// The mixture of logits `z` (within each group) and a target-share logit `u`:
/// `floor/K + (1 − floor)·(σ(u)·softmax_T(z) | (1 − σ(u))·softmax_S(z))`, in f64 so it sums
/// to 1. Both groups must be non-empty.
pub fn mixture_from_logits(z: &[f32], u: f32, is_target: &[bool], floor: f64) -> Vec<f64> {
    let k = z.len() as f64;
    let share = 1.0 / (1.0 + (-f64::from(u)).exp());
    let mut w = vec![0f64; z.len()];
    for (want, mass) in [(false, 1.0 - share), (true, share)] {
        let max = z
            .iter()
            .zip(is_target)
            .filter(|(_, &t)| t == want)
            .fold(f32::NEG_INFINITY, |m, (&v, _)| m.max(v));
        let mut sum = 0.0;
        for ((wi, &zi), _) in w.iter_mut().zip(z).zip(is_target).filter(|(_, &t)| t == want) {
            *wi = f64::from(zi - max).exp();
            sum += *wi;
        }
        for (wi, _) in w.iter_mut().zip(is_target).filter(|(_, &t)| t == want) {
            *wi = floor / k + (1.0 - floor) * mass * *wi / sum;
        }
    }
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network with deterministic pseudo-random weights.
    fn net(cfg: NetConfig) -> PolicyNet {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state = mixagent_core::seed::mix64(state);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let tensors = PolicyNet::tensor_shapes(&cfg)
            .into_iter()
            .map(|(n, s)| {
                let len = s.iter().product();
                let v: Vec<f32> = if n.contains("ln") && n.ends_with("weight") {
                    vec![1.0; len]
                } else {
                    (0..len).map(|_| next() * 0.5).collect()
                };
                (n, (s, v))
            })
            .collect();
        PolicyNet::from_tensors(cfg, &tensors).unwrap()
    }

    fn cfg() -> NetConfig {
        NetConfig {
            features: 6,
            history: 0,
            history_features: 0,
            history_width: 0,
            d_model: 16,
            n_heads: 4,
            d_ff: 32,
            n_layers: 2,
        }
    }

    fn input(k: usize) -> Vec<f32> {
        (0..k * 6).map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0).collect()
    }

    #[test]
    fn outputs_follow_a_permutation_of_the_domains() {
        let n = net(cfg());
        let x = input(5);
        let marks = [false, false, true, true, false];
        let out = n.forward(&x, 5, &marks).unwrap();
        let perm = [3, 0, 4, 1, 2];
        let xp: Vec<f32> = perm.iter().flat_map(|&i| x[i * 6..(i + 1) * 6].to_vec()).collect();
        let mp: Vec<bool> = perm.iter().map(|&i| marks[i]).collect();
        let outp = n.forward(&xp, 5, &mp).unwrap();
        for (j, &i) in perm.iter().enumerate() {
            assert!((outp.mean[j] - out.mean[i]).abs() < 1e-5);
            assert!((outp.log_std[j] - out.log_std[i]).abs() < 1e-5);
        }
        assert!((outp.share_mean - out.share_mean).abs() < 1e-5);
    }

    #[test]
    fn any_number_of_domains_gives_a_mixture_with_the_floor() {
        let n = net(cfg());
        for k in [2, 7, 64] {
            let marks: Vec<bool> = (0..k).map(|i| i % 3 == 1).collect();
            let out = n.forward(&input(k), k, &marks).unwrap();
            let w = mixture_from_logits(&out.mean, out.share_mean, &marks, 0.05);
            assert_eq!(w.len(), k);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(w.iter().all(|&x| x >= 0.05 / k as f64 - 1e-12));
            // The target group holds floor·(its entries)/K + (1 − floor)·σ(u).
            let s = 1.0 / (1.0 + (-f64::from(out.share_mean)).exp());
            let nt = marks.iter().filter(|&&t| t).count() as f64;
            let got: f64 = w.iter().zip(&marks).filter(|(_, &t)| t).map(|(w, _)| w).sum();
            assert!((got - (0.05 * nt / k as f64 + 0.95 * s)).abs() < 1e-9);
            assert!(out.log_std.iter().all(|s| (LOG_STD_RANGE.0..=LOG_STD_RANGE.1).contains(s)));
        }
    }

    #[test]
    fn wrong_shapes_are_named() {
        let c = cfg();
        let n = net(c.clone());
        let marks = [false, true, true];
        assert!(n
            .forward(&input(3)[..17], 3, &marks)
            .unwrap_err()
            .to_string()
            .contains("17 values"));
        let e = n.forward(&input(3), 3, &[true; 3]).unwrap_err().to_string();
        assert!(e.contains("one source and one target"), "{e}");
        let mut t = NamedTensors::new();
        t.insert("embed.weight".into(), (vec![16, 5], vec![0.0; 80]));
        let e = PolicyNet::from_tensors(c, &t).unwrap_err().to_string();
        assert!(e.contains("embed.weight") && e.contains("[16, 6]"), "{e}");
    }

    #[test]
    fn only_held_history_slots_count() {
        let c = NetConfig { history: 3, history_features: 4, history_width: 8, ..cfg() };
        let n = net(c.clone());
        let (k, w) = (3, c.input_width());
        assert_eq!(w, 6 + 12);
        // Token rows: features, then slots of (valid, three values); token 0 holds two stages,
        // token 1 one, token 2 none.
        let x: Vec<f32> = (0..k)
            .flat_map(|i| {
                let mut row: Vec<f32> =
                    (0..6).map(|j| ((i * 7 + j * 3) % 5) as f32 / 5.0).collect();
                for slot in 0..3 {
                    let held = slot < 2 - i.min(2);
                    row.push(f32::from(u8::from(held)));
                    row.extend((0..3).map(|j| ((slot * 5 + j + i) % 7) as f32 / 7.0 - 0.4));
                }
                row
            })
            .collect();
        let marks = [false, true, true];
        let out = n.forward(&x, k, &marks).unwrap();
        // An empty slot's values are ignored.
        let mut y = x.clone();
        y[2 * w + 6 + 1] = 9.0; // token 2, slot 0 (empty)
        y[6 + 4 * 2 + 2] = -9.0; // token 0, slot 2 (empty)
        assert_eq!(n.forward(&y, k, &marks).unwrap(), out);
        // A held slot's values matter.
        let mut z = x.clone();
        z[6 + 1] += 1.0; // token 0, slot 0
        let moved = n.forward(&z, k, &marks).unwrap();
        assert!((moved.mean[0] - out.mean[0]).abs() > 1e-4, "{moved:?} vs {out:?}");
        // The slots of a token are a set: their order does not matter.
        let mut swapped = x.clone();
        let (a, b) = (6, 6 + 4);
        for j in 0..4 {
            swapped.swap(a + j, b + j);
        }
        let s = n.forward(&swapped, k, &marks).unwrap();
        for (p, q) in s.mean.iter().zip(&out.mean) {
            assert!((p - q).abs() < 1e-5);
        }
        // A history width that does not split into the heads is refused.
        let bad = NetConfig { history_width: 6, ..c };
        let e = PolicyNet::from_tensors(bad, &NamedTensors::new()).unwrap_err().to_string();
        assert!(e.contains("history_width"), "{e}");
    }
}
