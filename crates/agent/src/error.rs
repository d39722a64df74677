//! Errors of agent training.

/// Unusable trajectory sets or settings; each names the trajectory or setting.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// Trajectories that cannot be learned from together.
    #[error("trajectories: {0}")]
    Data(String),
    /// Settings out of range or not parseable.
    #[error("agent config: {0}")]
    Config(String),
    /// A corpus manifest problem.
    #[error(transparent)]
    Shard(#[from] mixagent_shard::ShardError),
    /// libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
