//! The learned agent (Data Mixing Agent, arXiv 2507.15640) as a `MixingPolicy`: the frozen
//! policy artifact from `mixagent train-agent`, run by the dependency-free runtime of
//! `mixagent-policy`. It decides from the run's history alone, so it keeps no state.

use std::path::Path;

use mixagent_core::{CoreError, MixingPolicy, Mixture, PolicyInput};
use mixagent_policy::{DomainInfo, History, Policy, StageView};

use crate::bad_state;

/// The agent, loaded from its artifact folder.
#[derive(Debug, Clone)]
pub struct AgentPolicy {
    policy: Policy,
}

impl AgentPolicy {
    /// Loads an artifact folder (`agent.json` + `policy.safetensors`).
    pub fn load(dir: &Path) -> Result<Self, CoreError> {
        let policy = Policy::load(dir).map_err(|e| bad_state("agent", e.to_string()))?;
        Ok(AgentPolicy { policy })
    }

    /// Wraps a policy already in memory.
    pub fn new(policy: Policy) -> Self {
        AgentPolicy { policy }
    }
}

impl MixingPolicy for AgentPolicy {
    fn name(&self) -> String {
        "agent".into()
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let domains: Vec<DomainInfo> = input
            .space
            .domains()
            .iter()
            .zip(input.share_in_field)
            .zip(input.members)
            .map(|((d, &share), members)| DomainInfo {
                name: d.name.clone(),
                field: d.field.as_str().to_string(),
                share_in_field: share,
                loss_domains: members.clone(),
            })
            .collect();
        let stages: Vec<StageView> = input
            .history
            .iter()
            .map(|s| StageView { weights: s.mixture.weights(), observation: &s.observation })
            .collect();
        let history = History {
            domains: &domains,
            initial: input.initial,
            stages: &stages,
            total_stages: input.total_stages,
        };
        let w = self.policy.decide(&history).map_err(|e| bad_state("agent", e.to_string()))?;
        Mixture::new(input.space.clone(), w)
    }

    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), CoreError> {
        if state.is_null() {
            Ok(())
        } else {
            Err(bad_state("agent", format!("keeps no state, got {state}")))
        }
    }
}
