//! The controller (DESIGN §8): steer continual pre-training that runs in another trainer
//! (Megatron-LM, nanotron, Levanter, the Hugging Face Trainer). The trainer reports the model's
//! feedback after each stage; the controller answers with the next stage's mixture, from any
//! mixing policy (the frozen agent or a baseline). Pure Rust, no libtorch: it is what
//! `mixagent next` and the Python module run.
//!
//! Its whole state is a small JSON document ([`ControllerState`]): the policy, the domain
//! space, and the history of mixtures and feedback. A controller rebuilt from it decides what
//! the original would have (the policy is replayed over the history), so a trainer may keep
//! the state in a file and call `mixagent next --state state.json` between stages.

mod controller;
mod error;
pub mod export;
pub mod preflight;
mod state;

pub use controller::{answer_next, Controller, NextAnswer};
pub use error::ControllerError;
pub use state::{ControllerState, DomainEntry, StageRecord, STATE_VERSION};
