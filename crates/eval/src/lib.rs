//! The evaluation environment (DESIGN §1 point 3, §5): feedback suites (the agent's
//! observation: mean per-token log-probability of gold answers), per-domain held-out loss in
//! bits per byte, and the final benchmark suite (BIG-bench multiple choice and exact-match
//! generation).

pub mod bigbench;
mod error;

pub use error::EvalError;
