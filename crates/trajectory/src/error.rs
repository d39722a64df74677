//! Errors of the trajectory crate.

use std::path::PathBuf;

/// Bad plans, configs or trajectory files. Each names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TrajectoryError {
    /// A config file that cannot be read or parsed.
    #[error(transparent)]
    Load(#[from] mixagent_core::ConfigError),
    /// A bad configuration value.
    #[error("config: {0}")]
    Config(String),
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not what it should be.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file written by another version of the format.
    #[error("{path}: format version {found}, expected {expected}: {hint}")]
    Version {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
        /// What to do.
        hint: &'static str,
    },
    /// An invalid mixture or space.
    #[error(transparent)]
    Core(#[from] mixagent_core::CoreError),
}

impl TrajectoryError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrajectoryError::Io { path: path.into(), source }
    }

    /// A malformed file.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TrajectoryError::Malformed { path: path.into(), message: message.into() }
    }
}
