//! Sampler errors.

/// What can stop a sampler from being built, restored or run.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// A shard or manifest problem.
    #[error(transparent)]
    Shard(#[from] mixagent_shard::ShardError),
    /// A mixture or space problem.
    #[error(transparent)]
    Core(#[from] mixagent_core::CoreError),
    /// A domain of the space that no corpus domain or field provides.
    #[error("domain `{name}` of the mixture's space is neither a domain nor a field of the corpus at {corpus} (domains: {known})")]
    UnknownDomain {
        /// The space entry.
        name: String,
        /// The corpus folder.
        corpus: String,
        /// The corpus's domains.
        known: String,
    },
    /// A token cap on a domain the corpus does not have.
    #[error("train.token_caps names `{name}`, which is not a domain of the corpus at {corpus} (domains: {known}): fix the name or remove the cap")]
    UnknownCap {
        /// The capped name.
        name: String,
        /// The corpus folder.
        corpus: String,
        /// The corpus's domains.
        known: String,
    },
    /// A domain with too few tokens for even one window.
    #[error("domain `{domain}` has {tokens} training tokens, fewer than one window of {window} (seq_len + 1): lower seq_len, give the domain more data or raise its token cap")]
    EmptyDomain {
        /// The domain.
        domain: String,
        /// Its training tokens.
        tokens: u64,
        /// Tokens per window.
        window: usize,
    },
    /// A saved state that does not fit this sampler.
    #[error("sampler state does not match this run: {0}")]
    StateMismatch(String),
    /// A bad configuration value.
    #[error("sampler config: {0}")]
    Config(String),
    /// The output buffer has the wrong length.
    #[error("output buffer holds {got} tokens, expected batch_size × (seq_len + 1) = {expected}")]
    BufferSize {
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}
