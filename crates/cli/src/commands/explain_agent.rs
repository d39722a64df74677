//! `mixagent explain-agent --agent DIR RUN`: what an agent's critics think of the
//! source/target split at every stage of a run. For the state before each stage of `RUN` (a
//! steered `run.json` or a collected trajectory file), it prints the agent's decision and the
//! critics' pessimistic value of that decision moved to each target share of a grid (each
//! field's weights keeping the decision's proportions), so a drift to a corner can be read off
//! as the critics' preference rather than guessed at. Values are in the critics' units (rewards
//! divided by their standard deviation over the training data when `normalise_rewards`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mixagent_core::{balanced_score, DomainInfo, Observation};
use mixagent_policy::{pessimistic, with_target_share, History, Policy, StageOutcome};
use mixagent_sampler::Corpus;
use mixagent_trajectory::{target_share, SpaceEntry, StageRow, SteeredRun, Trajectory};
use serde::Serialize;

/// `mixagent explain-agent`.
#[derive(clap::Args)]
pub struct Args {
    /// The agent artifact folder (from `mixagent train-agent`; it needs critics).
    #[arg(long)]
    pub agent: PathBuf,
    /// A steered run's `run.json` (from `mixagent cpt` or `compare`) or a trajectory file.
    pub run: PathBuf,
    /// The corpus the run's space was built on [default: the run config's].
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Target shares read, evenly spaced strictly inside (0, 1).
    #[arg(long, default_value_t = 9)]
    pub shares: usize,
    /// Also write the table as JSON here (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One stage of the explanation.
#[derive(Debug, Serialize)]
pub struct StageExplained {
    /// Stage index (the state is the one before it).
    pub stage: usize,
    /// The run's own target share at this stage.
    pub run_share: f64,
    /// The agent's decided target share.
    pub agent_share: f64,
    /// The shares read.
    pub shares: Vec<f64>,
    /// Pessimistic value (critics' mean − κ·sd) of the decision moved to each share.
    pub value: Vec<f64>,
    /// The share of the largest value.
    pub best_share: f64,
    /// The run's balanced score after its last stage minus before this one (its realised
    /// return-to-go with γ = 1, in score units).
    pub realised_to_go: f64,
}

/// The run's parts the explanation reads.
struct RunParts {
    corpus: PathBuf,
    space: Vec<SpaceEntry>,
    initial: Observation,
    stages: Vec<StageRow>,
    total_stages: usize,
}

fn read_run(path: &Path) -> anyhow::Result<RunParts> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!("{}: not JSON (give a run.json or a trajectory file)", path.display())
    })?;
    if v.get("policy").is_some() {
        let r = SteeredRun::read(path)?;
        Ok(RunParts {
            corpus: r.config.corpus,
            space: r.space,
            initial: r.initial,
            stages: r.stages,
            total_stages: r.config.stages,
        })
    } else {
        let t = Trajectory::read(path)?;
        Ok(RunParts {
            corpus: t.config.corpus,
            space: t.space,
            initial: t.initial,
            stages: t.stages,
            total_stages: t.config.stages,
        })
    }
}

/// Runs `explain-agent`.
pub fn run(a: Args) -> anyhow::Result<()> {
    if a.shares < 2 {
        bail!("--shares {} must be at least 2", a.shares);
    }
    let policy = Policy::load(&a.agent)?;
    if policy.schema.critics == 0 {
        bail!(
            "{}: this agent has no critics to explain (trained with the warm-up alone): retrain it with cql.steps or iql.steps > 0",
            a.agent.display()
        );
    }
    let run = read_run(&a.run)?;
    if run.stages.is_empty() {
        bail!("{}: no finished stage to explain", a.run.display());
    }
    let corpus_dir = a.corpus.clone().unwrap_or(run.corpus.clone());
    let corpus = Corpus::open(&corpus_dir)
        .with_context(|| format!("the corpus of {} (give it with --corpus)", a.run.display()))?;
    let domains = corpus
        .manifest
        .domain_infos(run.space.iter().map(|e| (e.name.as_str(), e.field.as_str())))
        .with_context(|| {
            format!("{}: its space is not in {}", a.run.display(), corpus_dir.display())
        })?;
    let rows = explain(&policy, &domains, &run, a.shares)?;
    print_table(&rows);
    if let Some(out) = &a.json {
        let json = serde_json::to_string_pretty(&rows).expect("json");
        mixagent_shard::write_atomic(out, json.as_bytes())?;
    }
    Ok(())
}

/// The explanation of every stage of `run`.
fn explain(
    policy: &Policy,
    domains: &[DomainInfo],
    run: &RunParts,
    n_shares: usize,
) -> anyhow::Result<Vec<StageExplained>> {
    let stages = run
        .stages
        .iter()
        .map(|r| StageOutcome::over(domains, r.weights.clone(), r.observation.clone(), r.tokens))
        .collect::<Result<Vec<_>, _>>()?;
    let fields: Vec<String> = mixagent_trajectory::space_fields(&run.space);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let score = |o: &Observation| balanced_score(o, &run.initial, &refs);
    let last = score(&stages.last().expect("a stage").observation)?;
    let shares: Vec<f64> = (1..=n_shares).map(|i| i as f64 / (n_shares + 1) as f64).collect();
    let kappa = policy.schema.decision.pessimism;
    let mut out = Vec::with_capacity(stages.len());
    for n in 0..stages.len() {
        let history = History {
            domains,
            initial: &run.initial,
            stages: &stages[..n],
            total_stages: run.total_stages,
        };
        let is_target = history.is_target();
        let share_of = |w: &[f64]| target_share(&run.space, w);
        let decided = policy.decide_checked(&history)?.weights;
        let candidates: Vec<Vec<f64>> =
            shares.iter().map(|&s| with_target_share(&decided, &is_target, s)).collect();
        let value: Vec<f64> = policy
            .critic_values(&history, &candidates)?
            .iter()
            .map(|q| pessimistic(q, kappa))
            .collect();
        let best = (1..value.len()).fold(0, |b, i| if value[i] > value[b] { i } else { b });
        let before = if n == 0 { 0.0 } else { score(&stages[n - 1].observation)? };
        out.push(StageExplained {
            stage: n,
            run_share: share_of(&run.stages[n].weights),
            agent_share: share_of(&decided),
            shares: shares.clone(),
            value,
            best_share: shares[best],
            realised_to_go: last - before,
        });
    }
    Ok(out)
}

fn print_table(rows: &[StageExplained]) {
    let Some(first) = rows.first() else { return };
    let mut head =
        format!("{:>5} {:>6} {:>6} {:>6} {:>8}", "stage", "run", "agent", "best", "to-go");
    for s in &first.shares {
        head.push_str(&format!(" {:>7}", format!("Q({s:.2})")));
    }
    println!("{head}");
    for r in rows {
        let mut line = format!(
            "{:>5} {:>6.2} {:>6.2} {:>6.2} {:>+8.4}",
            r.stage, r.run_share, r.agent_share, r.best_share, r.realised_to_go
        );
        for v in &r.value {
            line.push_str(&format!(" {v:>+7.3}"));
        }
        println!("{line}");
    }
    println!(
        "run/agent/best: target shares of the run, of the agent's decision, and of the largest pessimistic value Q(share) (critics' mean − κ·sd, the decision moved to that share); to-go: the run's final balanced score minus before the stage"
    );
}
