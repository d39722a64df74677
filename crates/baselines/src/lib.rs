//! The mixing policies the agent is measured against (DESIGN §7), one file per policy, all
//! behind `mixagent_core::MixingPolicy`, and the conformance harness every policy passes.
//!
//! Issue 7 is in progress: the static policies (uniform, fixed source/target ratios,
//! target-only), the agent (its artifact through the pure-Rust runtime) and the harness exist;
//! RegMix, DBL, DoReMi and ODM do not yet.

mod agent;
pub mod conformance;
mod fixed;
mod spec;
mod uniform;

pub use agent::AgentPolicy;
pub use fixed::FixedRatio;
pub use spec::{parse_policy, POLICY_SPECS};
pub use uniform::Uniform;

/// A policy's error for a state it cannot restore.
pub(crate) fn bad_state(policy: &str, message: impl Into<String>) -> mixagent_core::CoreError {
    mixagent_core::CoreError::Policy { policy: policy.into(), message: message.into() }
}
