//! [`Controller`]: a policy deciding stage by stage from feedback a trainer reports.

use std::sync::Arc;

use mixagent_core::{
    Domain, DomainInfo, DomainSpace, Field, MixingPolicy, Mixture, MixtureSpec, Observation,
    PolicyInput, StageOutcome,
};

use crate::{ControllerError, ControllerState, DomainEntry, StageRecord};

/// A mixing policy steering one run. The calls go
/// `observe(base)`, then per stage `next_mixture()`, train on it, `observe(feedback)`.
pub struct Controller {
    state: ControllerState,
    space: Arc<DomainSpace>,
    domains: Vec<DomainInfo>,
    policy: Box<dyn MixingPolicy>,
    history: Vec<StageOutcome>,
    /// Decisions the policy object has made: stage `k`'s decision saw `history[..k]`.
    decided: usize,
    /// The pending mixture as the policy made it: recorded as is when its stage is observed,
    /// so a live run's history holds exactly what was trained on (the named form in the
    /// state is re-normalised when read back, which may move a weight by an ulp).
    handed: Option<Mixture>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").field("state", &self.state).finish_non_exhaustive()
    }
}

impl Controller {
    /// A controller for a new run: `policy` as `mixagent cpt --policy` takes it, over
    /// `domains` (source field first), for `total_stages` stages.
    pub fn new(
        policy: &str,
        seed: u64,
        domains: Vec<DomainEntry>,
        total_stages: usize,
    ) -> Result<Self, ControllerError> {
        Self::from_state(ControllerState::new(policy, seed, domains, total_stages))
    }

