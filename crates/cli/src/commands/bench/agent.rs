//! `mixagent bench agent`: the wall time of `train-agent` (warm-up plus CQL) on a trajectory
//! set of a given shape. Without `--trajectories` the set is synthetic (random mixtures whose
//! feedback follows a noisy trade-off), which has the shapes of a real collection and costs the
//! same per step: the training cost depends on the domains, the batch and the steps, not on
//! what the numbers mean.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use mixagent_agent::{train_agent, AgentConfig};
use mixagent_core::Observation;
use mixagent_sampler::Corpus;
use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};
use mixagent_trajectory::{
    BaseInfo, CollectConfig, Family, SpaceEntry, StageRow, Trajectory, TRAJECTORY_VERSION,
};

/// Arguments of `bench agent`.
#[derive(clap::Args)]
pub struct AgentArgs {
    /// A real collection to train on instead of a synthetic set.
    #[arg(long)]
    trajectories: Option<PathBuf>,
    /// Synthetic set: trajectories.
    #[arg(long, default_value_t = 384)]
    count: usize,
    /// Synthetic set: stages per trajectory.
    #[arg(long, default_value_t = 20)]
    stages: usize,
    /// Synthetic set: domains (half general, half math).
    #[arg(long, default_value_t = 20)]
    domains: usize,
    /// Override an agent setting; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// libtorch threads [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `bench agent`.
pub fn agent(a: AgentArgs) -> anyhow::Result<()> {
    if let Some(n) = a.threads {
        tch::set_num_threads(n as i32);
    }
    tch::set_num_interop_threads(1);
    let cfg = AgentConfig::load(None, &a.overrides)?;
    let tmp = tempfile::tempdir()?;
    let (set, corpus) = match &a.trajectories {
        Some(dir) => {
            let set = mixagent_trajectory::read_collection(dir)?;
            anyhow::ensure!(!set.is_empty(), "{}: no finished trajectories", dir.display());
            let corpus = Corpus::open(&set[0].config.corpus)?;
            (set, corpus)
        }
        None => {
            anyhow::ensure!(
                a.domains >= 2 && a.count >= 2 && a.stages >= 1,
                "need >= 2 domains, >= 2 trajectories, >= 1 stage"
            );
            let domains: Vec<SyntheticDomain> = (0..a.domains)
                .map(|i| SyntheticDomain {
                    name: format!("d{i:02}"),
                    field: if i < a.domains / 2 { "general".into() } else { "math".into() },
                    tokens: 1000 + 200 * i,
                })
                .collect();
            write_synthetic_corpus(tmp.path(), &domains, 4096)?;
            let corpus = Corpus::open(tmp.path())?;
            (synthetic_set(&domains, a.count, a.stages, tmp.path())?, corpus)
        }
    };
    let first = &set[0];
    println!(
        "bench agent: {} trajectories x {} stages, {} domains ({}); warm-up {} + CQL {} + {} critic-only steps, batch {}, d_model {}, {} threads",
        set.len(),
        first.config.stages,
        first.space.len(),
        if a.trajectories.is_some() { "real" } else { "synthetic" },
        cfg.sft.steps,
        cfg.cql.steps,
        cfg.cql.critic_warmup,
        cfg.cql.batch_size,
        cfg.net.d_model,
        tch::get_num_threads()
    );
    let started = Instant::now();
    // When each phase last reported (the warm-up reports its last step as it ends).
    let mut phase_end: BTreeMap<String, f64> = BTreeMap::new();
    let progress = |phase: &str, _step: usize, _total: usize| {
        phase_end.insert(phase.to_string(), started.elapsed().as_secs_f64());
    };
    let agent = train_agent(&set, &corpus.manifest, &cfg, tch::Device::Cpu, progress)?;
    let total = started.elapsed().as_secs_f64();
    let params: usize = agent.tensors.values().map(|(_, v)| v.len()).sum();
    let cql_from = phase_end.get("warm-up").copied().unwrap_or(0.0);
    println!(
        "policy {params} parameters; {} transitions; data + warm-up {cql_from:.1} s, CQL {:.1} s, total {total:.1} s (goal for 384 x 20: <= 600 s)",
        set.iter().map(|t| t.stages.len()).sum::<usize>(),
        total - cql_from
    );
    Ok(())
}

/// Random mixtures with a noisy trade-off: the target share of a stage raises math feedback
/// and lowers general feedback; a domain's held-out loss falls with its weight.
fn synthetic_set(
    domains: &[SyntheticDomain],
    count: usize,
    stages: usize,
    corpus: &std::path::Path,
) -> anyhow::Result<Vec<Trajectory>> {
    let config_text = format!(
        r#"corpus = "{}"
base = "synthetic"
seed = 0
trajectories = {count}
stages = {stages}
stage_tokens = 4096
[space]
level = "domains"
fields = ["general", "math"]
[train]
batch_size = 8
seq_len = 64
peak_lr = 3e-3
min_lr_ratio = 0.1
warmup_steps = 2
[observe]
items_per_field = 16
heldout_windows = 1
heldout_seq_len = 64
seed = 0
batch_size = 16
"#,
        corpus.display()
    );
    let config: CollectConfig = toml::from_str(&config_text)?;
    let k = domains.len();
    let mut state = 0x5eed_u64;
    let mut uniform = move || {
        state = mixagent_core::seed::mix64(state);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let observation = |g: f64, m: f64, loss: &[f64]| Observation {
        feedback: [("general".into(), g), ("math".into(), m)].into(),
        domain_loss: domains.iter().zip(loss).map(|(d, &l)| (d.name.clone(), l)).collect(),
    };
    let mut set = Vec::with_capacity(count);
    for i in 0..count {
        let (mut g, mut m) = (-4.0, -8.0);
        let mut loss = vec![5.0; k];
        let initial = observation(g, m, &loss);
        let rows = (0..stages)
            .map(|stage| {
                let e: Vec<f64> = (0..k).map(|_| -uniform().ln()).collect();
                let sum: f64 = e.iter().sum();
                let w: Vec<f64> = e.iter().map(|x| x / sum).collect();
                let share: f64 = w[k / 2..].iter().sum();
                g -= 0.05 * share - 0.02 * (1.0 - share) + 0.01 * (uniform() - 0.5);
                m += 0.2 * share + 0.02 * (uniform() - 0.5);
                for (l, x) in loss.iter_mut().zip(&w) {
                    *l -= 0.1 * x;
                }
                StageRow {
                    stage,
                    weights: w,
                    tokens: 4096,
                    tokens_by_domain: BTreeMap::new(),
                    train_loss: 4.0,
                    observation: observation(g, m, &loss),
                    train_secs: 0.0,
                    eval_secs: 0.0,
                    train_precision: Default::default(),
                    observe_precision: Default::default(),
                }
            })
            .collect();
        set.push(Trajectory {
            format_version: TRAJECTORY_VERSION,
            branch: None,
            tilt: None,
            id: format!("t-{i:05}"),
            index: i as u64,
            seed: i as u64,
            family: Family::RandomWalk { sigma: 0.0, max_l1: 2.0 },
            concentration: 1.0,
            space: domains
                .iter()
                .map(|d| SpaceEntry { name: d.name.clone(), field: d.field.clone() })
                .collect(),
            space_fingerprint: "synthetic".into(),
            base: BaseInfo {
                checkpoint: "synthetic".into(),
                fingerprint: "0".repeat(16),
                params: 0,
            },
            suites: BTreeMap::new(),
            config: config.clone(),
            initial: initial.clone(),
            stages: rows,
        });
    }
    Ok(set)
}
