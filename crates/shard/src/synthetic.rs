//! Synthetic corpora for tests and benchmarks: real shard files and a real manifest, with
//! tokens that make positions recognisable (domain `d`'s token at position `i` is
//! `d * stride + i % stride`).

use std::path::Path;

use mixagent_core::Field;

use crate::{
    DomainEntry, Manifest, ShardError, ShardWriter, SplitStats, TokenizerInfo, MANIFEST_VERSION,
};

/// One synthetic domain: name, field and number of training tokens.
#[derive(Debug, Clone)]
pub struct SyntheticDomain {
    /// Domain name.
    pub name: String,
    /// Field name.
    pub field: String,
    /// Training tokens (held-out gets a tenth).
    pub tokens: usize,
}

/// Fingerprint written into synthetic shards and manifests.
pub const SYNTHETIC_FINGERPRINT: &str = "00000000c0ffee00";

/// Writes a corpus folder with one train and one held-out shard per domain and a manifest.
/// Tokens are `d * stride + i % stride` with `stride = vocab_size / domains`, so a window's
/// first token tells its domain and (for domains under `stride` tokens) its position.
pub fn write_synthetic_corpus(
    dir: &Path,
    domains: &[SyntheticDomain],
    vocab_size: u32,
) -> Result<Manifest, ShardError> {
    let fp = u64::from_str_radix(SYNTHETIC_FINGERPRINT, 16).expect("hex");
    let stride = vocab_size / domains.len().max(1) as u32;
    let mut entries = Vec::new();
    for (d, dom) in domains.iter().enumerate() {
        let folder = dir.join(&dom.name);
        std::fs::create_dir_all(&folder).map_err(|e| ShardError::io(&folder, e))?;
        let split = |name: &str, n: usize| -> Result<SplitStats, ShardError> {
            let rel = format!("{}/{name}-00000.bin", dom.name);
            let mut w = ShardWriter::create(dir.join(&rel), vocab_size, fp)?;
            let tokens: Vec<u32> = (0..n as u32).map(|i| d as u32 * stride + i % stride).collect();
            for doc in tokens.chunks(1000) {
                w.push_doc(doc)?;
            }
            let h = w.finish()?;
            Ok(SplitStats {
                docs: h.n_docs,
                tokens: h.n_tokens,
                bytes: h.n_tokens * 4,
                shards: vec![rel],
            })
        };
        let train = split("train", dom.tokens)?;
        let heldout = split("heldout", dom.tokens / 10)?;
        entries.push(DomainEntry {
            name: dom.name.clone(),
            field: Field::new(dom.field.clone())
                .map_err(|e| ShardError::Manifest { path: dir.into(), message: e.to_string() })?,
            sources: vec!["synthetic".into()],
            train,
            heldout,
        });
    }
    let manifest = Manifest {
        format_version: MANIFEST_VERSION,
        created_by: "mixagent synthetic fixture".into(),
        seed: 0,
        heldout_fraction: 0.1,
        tokenizer: TokenizerInfo {
            file: "tokenizer.json".into(),
            fingerprint: SYNTHETIC_FINGERPRINT.into(),
            vocab_size,
            eos_id: 0,
        },
        domains: entries,
        sources: Default::default(),
        feedback: Default::default(),
        feedback_scoring: Default::default(),
        feedback_rest: Default::default(),
        tasks: Default::default(),
        fingerprint: None,
        pretrain_weights: Default::default(),
    };
    manifest.save(dir)?;
    Ok(manifest)
}
