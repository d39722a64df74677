//! One module per subcommand.

pub mod bench;
pub mod bench_agent;
pub mod bench_eval;
pub mod bench_train;
pub mod collect;
pub mod compare;
pub mod corpus;
pub mod cpt_policy;
pub mod demo;
pub mod eval;
pub mod export;
pub mod headroom;
pub mod next;
pub mod preflight;
pub mod prepare;
pub mod schedule;
pub mod train;
pub mod train_agent;
pub mod trajectories;
