//! A field of knowledge (e.g. `general`, `math`, `code`): a group of domains.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The name of a field, validated to `[a-z0-9_-]+`. Which field is the *source* and which the
/// *target* is decided per experiment, not here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Field(String);

impl Field {
    /// Validates and wraps a field name.
    pub fn new(name: impl Into<String>) -> Result<Self, CoreError> {
        let name = name.into();
        validate_name("field", &name)?;
        Ok(Field(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Field {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, CoreError> {
        Field::new(s)
    }
}

impl From<Field> for String {
    fn from(f: Field) -> String {
        f.0
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a field or domain name: non-empty, at most 64 characters of `[a-z0-9_-]`.
pub(crate) fn validate_name(what: &'static str, name: &str) -> Result<(), CoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CoreError::InvalidName { what, name: name.to_string() })
    }
}
