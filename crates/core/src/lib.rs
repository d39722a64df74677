//! The shared vocabulary of mixagent: fields, domains, domain spaces, mixtures and schedules.
//!
//! A [`Mixture`] can only be built as a valid simplex over a known [`DomainSpace`]; every
//! other crate takes these types instead of raw vectors, so an unnormalised or misnamed weight
//! vector cannot travel far.

mod config;
mod device;
mod domain;
mod error;
mod field;
pub mod linalg;
mod mixture;
mod observation;
mod policy;
mod schedule;
pub mod seed;

pub use config::{load_config, parse_config};
pub use device::{Device, Precision};
pub use domain::{Domain, DomainId, DomainSpace, SpaceSpec, GROUP_SEPARATOR};
pub use error::{CoreError, FileError};
pub use field::Field;
pub use mixture::{
    jitter_within_fields, tilt_within_fields, Mixture, MixtureSpec, SIMPLEX_TOLERANCE,
};
pub use observation::{balanced_score, Observation, ObserveConfig, EVAL_REPORT_VERSION};
pub use policy::{
    fnv64_hex, spread_over_fields, DomainInfo, MixingPolicy, PolicyInput, StageOutcome,
};
pub use schedule::{Schedule, ScheduleSpec, Stage, StageSpec};
