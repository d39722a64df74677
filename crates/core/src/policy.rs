//! The role every mixing policy plays (DESIGN §7): between stages, read the model's feedback so
//! far and choose the next stage's mixture. The learned agent and every baseline implement
//! [`MixingPolicy`]; `mixagent cpt --policy` and the comparisons drive them all the same way.

use std::sync::Arc;

use crate::{CoreError, DomainSpace, Mixture, Observation};

/// One finished stage, as a policy sees it afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct StageOutcome {
    /// The mixture the stage trained on.
    pub mixture: Mixture,
    /// The model's observation after it.
    pub observation: Observation,
    /// Training tokens of the stage.
    pub tokens: u64,
}

impl StageOutcome {
    /// A stage over the space of `domains`, from weights in their order.
    pub fn over(
        domains: &[DomainInfo],
        weights: Vec<f64>,
        observation: Observation,
        tokens: u64,
    ) -> Result<Self, CoreError> {
        let mixture = Mixture::new(DomainInfo::space_of(domains)?, weights)?;
        Ok(StageOutcome { mixture, observation, tokens })
    }
}

/// What a policy may read before choosing the next mixture.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// The space to mix over (the source field's entries first).
    pub space: &'a Arc<DomainSpace>,
    /// What is known of each entry, in the space's order: its share of its field's tokens
    /// and the corpus domains it stands for.
    pub domains: &'a [DomainInfo],
    /// The observation of the model before the first stage.
    pub initial: &'a Observation,
    /// Finished stages, oldest first.
    pub history: &'a [StageOutcome],
    /// Stages in the whole run.
    pub total_stages: usize,
    /// Optimizer steps per stage (for policies that emulate per-step algorithms).
    pub steps_per_stage: u64,
}

impl PolicyInput<'_> {
    /// The observation after the last finished stage (the initial one before any).
    pub fn latest(&self) -> &Observation {
        self.history.last().map_or(self.initial, |s| &s.observation)
    }

    /// Index of the stage about to be chosen.
    pub fn stage(&self) -> usize {
        self.history.len()
    }
}

/// A mixing policy: deterministic given its seed and inputs, and resumable from its state.
pub trait MixingPolicy {
    /// A short name for tables and logs (`fixed-0.7`, `doremi`, `agent`).
    fn name(&self) -> String;

    /// What the policy's decisions depend on besides its inputs and state: by default its
    /// name; a policy built from files (an agent artifact, RegMix's proxy runs) adds their
    /// fingerprint, so a run resumed or reused with changed files is noticed.
    fn identity(&self) -> String {
        self.name()
    }

    /// Whether its decisions depend on the model's feedback. A policy that does not (a fixed
    /// ratio, RegMix's one static mixture) has a whole schedule before training starts, so it
    /// can be exported to a trainer's config; the conformance harness checks the claim.
    fn reads_feedback(&self) -> bool {
        true
    }

    /// The mixture of the next stage.
    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError>;

    /// Everything the policy carries between stages, for a checkpoint. The default is for
    /// policies that decide from their inputs alone: nothing (`null`).
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Restores what [`MixingPolicy::state`] saved; the next decision is then the one the
    /// saved policy would have made. The default accepts only the stateless `null`. (A
    /// stateful policy that forgot to override both fails the conformance harness.)
    fn restore(&mut self, state: serde_json::Value) -> Result<(), CoreError> {
        if state.is_null() {
            Ok(())
        } else {
            Err(CoreError::Policy {
                policy: self.name(),
                message: format!("keeps no state, got {state}: was it saved by another policy?"),
            })
        }
    }
}

/// FNV-1a 64 of `bytes`, as 16 hex digits: a cheap fingerprint for policy identities.
pub fn fnv64_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// One entry of a domain space as policies and the agent see it. Built once: from the corpus
/// manifest (`Manifest::domain_infos`), or from what a trainer declares (the controller).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    /// Entry name (a corpus domain, a group of them, or a field in a field-level space).
    pub name: String,
    /// Its field.
    pub field: String,
    /// Its share of its field's training tokens (1 for a field-level entry): the natural
    /// mixture within a field, for policies that set field shares only.
    pub share_in_field: f64,
    /// The corpus domains whose held-out loss stands for this entry (itself, or a group's or
    /// a field's domains); their relative changes are averaged.
    pub members: Vec<String>,
}

impl DomainInfo {
    /// The domain space of `infos`, in their order (names and fields validated).
    pub fn space_of(infos: &[DomainInfo]) -> Result<Arc<DomainSpace>, CoreError> {
        let domains = infos
            .iter()
            .map(|d| crate::Domain::entry(&d.name, crate::Field::new(&d.field)?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(DomainSpace::new(domains)?))
    }
}

/// Spreads each field's share over its entries in proportion to `share_in_field`.
/// `field_share(field_index)` gives the share of the space's `i`-th field (source first).
pub fn spread_over_fields(
    input: &PolicyInput<'_>,
    field_share: impl Fn(usize) -> f64,
) -> Result<Mixture, CoreError> {
    let fields = input.space.fields();
    let weights: Vec<f64> = input
        .space
        .domains()
        .iter()
        .zip(input.domains)
        .map(|(d, info)| {
            let s = info.share_in_field;
            let f = fields.iter().position(|x| x == &d.field).expect("a field of the space");
            let total: f64 = input
                .space
                .domains()
                .iter()
                .zip(input.domains)
                .filter(|(e, _)| e.field == d.field)
                .map(|(_, x)| x.share_in_field)
                .sum();
            field_share(f) * if total > 0.0 { s / total } else { 0.0 }
        })
        .collect();
    Mixture::from_unnormalised(input.space.clone(), weights)
}
