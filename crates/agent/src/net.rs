//! The agent's networks on libtorch, for training. `PolicyModel` has exactly the layout and
//! tensor names of `mixagent_policy::PolicyNet` (the deployed, dependency-free forward), and a
//! test checks that both compute the same outputs. `CriticModel` reads the same tokens plus the
//! proposed weight of each domain (as `K·w`), pools over domains and returns Q(s, a).

use mixagent_policy::{NamedTensors, NetConfig, LN_EPS, LOG_STD_RANGE};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// One pre-norm transformer block over domain tokens.
#[derive(Debug)]
struct Block {
    ln1: nn::LayerNorm,
    qkv: nn::Linear,
    out: nn::Linear,
    ln2: nn::LayerNorm,
    up: nn::Linear,
    down: nn::Linear,
    heads: i64,
}

fn layer_norm(p: nn::Path, d: i64) -> nn::LayerNorm {
    nn::layer_norm(p, vec![d], nn::LayerNormConfig { eps: f64::from(LN_EPS), ..Default::default() })
}

impl Block {
    fn new(p: &nn::Path, d: i64, ff: i64, heads: i64) -> Self {
        let c = Default::default();
        Block {
            ln1: layer_norm(p / "ln1", d),
            qkv: nn::linear(p / "attn" / "qkv", d, 3 * d, c),
            out: nn::linear(p / "attn" / "out", d, d, c),
            ln2: layer_norm(p / "ln2", d),
            up: nn::linear(p / "mlp" / "up", d, ff, c),
            down: nn::linear(p / "mlp" / "down", ff, d, c),
            heads,
        }
    }

    /// `x`: (B, K, d).
    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, k, d) = x.size3().expect("(B, K, d)");
        let hd = d / self.heads;
        let qkv = self.qkv.forward(&self.ln1.forward(x)); // (B, K, 3d)
        let split = |i: i64| {
            qkv.narrow(2, i * d, d).view([b, k, self.heads, hd]).transpose(1, 2)
            // (B, H, K, hd)
        };
        let (q, kk, v) = (split(0), split(1), split(2));
        let att = (q.matmul(&kk.transpose(-2, -1)) / (hd as f64).sqrt()).softmax(-1, Kind::Float);
        let y = att.matmul(&v).transpose(1, 2).contiguous().view([b, k, d]);
        let x = x + self.out.forward(&y);
        let h = self.up.forward(&self.ln2.forward(&x)).silu();
        &x + self.down.forward(&h)
    }
}

/// Attention over each token's history slots with a learned query per head (the layout of
/// `mixagent_policy`'s `HistoryPool`).
#[derive(Debug)]
struct HistoryPool {
    embed: nn::Linear,
    mix: nn::Linear,
    score: nn::Linear,
    out: nn::Linear,
    slots: i64,
    features: i64,
    heads: i64,
}

impl HistoryPool {
    fn new(p: &nn::Path, cfg: &NetConfig) -> Self {
        let (hf, dh, d) =
            (cfg.history_features as i64, cfg.history_width as i64, cfg.d_model as i64);
        let c = Default::default();
        HistoryPool {
            embed: nn::linear(p / "embed", hf, dh, c),
            mix: nn::linear(p / "mix", dh, dh, c),
            score: nn::linear(p / "score", dh, cfg.n_heads as i64, c),
            out: nn::linear(p / "out", dh, d, c),
            slots: cfg.history as i64,
            features: hf,
            heads: cfg.n_heads as i64,
        }
    }

    /// `x`: the history part of the token rows, (B, K, slots·features) → summaries (B, K, d),
    /// 0 for a token with no held slot.
    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, k, _) = x.size3().expect("(B, K, slots·features)");
        let x = x.view([b, k, self.slots, self.features]);
        let held = x.select(3, 0).gt(0.5).to_kind(Kind::Float); // (B, K, S)
        let e = self.mix.forward(&self.embed.forward(&x).silu()); // (B, K, S, dh)
        let dh = e.size()[3];
        let scores = self.score.forward(&e) + (held.unsqueeze(-1) - 1.0) * 1e9; // (B, K, S, H)
        let p = scores.softmax(2, Kind::Float);
        let e = e.view([b, k, self.slots, self.heads, dh / self.heads]);
        let pooled = (e * p.unsqueeze(-1)).sum_dim_intlist(2, false, Kind::Float).view([b, k, dh]);
        let any = held.amax(&[2][..], true); // (B, K, 1)
        self.out.forward(&pooled) * any
    }
}

