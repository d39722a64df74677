//! The sampler's resumable state: the step and one cursor per corpus domain.

use serde::{Deserialize, Serialize};

/// Version of the serialised [`SamplerState`].
pub const SAMPLER_STATE_VERSION: u32 = 1;

/// Where one corpus domain's window stream stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainCursor {
    /// Corpus domain name.
    pub domain: String,
    /// Current epoch (0-based): how many full passes over the domain are complete.
    pub epoch: u32,
    /// Windows already taken in the current epoch.
    pub position: u64,
    /// Windows taken over the whole run.
    pub windows: u64,
    /// Training tokens taken over the whole run (`seq_len` per window).
    pub tokens: u64,
}

/// Everything needed to continue sampling exactly where a run stopped. Saved beside every
/// checkpoint; restored with [`Sampler::restore`](crate::Sampler::restore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerState {
    /// [`SAMPLER_STATE_VERSION`].
    pub version: u32,
    /// Root seed.
    pub seed: u64,
    /// Tokens per training row.
    pub seq_len: usize,
    /// Rows per batch.
    pub batch_size: usize,
    /// Tokenizer fingerprint of the corpus the cursors refer to.
    pub tokenizer_fingerprint: String,
    /// Next step to sample.
    pub step: u64,
    /// One cursor per corpus domain the sampler draws from.
    pub cursors: Vec<DomainCursor>,
}
