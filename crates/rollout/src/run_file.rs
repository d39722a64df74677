//! A run folder's `run.json`, read one way. `mixagent pretrain` and `cpt` on a fixed schedule
//! write a training run's settings ([`RunSpec`]); `cpt --policy` and `compare` write a
//! steered run ([`SteeredRun`]: the policy, the run config and every finished stage). Both are
//! versioned; this is the one place that tells them apart, by the steered run's `policy` key.

use std::path::Path;

use mixagent_lm::RunSpec;
use mixagent_trajectory::SteeredRun;

use crate::RolloutError;

/// What a `run.json` holds.
#[derive(Debug, Clone)]
pub enum RunFile {
    /// A run trained on a schedule (`pretrain`, `cpt --schedule`).
    Training(Box<RunSpec>),
    /// A run steered by a policy stage by stage (`cpt --policy`, `compare`).
    Steered(Box<SteeredRun>),
}

impl RunFile {
    /// Reads `path`, checking the format version of whichever it is.
    pub fn read(path: &Path) -> Result<Self, RolloutError> {
        let text = std::fs::read_to_string(path).map_err(|e| RolloutError::io(path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            RolloutError::collection(path, format!("{e}: not a run of mixagent, or truncated"))
        })?;
        if value.get("policy").is_some() {
            Ok(RunFile::Steered(Box::new(SteeredRun::read(path)?)))
        } else {
            Ok(RunFile::Training(Box::new(RunSpec::read(path)?)))
        }
    }

    /// The prepared corpus the run trained on.
    pub fn corpus(&self) -> &Path {
        match self {
            RunFile::Training(spec) => &spec.corpus,
            RunFile::Steered(run) => &run.config.corpus,
        }
    }
}
