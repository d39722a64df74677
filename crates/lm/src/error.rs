//! Errors of the model, trainer and checkpoints.

use std::path::PathBuf;

/// Everything that can stop training, loading or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// A bad model or training configuration.
    #[error("config: {0}")]
    Config(String),
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// A checkpoint that cannot be used here.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A libtorch error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The loss became NaN or infinite.
    #[error("loss is {loss} at step {step}: training stopped; the last good checkpoint is {last_good} (lower the learning rate or check the data, then resume)")]
    NonFiniteLoss {
        /// The step.
        step: u64,
        /// The loss value.
        loss: f64,
        /// The last checkpoint written before it, or "none".
        last_good: String,
    },
    /// A sampler error.
    #[error(transparent)]
    Sampler(#[from] mixagent_sampler::SamplerError),
    /// A shard or manifest error.
    #[error(transparent)]
    Shard(#[from] mixagent_shard::ShardError),
    /// A space, mixture or schedule error.
    #[error(transparent)]
    Core(#[from] mixagent_core::CoreError),
}

impl LmError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LmError::File(mixagent_core::FileError::io(path, source))
    }

    /// A checkpoint error.
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        LmError::Checkpoint { path: path.into(), message: message.into() }
    }
}
