//! Comparisons (DESIGN §1 point 6, issue 8): what a `compare` config asks for (a run config,
//! policies, seeds), and the paper-style summary of the finished steered runs: per policy the
//! mean over seeds, with 95% intervals, of the final feedback change of each field, of the
//! source and target averages and of the balanced score, and the tokens used per field.
//!
//! Pure Rust: it reads `run.json` files (`mixagent_trajectory::SteeredRun`).

mod config;
mod stats;
mod table;

pub use config::{policy_slug, CompareConfig, ReportError};
pub use stats::{mean_interval, student_t95};
pub use table::{summarise, PolicyRow, Table};
