//! Errors of the core vocabulary, and the one file error every crate shares.

use std::path::PathBuf;

/// A file that cannot be read or written, or whose content is not what it should be. Every
/// crate's error wraps this one, so "which file, and what is wrong with it" reads the same
/// everywhere and the I/O cause stays reachable (the CLI's disk-full hint looks for it).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file (a config, a data or task file) whose content is unusable.
    #[error("{path}: {message}")]
    Malformed {
        /// The file, or what stands for it (e.g. `the built-in defaults`).
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl FileError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FileError::Io { path: path.into(), source }
    }

    /// A file with unusable content.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        FileError::Malformed { path: path.into(), message: message.into() }
    }
}

/// Invalid names, spaces, mixtures or schedules. Each variant says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// A field or domain name that is empty or uses characters outside `[a-z0-9_-]`.
    #[error("invalid {what} name `{name}`: use lowercase letters, digits, `_` or `-`")]
    InvalidName {
        /// `field` or `domain`.
        what: &'static str,
        /// The offending name.
        name: String,
    },
    /// A domain space with no domains.
    #[error("a domain space needs at least one domain")]
    EmptySpace,
    /// The same domain named twice in a space.
    #[error("domain `{0}` appears twice in the domain space")]
    DuplicateDomain(String),
    /// A name that is not a domain of the space.
    #[error("unknown domain `{name}`; the space has: {known}")]
    UnknownDomain {
        /// The name asked for.
        name: String,
        /// The domains the space does have, comma separated.
        known: String,
    },
    /// A weight vector of the wrong length.
    #[error("mixture has {got} weights but the domain space has {expected} domains")]
    WrongLength {
        /// Number of domains in the space.
        expected: usize,
        /// Number of weights given.
        got: usize,
    },
    /// A weight that is NaN or infinite.
    #[error("weight of domain `{domain}` is {value}: weights must be finite")]
    NonFinite {
        /// The domain.
        domain: String,
        /// The value as given.
        value: f64,
    },
    /// A negative weight.
    #[error("weight of domain `{domain}` is {value}: weights must be ≥ 0")]
    Negative {
        /// The domain.
        domain: String,
        /// The value as given.
        value: f64,
    },
    /// Weights that do not sum to one.
    #[error("weights sum to {sum}, not 1 (tolerance {tolerance:e}): normalise them")]
    NotNormalised {
        /// The sum found.
        sum: f64,
        /// The tolerance allowed.
        tolerance: f64,
    },
    /// A mixture over one space used with another.
    #[error("mixture belongs to domain space {got}, expected {expected}")]
    SpaceMismatch {
        /// Fingerprint of the expected space.
        expected: String,
        /// Fingerprint of the mixture's space.
        got: String,
    },
    /// A schedule without stages, or with a stage of zero tokens.
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    /// A space specification that does not fit the corpus.
    #[error("invalid space: {0}")]
    InvalidSpace(String),
    /// An observation without feedback for a field a score needs.
    #[error("no feedback for field `{0}`")]
    MissingFeedback(String),
    /// A score over no fields.
    #[error("a balanced score needs at least one field")]
    NoFields,
    /// A policy that cannot decide, or a policy state that does not fit it.
    #[error("policy `{policy}`: {message}")]
    Policy {
        /// The policy's name.
        policy: String,
        /// What went wrong and what to do.
        message: String,
    },
}
