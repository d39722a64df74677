//! Mixing trajectories, the agent's training data (DESIGN §1 point 2, §4, §8): the
//! heuristic-covering families that plan them, the collection config, the versioned
//! one-file-per-trajectory store, its CSV/JSONL exports and the plan's coverage report.
//!
//! Pure Rust: the rollouts that fill the store train models and live in `mixagent-rollout`.

mod config;
mod coverage;
mod error;
mod export;
mod family;
mod steered;
mod store;
mod tradeoff;

pub use config::{CollectConfig, StageTraining, COLLECT_CONFIG_VERSION};
pub use coverage::{coverage, Coverage, DomainCoverage};
pub use error::TrajectoryError;
pub use export::{export_csv, export_jsonl, stage_records, Cell, StageRecord};
pub use family::{
    dirichlet, sample_plan, trajectory_id, Branch, Family, FamilyConfig, PlannedTrajectory,
};
pub use steered::{FinalEval, SteeredRun, STEERED_RUN_VERSION};
pub use store::{
    list_trajectories, read_collection, space_fields, store_dir, target_share, BaseInfo,
    SpaceEntry, StageRow, Trajectory, TRAJECTORY_VERSION,
};
pub use tradeoff::{pearson, tradeoff, ShareBucket, Tradeoff};
