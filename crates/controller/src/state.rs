//! The controller's state file: the policy, the space, and the history of mixtures and feedback.
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "policy": "agent:runs/agent-demo",
//!   "seed": 0,
//!   "total_stages": 10,
//!   "domains": [
//!     {"name": "web", "field": "general", "tokens": 8000000000},
//!     {"name": "books", "field": "general", "tokens": 2000000000},
//!     {"name": "proofs", "field": "math", "tokens": 1000000000}
//!   ],
//!   "initial": {"feedback": {"general": -2.91, "math": -3.84}, "domain_loss": {}},
//!   "stages": [
//!     {"weights": {"web": 0.4, "books": 0.1, "proofs": 0.5}, "tokens": 1000000000,
//!      "observation": {"feedback": {"general": -2.95, "math": -3.41}, "domain_loss": {}}}
//!   ]
//! }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use mixagent_core::{DomainInfo, MixtureSpec, Observation};
use serde::{Deserialize, Serialize};

use crate::ControllerError;

/// Version of the state layout.
pub const STATE_VERSION: u32 = 1;

/// One entry of the space to mix over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainEntry {
    /// The entry's name (`[a-z0-9_-]+`): a dataset, a field in a field-level space, or
    /// datasets merged into one entry, joined with `+` (`a+b`, a re-grouped space).
    pub name: String,
    /// Its field; the first entry's field is the source field.
    pub field: String,
    /// Training tokens available in it. Each entry's share of its field's tokens is the
    /// natural mixture within the field that some policies (and the agent's features) use;
    /// give it for every entry or for none (then entries of a field count as equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Names whose held-out loss (`domain_loss` in an observation) stands for this entry;
    /// by default the entry's own name, or a group's members (`a+b`: `a` and `b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
}

/// One finished stage: the mixture trained on and the feedback measured after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRecord {
    /// Entry name → weight (entries left out weigh 0; the weights must sum to 1).
    pub weights: MixtureSpec,
    /// The model's observation after the stage.
    pub observation: Observation,
    /// Training tokens of the stage (0 when not reported).
    #[serde(default)]
    pub tokens: u64,
}

/// Everything the controller knows; see the module docs for the file form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerState {
    /// Layout version ([`STATE_VERSION`]).
    pub format_version: u32,
    /// The policy spec, as `mixagent cpt --policy` takes it (`agent:<artifact folder>`,
    /// `fixed:0.7`, `doremi`, ...). Relative paths are read from the working directory.
    pub policy: String,
    /// Seed of the policies that draw.
    #[serde(default)]
    pub seed: u64,
    /// What the policy's decisions depend on besides its inputs (an agent adds its artifact's
    /// fingerprint), recorded when the state was started; empty until then.
    #[serde(default)]
    pub policy_identity: String,
    /// Stages planned in the whole run.
    pub total_stages: usize,
    /// Optimizer steps per stage, for policies that emulate per-step algorithms (DoReMi).
    #[serde(default = "one")]
    pub steps_per_stage: u64,
    /// The space, source field's entries first.
    pub domains: Vec<DomainEntry>,
    /// The base model's observation, before the first stage (none until observed).
    #[serde(default)]
    pub initial: Option<Observation>,
    /// Finished stages, oldest first.
    #[serde(default)]
    pub stages: Vec<StageRecord>,
    /// The mixture handed out for the stage now training, recorded with the next observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<MixtureSpec>,
}

fn one() -> u64 {
    1
}

impl ControllerState {
    /// A fresh state: no observation yet.
    pub fn new(policy: &str, seed: u64, domains: Vec<DomainEntry>, total_stages: usize) -> Self {
        ControllerState {
            format_version: STATE_VERSION,
            policy: policy.to_string(),
            seed,
            policy_identity: String::new(),
            total_stages,
            steps_per_stage: 1,
            domains,
            initial: None,
            stages: Vec::new(),
            pending: None,
        }
    }

    /// Parses a state from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ControllerError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            format_version: Option<u32>,
        }
        let version = serde_json::from_str::<VersionOnly>(text)
            .map_err(|e| {
                ControllerError::State(format!(
                    "{origin}: not a controller state ({e}); see `mixagent next --help` for the format"
                ))
            })?
            .format_version;
        match version {
            Some(STATE_VERSION) => {}
            Some(v) => {
                return Err(ControllerError::State(format!(
                    "{origin}: state format version {v}, but this mixagent reads version {STATE_VERSION}: write it again with this version"
                )))
            }
            None => {
                return Err(ControllerError::State(format!(
                    "{origin}: no `format_version`; add \"format_version\": {STATE_VERSION}"
                )))
            }
        }
        serde_json::from_str(text).map_err(|e| {
            ControllerError::State(format!(
                "{origin}: {e}; see `mixagent next --help` for the format"
            ))
        })
    }

    /// Reads a state file.
    pub fn read(path: &Path) -> Result<Self, ControllerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ControllerError::io(path, e))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// The state as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a state serialises")
    }

    /// Writes the state atomically (a reader sees the old or the new file, never a torn one).
    pub fn write(&self, path: &Path) -> Result<(), ControllerError> {
        mixagent_shard::write_atomic(path, self.to_json().as_bytes()).map_err(|e| match e {
            // The io error stays (a full disk or a read-only folder gets its hint).
            mixagent_shard::ShardError::File(f) => ControllerError::File(f),
            other => ControllerError::State(other.to_string()),
        })
    }

    /// Each entry's share of its field's tokens, and the names whose loss stands for it.
    pub(crate) fn entry_info(&self) -> Result<Vec<DomainInfo>, ControllerError> {
        let given = self.domains.iter().filter(|d| d.tokens.is_some()).count();
        if given != 0 && given != self.domains.len() {
            let missing: Vec<&str> = self
                .domains
                .iter()
                .filter(|d| d.tokens.is_none())
                .map(|d| d.name.as_str())
                .collect();
            return Err(ControllerError::State(format!(
                "`tokens` is given for some domains but not for {}: give it for every domain or for none",
                missing.join(", ")
            )));
        }
        let mut field_total: BTreeMap<&str, f64> = BTreeMap::new();
        for d in &self.domains {
            *field_total.entry(&d.field).or_default() += d.tokens.map_or(1.0, |t| t as f64);
        }
        Ok(self
            .domains
            .iter()
            .map(|d| {
                let total = field_total[d.field.as_str()];
                DomainInfo {
                    name: d.name.clone(),
                    field: d.field.clone(),
                    share_in_field: if total > 0.0 {
                        d.tokens.map_or(1.0, |t| t as f64) / total
                    } else {
                        0.0
                    },
                    members: d.members.clone().unwrap_or_else(|| {
                        d.name.split(mixagent_core::GROUP_SEPARATOR).map(String::from).collect()
                    }),
                }
            })
            .collect())
    }
}