/// The shared trunk: embed (plus the history summary), blocks, final LayerNorm.
#[derive(Debug)]
pub(crate) struct Trunk {
    embed: nn::Linear,
    history: Option<HistoryPool>,
    features: i64,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
}

impl Trunk {
    pub(crate) fn new(p: &nn::Path, cfg: &NetConfig) -> Self {
        let (d, ff) = (cfg.d_model as i64, cfg.d_ff as i64);
        Trunk {
            embed: nn::linear(p / "embed", cfg.features as i64, d, Default::default()),
            history: (cfg.history > 0).then(|| HistoryPool::new(&(p / "history"), cfg)),
            features: cfg.features as i64,
            blocks: (0..cfg.n_layers)
                .map(|i| Block::new(&(p / "blocks" / i), d, ff, cfg.n_heads as i64))
                .collect(),
            ln_f: layer_norm(p / "ln_f", d),
        }
    }

    /// `x`: token rows (B, K, features + history slots).
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        let width = x.size()[2];
        let own = self.embed.forward(&x.narrow(2, 0, self.features));
        let mut h = match &self.history {
            Some(pool) => own + pool.forward(&x.narrow(2, self.features, width - self.features)),
            None => own,
        };
        for b in &self.blocks {
            h = b.forward(&h);
        }
        self.ln_f.forward(&h)
    }
}

/// The policy: per domain a mean logit and a log standard deviation (within its field
/// group), and for the whole state the mean and log standard deviation of the target share's
/// logit, read from the mean source token and the mean target token.
#[derive(Debug)]
pub struct PolicyModel {
    trunk: Trunk,
    head: nn::Linear,
    share: nn::Linear,
}

/// The policy's Gaussian over (per-domain logits `z`, target-share logit `u`).
#[derive(Debug)]
pub struct PolicyOut {
    /// Mean of `z`, (B, K).
    pub mean: Tensor,
    /// Log std of `z`, (B, K).
    pub log_std: Tensor,
    /// Mean of `u`, (B).
    pub share_mean: Tensor,
    /// Log std of `u`, (B).
    pub share_log_std: Tensor,
}

impl PolicyModel {
    /// Creates the variables under `p` (use the VarStore's root so names match the artifact).
    pub fn new(p: &nn::Path, cfg: &NetConfig) -> Self {
        let d = cfg.d_model as i64;
        PolicyModel {
            trunk: Trunk::new(p, cfg),
            head: nn::linear(p / "head", d, 2, Default::default()),
            share: nn::linear(p / "share", 2 * d, 2, Default::default()),
        }
    }

    /// `x`: normalised state tokens (B, K, F); `is_target`: (B, K), 1 for a target entry
    /// (each row has at least one of each kind).
    pub fn forward(&self, x: &Tensor, is_target: &Tensor) -> PolicyOut {
        let h = self.trunk.forward(x); // (B, K, d)
        let out = self.head.forward(&h); // (B, K, 2)
        let clamp = |t: Tensor| t.clamp(f64::from(LOG_STD_RANGE.0), f64::from(LOG_STD_RANGE.1));
        let pool = |m: &Tensor| {
            let m = m.unsqueeze(-1); // (B, K, 1)
            (&h * &m).sum_dim_intlist(1, false, Kind::Float)
                / m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0)
        };
        let source = pool(&(1.0 - is_target));
        let target = pool(is_target);
        let share = self.share.forward(&Tensor::cat(&[source, target], 1)); // (B, 2)
        PolicyOut {
            mean: out.select(2, 0),
            log_std: clamp(out.select(2, 1)),
            share_mean: share.select(1, 0),
            share_log_std: clamp(share.select(1, 1)),
        }
    }
}

