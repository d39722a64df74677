//! Controller errors: each names the state file, stage or domain and says what to change.

use std::path::Path;

/// What went wrong while reading a state, recording feedback or deciding.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A file that cannot be read or written, or whose content is unusable (configs
    /// included).
    #[error(transparent)]
    File(#[from] mixagent_core::FileError),
    /// A state that is malformed, of another version, or inconsistent.
    #[error("{0}")]
    State(String),
    /// Feedback or a mixture that cannot be recorded.
    #[error("{0}")]
    Input(String),
    /// A schedule, trainer shape or token count that cannot be exported or checked.
    #[error("{0}")]
    Schedule(String),
    /// The policy could not decide (or be built).
    #[error(transparent)]
    Policy(#[from] mixagent_core::CoreError),
}

impl ControllerError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ControllerError::File(mixagent_core::FileError::io(path, source))
    }
}
