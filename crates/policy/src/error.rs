//! Errors of the policy runtime.

/// Bad artifacts or inputs; each message says which tensor, feature or shape.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// An artifact that cannot be used.
    #[error("policy artifact: {0}")]
    Artifact(String),
    /// An input of the wrong shape.
    #[error("policy input: {0}")]
    Input(String),
}
