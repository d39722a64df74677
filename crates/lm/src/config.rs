//! Model configurations and named presets (DESIGN §6).

use serde::{Deserialize, Serialize};

use crate::LmError;

/// Shape of a LLaMA-style decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Vocabulary size (must match the corpus tokenizer).
    pub vocab_size: usize,
    /// Residual width.
    pub d_model: usize,
    /// Decoder layers.
    pub n_layers: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (grouped-query attention when < `n_heads`).
    pub n_kv_heads: usize,
    /// SwiGLU hidden width.
    pub d_ff: usize,
    /// Longest sequence (RoPE table size).
    pub max_seq_len: usize,
    /// RoPE base.
    pub rope_theta: f64,
    /// RMSNorm epsilon.
    pub norm_eps: f64,
    /// Share the embedding and output matrices.
    pub tie_embeddings: bool,
}

/// The named presets: a proxy and a target model per scale.
pub const PRESETS: &[&str] = &[
    "smoke",
    "smoke-target",
    "demo",
    "demo-target",
    "study",
    "study-target",
    "paper-proxy",
    "paper-target",
];

impl ModelConfig {
    /// A named preset with the given vocabulary size.
    ///
    /// | preset | d | layers | heads | d_ff | params (vocab 2048, tied) |
    /// |---|---|---|---|---|---|
    /// | smoke | 32 | 2 | 2 | 96 | ≈ 0.09M |
    /// | smoke-target | 48 | 3 | 3 | 128 | ≈ 0.18M |
    /// | demo | 64 | 4 | 4 | 192 | ≈ 0.35M |
    /// | demo-target | 128 | 4 | 4 | 384 | ≈ 1.1M |
    /// | study | 96 | 3 | 4 | 256 | ≈ 0.53M |
    /// | study-target | 192 | 6 | 6 | 512 | ≈ 3.0M |
    /// | paper-proxy | 512 | 8 | 8 | 2048 | ≈ 50M with a 32k vocabulary |
    /// | paper-target | 3072 | 28 | 24 (8 kv) | 8192 | ≈ 3.2B with a 128k vocabulary (LLaMA-3.2-3B shape) |
    pub fn preset(name: &str, vocab_size: usize) -> Result<Self, LmError> {
        let (d, l, h, kv, ff, t) = match name {
            "smoke" => (32, 2, 2, 2, 96, 128),
            "smoke-target" => (48, 3, 3, 3, 128, 128),
            "demo" => (64, 4, 4, 4, 192, 256),
            "demo-target" => (128, 4, 4, 4, 384, 256),
            "study" => (96, 3, 4, 4, 256, 256),
            "study-target" => (192, 6, 6, 6, 512, 256),
            "paper-proxy" => (512, 8, 8, 8, 2048, 2048),
            "paper-target" => (3072, 28, 24, 8, 8192, 4096),
            other => {
                return Err(LmError::Config(format!(
                    "unknown model preset `{other}`; known: {}",
                    PRESETS.join(", ")
                )))
            }
        };
        let cfg = ModelConfig {
            vocab_size,
            d_model: d,
            n_layers: l,
            n_heads: h,
            n_kv_heads: kv,
            d_ff: ff,
            max_seq_len: t,
            rope_theta: if name == "paper-target" { 500_000.0 } else { 10_000.0 },
            norm_eps: 1e-5,
            tie_embeddings: true,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks divisibility and positivity.
    pub fn validate(&self) -> Result<(), LmError> {
        let bad = |m: String| Err(LmError::Config(m));
        if [
            self.vocab_size,
            self.d_model,
            self.n_layers,
            self.n_heads,
            self.n_kv_heads,
            self.d_ff,
            self.max_seq_len,
        ]
        .contains(&0)
        {
            return bad("every model dimension must be ≥ 1".into());
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return bad(format!(
                "d_model {} is not divisible by n_heads {}",
                self.d_model, self.n_heads
            ));
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return bad(format!(
                "n_heads {} is not divisible by n_kv_heads {}",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !(self.d_model / self.n_heads).is_multiple_of(2) {
            return bad(format!(
                "head dimension {} must be even for RoPE",
                self.d_model / self.n_heads
            ));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Number of parameters (`paper-proxy` at vocab 32,000: 50.0M; `paper-target` at
    /// 128,256: 3.21B).
    pub fn n_params(&self) -> usize {
        let (d, kvd) = (self.d_model, self.n_kv_heads * self.head_dim());
        let layer = 2 * d * d + 2 * d * kvd + 3 * d * self.d_ff + 2 * d;
        let embed = self.vocab_size * d;
        embed + if self.tie_embeddings { 0 } else { embed } + self.n_layers * layer + d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_their_documented_sizes() {
        let m = |p: &str, v: usize| ModelConfig::preset(p, v).unwrap().n_params() as f64 / 1e6;
        assert!((m("smoke", 2048) - 0.09).abs() < 0.01);
        assert!((m("demo", 2048) - 0.34).abs() < 0.02);
        assert!((m("demo-target", 2048) - 1.1).abs() < 0.1);
        assert!((m("study-target", 2048) - 3.0).abs() < 0.2);
        assert!((m("paper-proxy", 32_000) - 50.0).abs() < 1.0);
        assert!((m("paper-target", 128_256) - 3210.0).abs() < 20.0);
        assert!(ModelConfig::preset("huge", 10)
            .unwrap_err()
            .to_string()
            .contains("smoke, smoke-target"));
    }
}
