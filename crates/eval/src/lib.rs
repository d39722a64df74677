//! The evaluation environment (DESIGN §1 point 3, §5): feedback suites (the agent's
//! observation: mean per-token log-probability of gold answers), per-domain held-out loss in
//! bits per byte, and the final benchmark suite (BIG-bench multiple choice and exact-match
//! generation).

pub mod bigbench;
mod error;
pub mod living;
mod observe;
mod report;
mod score;
mod suites;

pub use error::EvalError;
pub use mixagent_core::ObserveConfig;
pub use observe::Observer;
pub use report::{
    evaluate, feedback, DomainLoss, EvalOptions, EvalReport, FeedbackScore, TaskScore,
    BENCHMARK_FIELDS, GENERAL_TASKS, MATH_TASKS,
};
pub use score::{mean_loss, HeldoutBatches, Prepared, Scored, Scorer};
pub use suites::{build_suite, Item, Suite};
