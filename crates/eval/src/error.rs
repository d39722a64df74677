//! Evaluation errors: each names the file, suite or task and says how to fix it.

use std::path::PathBuf;

/// What can stop building or running an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// A suite or task that ended up with no items.
    #[error("{what} has no items ({hint})")]
    Empty {
        /// The suite or task.
        what: String,
        /// How to fix it.
        hint: String,
    },
    /// A model or libtorch error.
    #[error(transparent)]
    Lm(#[from] mixagent_lm::LmError),
    /// A libtorch error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A corpus or tokenizer error.
    #[error(transparent)]
    Corpus(#[from] mixagent_corpus::CorpusError),
    /// A shard or manifest error.
    #[error(transparent)]
    Shard(#[from] mixagent_shard::ShardError),
}

impl EvalError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EvalError::File(mixagent_core::FileError::io(path, source))
    }

    /// A malformed-file error.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        EvalError::File(mixagent_core::FileError::malformed(path, message))
    }
}
