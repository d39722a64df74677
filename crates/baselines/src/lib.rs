//! The mixing policies the agent is measured against (DESIGN §7), one file per policy, all
//! behind `mixagent_core::MixingPolicy`, and the conformance harness every policy passes.
//!
//! Policies: uniform, fixed source/target ratios, target-only, RegMix, DBL, DoReMi, ODM, the
//! online regression mixer, MixMin, the learned agent (its artifact through the pure-Rust
//! runtime), and the oracle reference line (not ranked).

mod agent;
pub mod conformance;
mod dbl;
mod doremi;
mod fixed;
pub mod mixmin;
mod odm;
mod online_reg;
mod oracle;
mod reference;
mod regmix;
mod schedule;
mod spec;
mod uniform;

pub use agent::AgentPolicy;
pub use dbl::Dbl;
pub use doremi::DoReMi;
pub use fixed::FixedRatio;
pub use odm::Odm;
pub use online_reg::OnlineReg;
pub use oracle::oracle;
pub use reference::{entry_losses, Reference};
pub use regmix::{RegMix, RegMixSample};
pub use schedule::Scheduled;
pub use spec::{parse_policy, PolicySpec, DEFAULT_REFERENCE, POLICY_SPECS};
pub use uniform::Uniform;

/// A policy's error for a state it cannot restore.
pub(crate) fn bad_state(policy: &str, message: impl Into<String>) -> mixagent_core::CoreError {
    mixagent_core::CoreError::Policy { policy: policy.into(), message: message.into() }
}
