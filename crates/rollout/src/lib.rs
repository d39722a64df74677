//! Rollouts of mixing trajectories on proxy models, and resumable collections of them
//! (DESIGN §1 point 2, §8): each trajectory is an idempotent task that writes one file
//! atomically, so collections run across processes or as a Slurm job array without a
//! scheduler of our own.

mod collection;
mod error;
mod rollout;
mod run_file;
mod steer;

pub use collection::{base_record, file_fingerprint, Collection, PlanFile, Status};
pub use error::RolloutError;
pub use rollout::{Outcome, StageEvent, Worker};
pub use run_file::RunFile;
pub use steer::{default_run_dir, run_steered, Span};
