//! Errors of the shard and manifest formats. Each names the file and says how to fix it.

use std::path::PathBuf;

const REPREPARE: &str = "re-run `mixagent prepare` to rebuild the corpus";

/// Everything that can be wrong with a shard, a manifest, or writing them.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// The file is shorter (or longer) than its header says.
    #[error("{path}: shard is {got} bytes but its header implies {expected}: the file is truncated or corrupt; {REPREPARE}")]
    Truncated {
        /// The shard.
        path: PathBuf,
        /// Size implied by the header.
        expected: u64,
        /// Actual size.
        got: u64,
    },
    /// The file does not start with the shard magic.
    #[error("{path}: not a mixagent shard (bad magic bytes); {REPREPARE}")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The shard was written by another format version.
    #[error("{path}: shard format version {found}, expected {expected}; {REPREPARE}")]
    Version {
        /// The shard.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// Header or payload checksum mismatch, or impossible header values.
    #[error("{path}: corrupt shard ({what}); {REPREPARE}")]
    Corrupt {
        /// The shard.
        path: PathBuf,
        /// Which check failed.
        what: String,
    },
    /// The shard was tokenized with another tokenizer than the manifest names.
    #[error("{path}: tokenizer fingerprint {found:016x}, but the manifest expects {expected:016x}: the shard comes from another prepare run; {REPREPARE}")]
    FingerprintMismatch {
        /// The shard.
        path: PathBuf,
        /// Fingerprint in the shard.
        found: u64,
        /// Fingerprint the manifest expects.
        expected: u64,
    },
    /// A token id that does not fit the vocabulary or the token width.
    #[error("{path}: token {token} outside the vocabulary of {vocab_size}")]
    TokenOutOfRange {
        /// The shard being written.
        path: PathBuf,
        /// The token.
        token: u32,
        /// Vocabulary size.
        vocab_size: u32,
    },
    /// A manifest that cannot be used.
    #[error("manifest {path}: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A domain the manifest does not have.
    #[error("domain `{domain}` is not in the corpus manifest {path} (it has: {known})")]
    UnknownDomain {
        /// The domain asked for.
        domain: String,
        /// The manifest.
        path: PathBuf,
        /// The domains it does have.
        known: String,
    },
}

impl ShardError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ShardError::File(mixagent_core::FileError::io(path, source))
    }
}