    /// Rebuilds a controller from its state: checks every part, builds the policy and replays
    /// it over the recorded stages, so its next decision is the one the original would make.
    pub fn from_state(mut state: ControllerState) -> Result<Self, ControllerError> {
        let bad = |m: String| ControllerError::State(m);
        if state.total_stages == 0 {
            return Err(bad("`total_stages` is 0: plan at least one stage".into()));
        }
        if state.stages.len() > state.total_stages {
            return Err(bad(format!(
                "{} stages are recorded but `total_stages` is {}: raise `total_stages`",
                state.stages.len(),
                state.total_stages
            )));
        }
        let domains = state
            .domains
            .iter()
            .map(|d| {
                let field = Field::new(d.field.as_str())?;
                Domain::entry(d.name.as_str(), field)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("domains: {e}")))?;
        let space = Arc::new(DomainSpace::new(domains).map_err(|e| bad(format!("domains: {e}")))?);
        if space.fields().len() < 2 {
            return Err(bad(format!(
                "the domains cover only the field `{}`: a run mixes a source field (the first entry's) and at least one target field",
                space.fields()[0]
            )));
        }
        let domains = state.entry_info()?;
        let policy = mixagent_baselines::parse_policy(&state.policy, state.seed)?;
        let identity = policy.identity();
        if !state.policy_identity.is_empty() && state.policy_identity != identity {
            return Err(bad(format!(
                "the state was started with policy `{}` as `{}`, but it is now `{identity}` (its files changed): restore them, or start a new state",
                state.policy, state.policy_identity
            )));
        }
        state.policy_identity = identity;
        let fields: Vec<String> = space.fields().iter().map(|f| f.to_string()).collect();
        if let Some(initial) = &state.initial {
            check_observation(initial, &fields, "the initial observation")?;
        } else if !state.stages.is_empty() {
            return Err(bad(
                "stages are recorded but `initial` (the base model's observation) is missing: add it".into(),
            ));
        }
        let history = state
            .stages
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let mixture = Mixture::from_spec(space.clone(), &s.weights)
                    .map_err(|e| bad(format!("stage {k}'s weights: {e}")))?;
                check_observation(&s.observation, &fields, &format!("stage {k}'s observation"))?;
                Ok(StageOutcome { mixture, observation: s.observation.clone(), tokens: s.tokens })
            })
            .collect::<Result<Vec<_>, ControllerError>>()?;
        if let Some(p) = &state.pending {
            Mixture::from_spec(space.clone(), p)
                .map_err(|e| bad(format!("the pending mixture: {e}")))?;
        }
        let mut controller =
            Controller { state, space, domains, policy, history, decided: 0, handed: None };
        controller.catch_up()?;
        if controller.state.pending.is_some() {
            controller.decided += 1;
        }
        Ok(controller)
    }

    /// Has the policy decide every recorded stage it has not decided yet (a stage recorded
    /// with a mixture of the trainer's own still moves a stateful policy on).
    fn catch_up(&mut self) -> Result<(), ControllerError> {
        while self.decided < self.history.len() {
            self.decide(self.decided)?;
        }
        Ok(())
    }

    /// The first recorded stage whose mixture is not the one this policy chooses there (a
    /// weight more than 1e-9 away), replaying it over the history; `None` when it would have
    /// trained every recorded stage as recorded. What a run continued from another run's
    /// stages (a branch) must hold.
    pub fn first_departure(&self) -> Result<Option<usize>, ControllerError> {
        let mut replay = Controller::from_state(ControllerState {
            stages: Vec::new(),
            pending: None,
            ..self.state.clone()
        })?;
        for (k, recorded) in self.history.iter().enumerate() {
            let own = replay.decide(k)?;
            let same = own
                .weights()
                .iter()
                .zip(recorded.mixture.weights())
                .all(|(a, b)| (a - b).abs() <= 1e-9);
            if !same {
                return Ok(Some(k));
            }
            replay.history.push(recorded.clone());
        }
        Ok(None)
    }

    /// The policy's decision for stage `k`, given the stages before it.
    fn decide(&mut self, k: usize) -> Result<Mixture, ControllerError> {
        let initial = self.state.initial.as_ref().expect("checked by the callers");
        let input = PolicyInput {
            space: &self.space,
            domains: &self.domains,
            initial,
            history: &self.history[..k],
            total_stages: self.state.total_stages,
            steps_per_stage: self.state.steps_per_stage,
        };
        let mixture = self
            .policy
            .next_mixture(&input)
            .map_err(|e| ControllerError::Input(format!("stage {k}: {e}")))?;
        self.decided = k + 1;
        Ok(mixture)
    }

    /// Records an observation: the base model's before the first stage, then the model's
    /// after the stage whose mixture [`Controller::next_mixture`] handed out. `tokens` is the
    /// stage's training tokens (0 when not known).
    pub fn observe(
        &mut self,
        observation: Observation,
        tokens: u64,
    ) -> Result<(), ControllerError> {
        if self.state.initial.is_none() {
            check_observation(&observation, &self.fields(), "the initial observation")?;
            self.state.initial = Some(observation);
            return Ok(());
        }
        let Some(weights) = self.state.pending.clone() else {
            return Err(ControllerError::Input(format!(
                "no mixture is pending for stage {}: call next_mixture() before reporting a stage's feedback, or record() a stage trained on a mixture of your own",
                self.history.len()
            )));
        };
        let mixture = match self.handed.take() {
            Some(m) if m.to_spec() == weights => m,
            _ => self.mixture_of(&weights)?,
        };
        self.push(mixture, observation, tokens)
    }

    /// Records a stage trained on `weights` of the trainer's own choosing (it replaces any
    /// pending mixture).
    pub fn record(
        &mut self,
        weights: MixtureSpec,
        observation: Observation,
        tokens: u64,
    ) -> Result<(), ControllerError> {
        if self.state.initial.is_none() {
            return Err(ControllerError::Input(
                "no initial observation: observe() the base model before recording a stage".into(),
            ));
        }
        self.handed = None;
        let mixture = self.mixture_of(&weights)?;
        self.push(mixture, observation, tokens)
    }

    /// The next stage's weights, checked against the space.
    fn mixture_of(&self, weights: &MixtureSpec) -> Result<Mixture, ControllerError> {
        let k = self.history.len();
        Mixture::from_spec(self.space.clone(), weights)
            .map_err(|e| ControllerError::Input(format!("stage {k}'s weights: {e}")))
    }

    fn push(
        &mut self,
        mixture: Mixture,
        observation: Observation,
        tokens: u64,
    ) -> Result<(), ControllerError> {
        let k = self.history.len();
        if k >= self.state.total_stages {
            return Err(ControllerError::Input(format!(
                "all {} stages are recorded: the run is over",
                self.state.total_stages
            )));
        }
        check_observation(&observation, &self.fields(), &format!("stage {k}'s observation"))?;
        self.history.push(StageOutcome { mixture, observation: observation.clone(), tokens });
        self.state.stages.push(StageRecord {
            weights: self.history[k].mixture.to_spec(),
            observation,
            tokens,
        });
        self.state.pending = None;
        Ok(())
    }

    /// The mixture of the next stage. Asking again before its feedback is reported returns the
    /// same mixture.
    pub fn next_mixture(&mut self) -> Result<Mixture, ControllerError> {
        if self.state.initial.is_none() {
            return Err(ControllerError::Input(
                "no feedback yet: observe() the base model's feedback before the first stage"
                    .into(),
            ));
        }
        if let Some(p) = &self.state.pending {
            return Ok(Mixture::from_spec(self.space.clone(), p)?);
        }
        let k = self.history.len();
        if k >= self.state.total_stages {
            return Err(ControllerError::Input(format!(
                "all {} stages are done: there is no next mixture",
                self.state.total_stages
            )));
        }
        self.catch_up()?;
        let mixture = self.decide(k)?;
        self.state.pending = Some(mixture.to_spec());
        self.handed = Some(mixture.clone());
        Ok(mixture)
    }

    /// The state, to save between calls.
    pub fn state(&self) -> &ControllerState {
        &self.state
    }

    /// The policy's display name.
    pub fn policy_name(&self) -> String {
        self.policy.name()
    }

    /// The policy's own state now (for the record; the controller resumes by replay).
    pub fn policy_state(&self) -> serde_json::Value {
        self.policy.state()
    }

    /// Whether the policy's decisions depend on feedback (see `MixingPolicy::reads_feedback`).
    pub fn reads_feedback(&self) -> bool {
        self.policy.reads_feedback()
    }

    /// The space mixed over.
    pub fn space(&self) -> &Arc<DomainSpace> {
        &self.space
    }

    /// Index of the stage the next mixture is for.
    pub fn stage(&self) -> usize {
        self.history.len()
    }

    fn fields(&self) -> Vec<String> {
        self.space.fields().iter().map(|f| f.to_string()).collect()
    }
}