/// A Q critic in two parts, so that one pass of the transformer serves every action a state
/// is scored with (the data's, the policy's samples and the uniform ones of the conservative
/// penalty): `encode` reads the state tokens once into per-domain embeddings `h_k`; `score`
/// maps each proposed mixture through a per-domain network `φ(h_k, K·w_k, ln K·w_k)`, pools
/// it over domains both evenly and weighted by the mixture (a DeepSets head, so it reads any
/// number of domains and can express field shares), and returns Q(s, a).
#[derive(Debug)]
pub struct CriticModel {
    trunk: Trunk,
    state: nn::Linear,
    action: nn::Linear,
    phi: nn::Linear,
    hidden: nn::Linear,
    q: nn::Linear,
}

impl CriticModel {
    /// Creates the variables under `p`.
    pub fn new(p: &nn::Path, cfg: &NetConfig) -> Self {
        let d = cfg.d_model as i64;
        let c = Default::default();
        CriticModel {
            trunk: Trunk::new(p, cfg),
            state: nn::linear(p / "phi_state", d, d, c),
            action: nn::linear(p / "phi_action", 2, d, c),
            phi: nn::linear(p / "phi_out", d, d, c),
            hidden: nn::linear(p / "q_hidden", 2 * d, d, c),
            q: nn::linear(p / "q_out", d, 1, c),
        }
    }

    /// `x`: (B, K, F) normalised states → per-domain embeddings (B, K, d).
    pub fn encode(&self, x: &Tensor) -> Tensor {
        self.state.forward(&self.trunk.forward(x))
    }

    /// `h`: (B, K, d) from `encode`; `w`: (B, M, K), M mixtures per state → Q (B, M).
    pub fn score(&self, h: &Tensor, w: &Tensor) -> Tensor {
        let k = w.size()[2] as f64;
        let kw = (w * k).clamp_min(1e-6).unsqueeze(-1); // (B, M, K, 1)
        let a = self.action.forward(&Tensor::cat(&[kw.shallow_clone(), kw.log()], 3));
        let phi = self.phi.forward(&(h.unsqueeze(1) + a).silu()).silu(); // (B, M, K, d)
        let even = phi.mean_dim(2, false, Kind::Float);
        let weighted = (&phi * w.unsqueeze(-1)).sum_dim_intlist(2, false, Kind::Float);
        let pooled = Tensor::cat(&[even, weighted], 2); // (B, M, 2d)
        self.q.forward(&self.hidden.forward(&pooled).silu()).squeeze_dim(-1)
    }

    /// `x`: (B, K, F) normalised states; `w`: (B, K) weights → Q (B).
    pub fn forward(&self, x: &Tensor, w: &Tensor) -> Tensor {
        self.score(&self.encode(x), &w.unsqueeze(1)).squeeze_dim(1)
    }
}

