//! The corpus crate's error type: every variant names the file, domain or key at fault.

use std::path::PathBuf;

/// Everything that can go wrong while reading raw sources or preparing shards.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// A raw source folder or file that should exist does not.
    #[error("{path}: raw source `{source_name}` is missing ({hint})")]
    MissingSource {
        /// Name of the source (e.g. `brown`).
        source_name: String,
        /// Where it was expected.
        path: PathBuf,
        /// How to fix it.
        hint: String,
    },
    /// A configuration problem.
    #[error("config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A domain ended up with no documents.
    #[error("domain `{domain}` has no documents after cleaning ({hint})")]
    EmptyDomain {
        /// The domain.
        domain: String,
        /// How to fix it.
        hint: String,
    },
    /// The config names a domain that no source gives.
    #[error("the config's `{key}` names domain `{domain}`, which no source gives; the domains are: {known}")]
    UnknownDomain {
        /// The config key.
        key: &'static str,
        /// The domain named.
        domain: String,
        /// The domains there are.
        known: String,
    },
    /// Tokenizer training or loading failed.
    #[error("tokenizer {path}: {message}")]
    Tokenizer {
        /// The tokenizer file (or the output folder while training).
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The output folder exists already.
    #[error("{path} exists already: pass --force to replace it, or choose another --out")]
    OutputExists {
        /// The output folder.
        path: PathBuf,
    },
    /// An error from the shard format.
    #[error(transparent)]
    Shard(#[from] mixagent_shard::ShardError),
    /// An error from the core vocabulary.
    #[error(transparent)]
    Core(#[from] mixagent_core::CoreError),
}

impl CorpusError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CorpusError::File(mixagent_core::FileError::io(path, source))
    }

    /// A malformed-file error.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        CorpusError::File(mixagent_core::FileError::malformed(path, message))
    }
}
