//! Per-entry held-out losses, and the reference losses that DBL and DoReMi measure excess loss
//! against.

use std::collections::BTreeMap;

use mixagent_core::{CoreError, Observation, PolicyInput};

use crate::bad_state;

/// Each entry's held-out loss in `obs`: the mean over its corpus domains that were measured.
pub fn entry_losses(
    policy: &str,
    input: &PolicyInput<'_>,
    obs: &Observation,
) -> Result<Vec<f64>, CoreError> {
    input
        .space
        .names()
        .zip(input.members)
        .map(|(name, members)| {
            let v: Vec<f64> = members.iter().filter_map(|d| obs.domain_loss.get(d)).copied().collect();
            if v.is_empty() {
                Err(bad_state(
                    policy,
                    format!("no held-out loss for `{name}`: observe per-domain losses (observe.heldout_windows > 0)"),
                ))
            } else {
                Ok(v.iter().sum::<f64>() / v.len() as f64)
            }
        })
        .collect()
}

/// Where reference losses come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// From the base model's own losses: a source entry should not rise above its start, a
    /// target entry should fall by `target_gain` (relative) below it.
    FromBase {
        /// Relative loss reduction aimed at on target entries (e.g. 0.2).
        target_gain: f64,
    },
    /// Given per entry or corpus domain (e.g. a reference model's measured losses).
    Given(BTreeMap<String, f64>),
}

impl Reference {
    /// The reference loss of every entry of `input`'s space.
    pub fn losses(&self, policy: &str, input: &PolicyInput<'_>) -> Result<Vec<f64>, CoreError> {
        match self {
            Reference::FromBase { target_gain } => {
                let base = entry_losses(policy, input, input.initial)?;
                let source = input.space.fields()[0].clone();
                Ok(input
                    .space
                    .domains()
                    .iter()
                    .zip(base)
                    .map(|(d, l)| if d.field == source { l } else { l * (1.0 - target_gain) })
                    .collect())
            }
            Reference::Given(map) => input
                .space
                .names()
                .zip(input.members)
                .map(|(name, members)| {
                    map.get(name)
                        .copied()
                        .or_else(|| {
                            let v: Vec<f64> =
                                members.iter().filter_map(|d| map.get(d)).copied().collect();
                            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                        })
                        .ok_or_else(|| bad_state(policy, format!("no reference loss for `{name}`")))
                })
                .collect(),
        }
    }
}