/// The variables of a VarStore as f32 named tensors (for the artifact).
pub fn named_tensors(vs: &nn::VarStore) -> Result<NamedTensors, tch::TchError> {
    let mut out = NamedTensors::new();
    for (name, t) in vs.variables() {
        let t = t.to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
        let shape: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
        let values = Vec::<f32>::try_from(t.view([-1]))?;
        out.insert(name, (shape, values));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use mixagent_policy::PolicyNet;

    use super::*;

    fn test_cfg() -> NetConfig {
        NetConfig {
            features: 18,
            history: 5,
            history_features: 8,
            history_width: 16,
            d_model: 32,
            n_heads: 4,
            d_ff: 64,
            n_layers: 2,
        }
    }

    /// Random token rows (B, K, width) whose history slots are held as in a run: token `i`
    /// of every row has seen `i mod (slots + 1)` stages (so some have none).
    fn rows(b: i64, k: i64, cfg: &NetConfig) -> Tensor {
        let x = Tensor::randn([b, k, cfg.input_width() as i64], (Kind::Float, tch::Device::Cpu));
        let (f, hf) = (cfg.features as i64, cfg.history_features as i64);
        for i in 0..k {
            for slot in 0..cfg.history as i64 {
                let held = slot < i % (cfg.history as i64 + 1);
                let _ =
                    x.narrow(1, i, 1).narrow(2, f + slot * hf, 1).fill_(f64::from(u8::from(held)));
            }
        }
        x
    }

    #[test]
    fn the_pure_rust_forward_matches_libtorch() {
        tch::manual_seed(3);
        let cfg = test_cfg();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let model = PolicyModel::new(&vs.root(), &cfg);
        // Non-trivial LayerNorm parameters, so their layout is checked too.
        tch::no_grad(|| {
            for (name, mut t) in vs.variables() {
                if name.contains("ln") {
                    t.copy_(&(Tensor::randn_like(&t) * 0.3 + 1.0));
                }
            }
        });
        let pure = PolicyNet::from_tensors(cfg.clone(), &named_tensors(&vs).unwrap()).unwrap();
        for k in [2i64, 5, 64] {
            let x = rows(1, k, &cfg);
            let marks: Vec<bool> = (0..k).map(|i| i % 3 == 1).collect();
            let mask = Tensor::from_slice(
                &marks.iter().map(|&t| f32::from(u8::from(t))).collect::<Vec<_>>(),
            )
            .view([1, k]);
            let out_t = tch::no_grad(|| model.forward(&x, &mask));
            let xs = Vec::<f32>::try_from(x.view([-1])).unwrap();
            let out = pure.forward(&xs, k as usize, &marks).unwrap();
            let flat = |t: &Tensor| Vec::<f32>::try_from(t.view([-1])).unwrap();
            let (mean, log_std) = (flat(&out_t.mean), flat(&out_t.log_std));
            let share = [flat(&out_t.share_mean)[0], flat(&out_t.share_log_std)[0]];
            let worst = mean
                .iter()
                .zip(&out.mean)
                .chain(log_std.iter().zip(&out.log_std))
                .chain(share.iter().zip(&[out.share_mean, out.share_log_std]))
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "K = {k}: max |Δ| = {worst}");
        }
    }

    #[test]
    fn the_pure_rust_critic_matches_libtorch() {
        tch::manual_seed(5);
        let cfg = test_cfg();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let critics = crate::cql::ensemble(&vs, &cfg, 3);
        tch::no_grad(|| {
            for (name, mut t) in vs.variables() {
                if name.contains("ln") {
                    t.copy_(&(Tensor::randn_like(&t) * 0.3 + 1.0));
                }
            }
        });
        let tensors = crate::cql::critic_tensors(&vs).unwrap();
        for (j, critic) in critics.iter().enumerate() {
            let pure = mixagent_policy::CriticNet::from_tensors(
                cfg.clone(),
                &tensors,
                &mixagent_policy::critic_prefix(j),
            )
            .unwrap();
            for k in [2i64, 5, 64] {
                let x = rows(1, k, &cfg);
                let w = (Tensor::randn([1, k], (Kind::Float, tch::Device::Cpu)) * 2.0)
                    .softmax(-1, Kind::Float);
                let q_t = tch::no_grad(|| critic.forward(&x, &w)).double_value(&[0]);
                let xs = Vec::<f32>::try_from(x.view([-1])).unwrap();
                let ws: Vec<f64> = Vec::<f32>::try_from(w.view([-1]))
                    .unwrap()
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                let h = pure.encode(&xs, k as usize).unwrap();
                let q = f64::from(pure.score(&h, &ws));
                // f32 arithmetic: within 1e-5, relative to the value where it exceeds 1 (a
                // random critic's value over 64 entries reaches about 15, where libtorch's
                // threaded reductions round differently: 1.3e-5 apart at 14.68 was seen).
                let tolerance = 1e-5 * q_t.abs().max(1.0);
                assert!((q - q_t).abs() < tolerance, "critic {j}, K = {k}: {q} vs {q_t}");
            }
        }
    }

    #[test]
    fn the_critic_reads_any_number_of_domains() {
        let cfg = test_cfg();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let critic = CriticModel::new(&vs.root(), &cfg);
        for k in [2i64, 20] {
            let x = rows(3, k, &cfg);
            let w = Tensor::randn([3, k], (Kind::Float, tch::Device::Cpu)).softmax(-1, Kind::Float);
            assert_eq!(critic.forward(&x, &w).size(), [3]);
            // Scoring several mixtures per state agrees with scoring each alone.
            let many = Tensor::stack(&[w.shallow_clone(), w.flip([1])], 1); // (3, 2, K)
            let q = critic.score(&critic.encode(&x), &many);
            assert_eq!(q.size(), [3, 2]);
            let one = critic.forward(&x, &w.flip([1]));
            assert!((q.select(1, 1) - one).abs().max().double_value(&[]) < 1e-5);
        }
    }
}
