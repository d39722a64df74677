//! Errors of agent training.

/// Unusable trajectory sets or settings; each names the trajectory or setting.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A config file that cannot be read or parsed.
    #[error(transparent)]
    Load(#[from] mixagent_core::ConfigError),
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
