//! What the agent's integration tests share.

use std::collections::BTreeMap;

use mixagent_core::Observation;
use mixagent_trajectory::{
    BaseInfo, CollectConfig, Family, SpaceEntry, StageRow, Trajectory, TRAJECTORY_VERSION,
};

/// A toy trajectory over `space` (name, field): `rows` holds each stage's mixture and the
/// observation after it.
pub fn toy_trajectory(
    i: u64,
    space: &[(&str, &str)],
    fingerprint: &str,
    concentration: f64,
    config: &CollectConfig,
    initial: Observation,
    rows: Vec<(Vec<f64>, Observation)>,
) -> Trajectory {
    let stages = rows
        .into_iter()
        .enumerate()
        .map(|(stage, (weights, observation))| StageRow {
            stage,
            weights,
            tokens: 1,
            tokens_by_domain: BTreeMap::new(),
            train_loss: 1.0,
            observation,
            train_secs: 0.0,
            eval_secs: 0.0,
            train_precision: Default::default(),
            observe_precision: Default::default(),
        })
        .collect();
    Trajectory {
        format_version: TRAJECTORY_VERSION,
        branch: None,
        tilt: None,
        id: format!("t-{i:05}"),
        index: i,
        seed: i,
        family: Family::RandomWalk { sigma: 0.0, max_l1: 1.0 },
        concentration,
        space: space
            .iter()
            .map(|(n, f)| SpaceEntry { name: n.to_string(), field: f.to_string() })
            .collect(),
        space_fingerprint: fingerprint.into(),
        base: BaseInfo { checkpoint: "toy".into(), fingerprint: "0".repeat(16), params: 0 },
        suites: BTreeMap::new(),
        config: config.clone(),
        initial,
        stages,
    }
}