/// An observation must carry finite feedback for every field and finite held-out losses.
fn check_observation(
    obs: &Observation,
    fields: &[String],
    what: &str,
) -> Result<(), ControllerError> {
    for f in fields {
        match obs.feedback.get(f) {
            None => {
                return Err(ControllerError::Input(format!(
                    "{what} has no feedback for field `{f}`: report the feedback of every field of the space ({})",
                    fields.join(", ")
                )))
            }
            Some(v) if !v.is_finite() => {
                return Err(ControllerError::Input(format!(
                    "{what}: the feedback of field `{f}` is {v}; it must be a finite number (a mean log-probability)"
                )))
            }
            _ => {}
        }
    }
    for (d, v) in &obs.domain_loss {
        if !v.is_finite() {
            return Err(ControllerError::Input(format!(
                "{what}: the held-out loss of `{d}` is {v}; it must be finite"
            )));
        }
    }
    Ok(())
}

/// The answer of `mixagent next`: the next stage's mixture.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NextAnswer {
    /// Index of the stage the mixture is for.
    pub stage: usize,
    /// Stages planned in the run.
    pub total_stages: usize,
    /// The policy's display name.
    pub policy: String,
    /// Entry name → weight, every entry of the space.
    pub weights: MixtureSpec,
}

/// The next mixture for the recorded stages of `state` (a pending mixture is ignored: the
/// answer comes from the history alone). `origin` names the state in errors.
pub fn answer_next(
    mut state: ControllerState,
    origin: &str,
) -> Result<NextAnswer, ControllerError> {
    state.pending = None;
    let named = |e: ControllerError| match e {
        ControllerError::File(_) => e,
        other => ControllerError::State(format!("{origin}: {other}")),
    };
    let mut controller = Controller::from_state(state).map_err(named)?;
    let mixture = controller.next_mixture().map_err(named)?;
    Ok(NextAnswer {
        stage: controller.stage(),
        total_stages: controller.state.total_stages,
        policy: controller.policy_name(),
        weights: mixture.to_spec(),
    })
}
