//! Errors of the trajectory crate.

use std::path::PathBuf;

/// Bad plans, configs or trajectory files. Each names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TrajectoryError {
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// A bad configuration value.
    #[error("config: {0}")]
    Config(String),
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
        TrajectoryError::File(mixagent_core::FileError::io(path, source))
    }

    /// A malformed file.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TrajectoryError::File(mixagent_core::FileError::malformed(path, message))
    }
}
