//! The learned agent (Data Mixing Agent, arXiv 2507.15640) as a `MixingPolicy`: the frozen
//! policy artifact from `mixagent train-agent`, run by the dependency-free runtime of
//! `mixagent-policy`. It decides from the run's history alone, so it keeps no state.

use std::collections::BTreeSet;
use std::path::Path;

use mixagent_core::{CoreError, MixingPolicy, Mixture, PolicyInput};
use mixagent_policy::{History, Policy};

use crate::bad_state;

/// The agent, loaded from its artifact folder.
#[derive(Debug, Clone)]
pub struct AgentPolicy {
    policy: Policy,
    /// Fingerprint of the artifact's files (empty for a policy built in memory).
    fingerprint: String,
    /// Features already warned about as outside the training range (once each per run).
    warned: BTreeSet<String>,
}

impl AgentPolicy {
    /// Loads an artifact folder (`agent.json` + `policy.safetensors`).
    pub fn load(dir: &Path) -> Result<Self, CoreError> {
        let policy = Policy::load(dir).map_err(|e| bad_state("agent", e.to_string()))?;
        Ok(AgentPolicy { policy, fingerprint: fingerprint(dir)?, warned: BTreeSet::new() })
    }

    /// Wraps a policy already in memory.
    pub fn new(policy: Policy) -> Self {
        AgentPolicy { policy, fingerprint: String::new(), warned: BTreeSet::new() }
    }
}

/// The artifact's identity: a hash of its two files' bytes. Read without loading the network,
/// so a finished run's record can be checked against an artifact of a format this binary no
/// longer loads.
pub(crate) fn fingerprint(dir: &Path) -> Result<String, CoreError> {
    let mut bytes = Vec::new();
    for file in ["agent.json", "policy.safetensors"] {
        let path = dir.join(file);
        bytes.extend(std::fs::read(&path).map_err(|e| {
            bad_state(
                "agent",
                format!("{}: {e} (train one with `mixagent train-agent`)", path.display()),
            )
        })?);
    }
    Ok(mixagent_core::fnv64_hex(&bytes))
}

impl MixingPolicy for AgentPolicy {
    fn name(&self) -> String {
        "agent".into()
    }

    fn identity(&self) -> String {
        format!("agent {}", self.fingerprint)
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let domains = input.domains.to_vec();
        let history = History {
            domains: &domains,
            initial: input.initial,
            stages: input.history,
            total_stages: input.total_stages,
        };
        let decision =
            self.policy.decide_checked(&history).map_err(|e| bad_state("agent", e.to_string()))?;
        for o in decision.outside {
            if self.warned.insert(o.feature.clone()) {
                tracing::warn!(
                    "agent: feature `{}` of entry `{}` is {:+.1} standard deviations from its training data at stage {} (clipped to ±{}): this space or run lies outside what the agent was trained on; its decisions are extrapolations",
                    o.feature,
                    domains[o.token].name,
                    o.z,
                    input.history.len(),
                    self.policy.schema.features.clip
                );
            }
        }
        if let Some(s) = decision.scored {
            tracing::debug!(
                stage = input.history.len(),
                candidates = s.candidates,
                chosen = s.chosen,
                value = s.value,
                mean_value = s.mean_value,
                "agent: the critics chose a candidate"
            );
        }
        Mixture::new(input.space.clone(), decision.weights)
    }
}

#[cfg(test)]
mod tests {
    use mixagent_policy::{AgentSchema, NamedTensors, PolicyNet};

    use super::*;
    use crate::conformance::{fixture_input, Fixture};

    #[test]
    fn an_all_zero_network_gives_the_uniform_mixture() {
        // Every weight and bias 0: each block adds 0 to the (zero) embedding, the final
        // LayerNorm maps 0 to its bias 0, the head gives mean logit 0 for every domain, so the
        // mixture is floor/K + (1 − floor)/K = 1/K on the K-D fixture.
        let mut schema = AgentSchema::untrained(8, 2, 16, 1);
        schema.floor = 0.1;
        let zeros: NamedTensors = PolicyNet::tensor_shapes(&schema.net)
            .into_iter()
            .map(|(n, s)| {
                let len = s.iter().product();
                (n, (s, vec![0.0; len]))
            })
            .collect();
        let mut p = AgentPolicy::new(Policy::new(schema, &zeros).unwrap());
        let fx = Fixture::k_d();
        let m = p.next_mixture(&fixture_input(&fx, &[])).unwrap();
        for w in m.weights() {
            assert!((w - 1.0 / 6.0).abs() < 1e-12, "{:?}", m.weights());
        }
    }
}
