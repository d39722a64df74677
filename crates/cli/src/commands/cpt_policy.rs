//! `mixagent cpt --policy SPEC --config RUN.toml`: continual pre-training steered stage by
//! stage by a mixing policy (the agent or a baseline) from the model's own feedback; resumable.
//! Per stage it logs the mixture's field shares, the feedback and the balanced score.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use mixagent_baselines::parse_policy;
use mixagent_core::balanced_score;
use mixagent_rollout::{default_run_dir, run_steered};
use mixagent_trajectory::CollectConfig;

use super::train::CptArgs;

/// Runs `cpt --policy`.
pub fn run(a: &CptArgs, spec: &str) -> anyhow::Result<()> {
    let device = a.runtime.apply();
    let config_path = a.config.as_ref().context("--policy needs --config")?;
    let mut overrides = a.overrides.clone();
    if device == mixagent_lm::Device::Cuda {
        overrides.push(format!("device=\"{device}\""));
    }
    let config = CollectConfig::load(config_path, &overrides)?;
    let mut policy = parse_policy(spec, config.seed)?;
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let out: PathBuf = a.out.clone().unwrap_or_else(|| default_run_dir(&stem, spec));
    eprintln!(
        "cpt: policy {} from {} for {} stages x {} tokens -> {}",
        policy.name(),
        config.base.display(),
        config.stages,
        config.stage_tokens,
        out.display()
    );
    let started = Instant::now();
    let fields: Vec<String> = config.space.fields.clone();
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let result = run_steered(&out, config.clone(), spec, policy.as_mut(), |row| {
        let feedback: Vec<String> =
            row.observation.feedback.iter().map(|(f, v)| format!("{f} {v:.4}")).collect();
        eprintln!(
            "stage {:>3}: {} ({:.0} s)",
            row.stage,
            feedback.join(", "),
            started.elapsed().as_secs_f64()
        );
    })?;
    println!("stage  {:>8}  {}  balanced", "target%", refs.join("  "));
    for row in &result.stages {
        let target = result.target_share(&row.weights);
        let feedback: Vec<String> = refs
            .iter()
            .map(|f| {
                format!("{:.4}", row.observation.feedback.get(*f).copied().unwrap_or(f64::NAN))
            })
            .collect();
        let s = balanced_score(&row.observation, &result.initial, &refs).unwrap_or(f64::NAN);
        println!("{:>5}  {:>8.1}  {}  {s:+.4}", row.stage, 100.0 * target, feedback.join("  "));
    }
    println!(
        "run written to {} (evaluate the model with `mixagent eval {}`)",
        out.display(),
        out.display()
    );
    Ok(())
}
