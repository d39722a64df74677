//! Errors of rollouts and collections.

use std::path::PathBuf;

/// Anything that stops a rollout; each names the file, trajectory or stage.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// A collection folder or config that cannot be used.
    #[error("{path}: {message}")]
    Collection {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A failure inside one stage of a trajectory or a steered run (the cause follows in the
    /// error chain).
    #[error("{id}, stage {stage}")]
    Stage {
        /// `trajectory t-00017`, or `cpt run <folder> (<policy>)`.
        id: String,
        /// Stage index.
        stage: usize,
        /// The cause.
        #[source]
        source: Box<RolloutError>,
    },
    /// A value of the run's config that cannot be used; the cause follows in the chain.
    #[error("config key `{key}`")]
    Key {
        /// The key, e.g. `corpus`, `base`, `space`.
        key: &'static str,
        /// The cause.
        #[source]
        source: Box<RolloutError>,
    },
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// Training.
    #[error(transparent)]
    Lm(#[from] mixagent_lm::LmError),
    /// Evaluation.
    #[error(transparent)]
    Eval(#[from] mixagent_eval::EvalError),
    /// Trajectory files and plans.
    #[error(transparent)]
    Trajectory(#[from] mixagent_trajectory::TrajectoryError),
    /// Spaces and mixtures.
    #[error(transparent)]
    Core(#[from] mixagent_core::CoreError),
    /// The corpus.
    #[error(transparent)]
    Sampler(#[from] mixagent_sampler::SamplerError),
    /// The controller that steers a run.
    #[error(transparent)]
    Controller(#[from] mixagent_controller::ControllerError),
    /// Shards and manifests.
    #[error(transparent)]
    Shard(#[from] mixagent_shard::ShardError),
}

impl RolloutError {
    /// Names the config `key` whose value caused `self`.
    pub fn key(key: &'static str, source: impl Into<RolloutError>) -> Self {
        RolloutError::Key { key, source: Box::new(source.into()) }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RolloutError::File(mixagent_core::FileError::io(path, source))
    }

    /// A collection-level problem.
    pub fn collection(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        RolloutError::Collection { path: path.into(), message: message.into() }
    }
}
