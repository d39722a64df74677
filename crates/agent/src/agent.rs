//! From a trajectory set to a deployable policy: transitions, normalisation, warm-up and CQL,
//! then the artifact's schema (feature statistics, space requirements, reward, provenance)
//! and tensors, ready for `mixagent_policy::Policy::save`.

use mixagent_policy::{
    AgentSchema, NamedTensors, SpaceRequirements, ARTIFACT_VERSION, FEATURE_CLIP,
};
use mixagent_shard::Manifest;
use mixagent_trajectory::Trajectory;
use tch::Device;

use crate::{named_tensors, train, AgentConfig, AgentError, Dataset, TrainLog};

/// A trained agent, not yet written.
pub struct TrainedAgent {
    /// `agent.json`.
    pub schema: AgentSchema,
    /// `policy.safetensors`.
    pub tensors: NamedTensors,
    /// Loss curves.
    pub log: TrainLog,
    /// Features that were constant over the training data (deviation set to 1): a space
    /// that differs in them is read by their plain difference; worth a warning.
    pub constant_features: Vec<String>,
}

/// Trains an agent on `set` (finished trajectories over one space, collected on the corpus of
/// `manifest`). `progress(phase, step, total)` reports along the way.
pub fn train_agent(
    set: &[Trajectory],
    manifest: &Manifest,
    cfg: &AgentConfig,
    device: Device,
    progress: impl FnMut(&str, usize, usize),
) -> Result<TrainedAgent, AgentError> {
    let data = Dataset::build(set, manifest, &cfg.reward, &cfg.views, cfg.net.history, cfg.seed)?;
    let (features, constant_features) = data.normalisation(data.feature_names(), FEATURE_CLIP);
    let trained = train(&data, |v: &mut [f32]| features.normalise(v), cfg, device, progress)?;
    let mut tensors = named_tensors(&trained.policy)?;
    tensors.extend(trained.critics);
    let first = &set[0];
    let fields = first.fields();
    let net = data.net_config(&cfg.net);
    let mut bases: Vec<&str> = set.iter().map(|t| t.base.fingerprint.as_str()).collect();
    bases.sort_unstable();
    bases.dedup();
    let mean_final = data.final_scores.iter().sum::<f64>() / data.final_scores.len() as f64;
    let best_final = data.final_scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log = &trained.log;
    let mut decision = cfg.decision.clone();
    if cfg.views.share_band {
        decision.share_band = crate::dataset::share_band(set, &data.trees, &data.final_scores)?;
    }
    let schema = AgentSchema {
        format_version: ARTIFACT_VERSION,
        net,
        features,
        floor: cfg.floor,
        space: SpaceRequirements {
            trained_domains: data.collected_k,
            trained_source_field: fields[0].clone(),
            trained_target_fields: fields[1..].to_vec(),
            needs_source_and_target: true,
        },
        reward: cfg.reward.clone(),
        critics: trained.n_critics,
        decision,
        prior: data.prior.clone(),
        training: serde_json::json!({
            "config": cfg,
            "data": {
                "trajectories": set.len(),
                "stages": first.config.stages,
                "transitions": data.len(),
                "views_per_trajectory": data.views,
                "entries_per_view": data.blocks.iter().map(|b| b.k).collect::<Vec<_>>(),
                "constant_features": constant_features,
                "prior_runs": data.prior.runs,
                "space": first.space,
                "space_fingerprint": first.space_fingerprint,
                "base_fingerprints": bases,
                "corpus": first.config.corpus,
                "final_balanced_score": { "mean": mean_final, "best": best_final },
            },
            "reward_scale": log.reward_scale,
            "log": log,
        }),
    };
    Ok(TrainedAgent { schema, tensors, log: trained.log, constant_features })
}
