//! Training the mixing agent (DESIGN §1 point 4, §4): trajectories become transitions
//! (state tokens, action, reward, next state), then a supervised warm-up and Conservative
//! Q-Learning or Implicit Q-Learning; the result is the policy artifact that `mixagent_policy` runs without libtorch.

mod agent;
mod cql;
mod dataset;
mod error;
mod iql;
mod net;
mod train;

pub use agent::{train_agent, TrainedAgent};
pub use cql::{CqlConfig, CqlLosses, CriticTarget};
pub use dataset::{collection_share_band, domain_infos, Block, Dataset, PriorFrom, ViewConfig};
pub use error::AgentError;
pub use iql::{IqlConfig, IqlLosses};
pub use net::{named_tensors, CriticModel, PolicyModel, PolicyOut};
pub use train::{
    mean_action, train, AgentConfig, Algorithm, SftConfig, SftWeighting, TrainLog, Trained,
};
