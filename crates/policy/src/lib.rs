//! The agent's view of a continual pre-training run, without libtorch (DESIGN §3, §4): the
//! state features it reads (one token per domain, so the same weights steer any number of
//! domains), and the transitions and rewards it learns from. The tch trainer and the
//! dependency-free inference runtime both encode states here, so they cannot drift apart.

mod artifact;
mod error;
mod features;
mod net;
mod prior;
mod reward;

pub use artifact::{
    critic_prefix, pessimistic, read_f32_tensors, share_band, share_step, tilt_within,
    trust_region, with_target_share, write_f32_tensors, AgentSchema, Decision, DecisionConfig,
    FeatureSpec, OutOfRange, Policy, Scored, SpaceRequirements, ARTIFACT_VERSION,
    DEFAULT_HISTORY_WIDTH, FEATURE_CLIP, HISTORY_WINDOW,
};
pub use error::PolicyError;
pub use features::{
    encode, encode_with_prior, feature_names, DomainInfo, History, StageOutcome, StateTokens,
    DOMAIN_FEATURES, GLOBAL_FEATURES, HISTORY_FEATURES,
};
pub use net::{
    mixture_from_logits, CriticNet, NamedTensors, NetConfig, PolicyNet, PolicyOutput, LN_EPS,
    LOG_STD_RANGE,
};
pub use prior::{DomainPrior, PriorBuilder, RegressionPriorBuilder};
pub use reward::RewardConfig;
