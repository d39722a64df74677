//! Per-entry held-out losses, and the reference losses that DBL and DoReMi measure excess loss
//! against.

use std::collections::BTreeMap;

use mixagent_core::{CoreError, Observation, PolicyInput};

use crate::bad_state;

/// Each entry's held-out loss in `obs`: the mean over its corpus domains that were measured;
/// `None` for an entry with no held-out data (the policies leave its weight to the others'
/// moves). An observation without any per-domain loss is an error.
pub fn entry_losses(
    policy: &str,
    input: &PolicyInput<'_>,
    obs: &Observation,
) -> Result<Vec<Option<f64>>, CoreError> {
    let losses: Vec<Option<f64>> = input
        .domains
        .iter()
        .map(|info| {
            let v: Vec<f64> =
                info.members.iter().filter_map(|d| obs.domain_loss.get(d)).copied().collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    if losses.iter().all(Option::is_none) {
        return Err(bad_state(
            policy,
            "no held-out loss for any entry of the space: observe per-domain losses (observe.heldout_windows > 0)",
        ));
    }
    Ok(losses)
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
                    .map(|(d, l)| {
                        // An entry without held-out data gets no excess loss (see `excess_update`).
                        let l = l.unwrap_or(f64::INFINITY);
                        if d.field == source {
                            l
                        } else {
                            l * (1.0 - target_gain)
                        }
                    })
                    .collect())
            }
            Reference::Given(map) => input
                .space
                .names()
                .zip(input.domains)
                .map(|(name, info)| {
                    map.get(name)
                        .copied()
                        .or_else(|| {
                            let v: Vec<f64> =
                                info.members.iter().filter_map(|d| map.get(d)).copied().collect();
                            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                        })
                        .ok_or_else(|| bad_state(policy, format!("no reference loss for `{name}`")))
                })
                .collect(),
        }
    }
}
