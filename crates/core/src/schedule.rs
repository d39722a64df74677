//! Schedules: a sequence of stages, each a token budget trained under one mixture.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{CoreError, DomainSpace, Mixture, MixtureSpec};

/// One stage: `tokens` training tokens drawn from `mixture`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// Training tokens in this stage.
    pub tokens: u64,
    /// The mixture the stage samples from.
    pub mixture: Mixture,
}

/// A validated, non-empty list of stages over one space.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    stages: Vec<Stage>,
}

/// The file form of a stage (TOML or JSON): `tokens` and named `weights`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Training tokens in the stage.
    pub tokens: u64,
    /// Domain name → weight.
    pub weights: MixtureSpec,
}

/// The file form of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// The stages, in order.
    pub stages: Vec<StageSpec>,
}

impl Schedule {
    /// Builds a schedule; every stage must be over `space`-compatible mixtures and non-empty.
    pub fn new(stages: Vec<Stage>) -> Result<Self, CoreError> {
        let first = stages.first().ok_or_else(|| CoreError::InvalidSchedule("no stages".into()))?;
        let space = first.mixture.space().clone();
        for (i, s) in stages.iter().enumerate() {
            if s.tokens == 0 {
                return Err(CoreError::InvalidSchedule(format!("stage {i} has 0 tokens")));
            }
            s.mixture.check_space(&space)?;
        }
        Ok(Schedule { stages })
    }

    /// Resolves a file spec against a space (unknown domains and bad weights are errors that
    /// name the stage).
    pub fn from_spec(space: Arc<DomainSpace>, spec: &ScheduleSpec) -> Result<Self, CoreError> {
        let stages = spec
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mixture = Mixture::from_spec(space.clone(), &s.weights)
                    .map_err(|e| CoreError::InvalidSchedule(format!("stage {i}: {e}")))?;
                Ok(Stage { tokens: s.tokens, mixture })
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        Schedule::new(stages)
    }

    /// A single stage of `tokens` under `mixture`.
    pub fn constant(mixture: Mixture, tokens: u64) -> Result<Self, CoreError> {
        Schedule::new(vec![Stage { tokens, mixture }])
    }

    /// The stages.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Total tokens over all stages.
    pub fn total_tokens(&self) -> u64 {
        self.stages.iter().map(|s| s.tokens).sum()
    }

    /// The index of the stage that covers the `tokens_seen`-th token; past the end, the last.
    pub fn stage_index_at(&self, tokens_seen: u64) -> usize {
        let mut end = 0;
        for (i, s) in self.stages.iter().enumerate() {
            end += s.tokens;
            if tokens_seen < end {
                return i;
            }
        }
        self.stages.len() - 1
    }

    /// The file form.
    pub fn to_spec(&self) -> ScheduleSpec {
        ScheduleSpec {
            stages: self
                .stages
                .iter()
                .map(|s| StageSpec { tokens: s.tokens, weights: s.mixture.to_spec() })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Domain, Field};

    fn space() -> Arc<DomainSpace> {
        let g = Field::new("general").unwrap();
        let m = Field::new("math").unwrap();
        Arc::new(
            DomainSpace::new(vec![Domain::new("web", g).unwrap(), Domain::new("alg", m).unwrap()])
                .unwrap(),
        )
    }

    #[test]
    fn parses_toml_and_locates_stages() {
        let spec: ScheduleSpec = toml::from_str(
            "[[stages]]\ntokens = 100\nweights = { web = 0.9, alg = 0.1 }\n\
             [[stages]]\ntokens = 50\nweights = { alg = 1.0 }\n",
        )
        .unwrap();
        let s = Schedule::from_spec(space(), &spec).unwrap();
        assert_eq!(s.total_tokens(), 150);
        assert_eq!(s.stage_index_at(0), 0);
        assert_eq!(s.stage_index_at(99), 0);
        assert_eq!(s.stage_index_at(100), 1);
        assert_eq!(s.stage_index_at(10_000), 1);
        assert_eq!(Schedule::from_spec(space(), &s.to_spec()).unwrap(), s);
    }

    #[test]
    fn errors_name_the_stage() {
        let spec: ScheduleSpec = toml::from_str(
            "[[stages]]\ntokens = 100\nweights = { web = 1.0 }\n\
             [[stages]]\ntokens = 100\nweights = { nope = 1.0 }\n",
        )
        .unwrap();
        let e = Schedule::from_spec(space(), &spec).unwrap_err().to_string();
        assert!(e.contains("stage 1") && e.contains("nope"), "{e}");
        assert!(toml::from_str::<ScheduleSpec>(
            "[[stages]]\ntokens = 1\nweights = {}\nextra = 2\n"
        )
        .is_err());
    }
}
