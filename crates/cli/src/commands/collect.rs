//! `mixagent collect`: roll out a collection's trajectories, in this process or in `--workers`
//! child processes, optionally one `--shard i/N` slice of it (a Slurm job-array element).
//! Finished trajectories are skipped and partial ones resume from their last stage.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mixagent_rollout::{Collection, Outcome, Worker};
use mixagent_trajectory::{list_trajectories, CollectConfig, Trajectory};

use crate::children::{self, Job, Progress};

/// Arguments of `collect`.
#[derive(clap::Args)]
pub struct Args {
    /// The collection config (TOML), e.g. `experiments/collect-demo.toml`.
    #[arg(long)]
    config: PathBuf,
    /// Override a config value (`--set stages=4`, `--set train.peak_lr=2e-3`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Collection folder [default: `runs/CONFIG-STEM`, e.g. `runs/collect-demo`].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker processes on this machine (each trains one trajectory at a time).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Run only slice `i` of `N` (trajectories with index % N == i), e.g. `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Stop after this many trajectories finish in this call (for sizing and tests).
    #[arg(long)]
    max_trajectories: Option<usize>,
    /// Trajectories each worker trains together as one network with stacked weights, each on
    /// its own mixture and data order (issue 20): for a GPU, which one small proxy leaves
    /// mostly idle. On a CPU it is slower (BENCHMARKS.md, "Batched proxies in Rust"). The
    /// trajectories match their one-by-one rollouts to float rounding in float32 (to bfloat16's
    /// in bf16), not bit for bit, and depend on which trajectories a worker grouped.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// libtorch threads per worker [default: cores / workers].
    #[arg(long)]
    threads: Option<usize>,
    /// Tilt a share of the trajectories (`--set families.tilted=0.5`) toward the per-domain
    /// prior of the agent at AGENT (its `agent.json`): fills `families.tilt_evidence` with
    /// each of the space's domains' evidence for its own field.
    #[arg(long, value_name = "AGENT")]
    tilt_prior: Option<PathBuf>,
    /// Internal: this process is worker `i/N` of a parent `collect` (no progress bar).
    #[arg(long, hide = true)]
    worker_of: Option<String>,
}

/// Each of the collection space's domains' evidence for its own field in the prior of the agent
/// at `agent` (those the prior knows).
pub(crate) fn tilt_evidence(
    agent: &Path,
    config: &CollectConfig,
) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    let path = agent.join("agent.json");
    let text = std::fs::read(&path)
        .with_context(|| format!("--tilt-prior: reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("--tilt-prior: {} is not JSON", path.display()))?;
    if config.families.tilted <= 0.0 {
        bail!(
            "--tilt-prior tilts `families.tilted` of the trajectories, which is 0: add --set families.tilted=P (0 < P ≤ 1)"
        );
    }
    let prior: mixagent_policy::DomainPrior = match json.get("prior") {
        Some(p) => serde_json::from_value(p.clone())
            .with_context(|| format!("--tilt-prior: the prior in {}", path.display()))?,
        None => Default::default(),
    };
    let manifest = mixagent_shard::Manifest::load(&config.corpus)?;
    let space = config.space.resolve(&manifest.domain_space()?)?;
    let evidence: std::collections::BTreeMap<String, f64> = space
        .domains()
        .iter()
        .filter_map(|d| {
            let e = prior.evidence.get(d.name.as_str())?.get(d.field.as_str())?;
            Some((d.name.to_string(), *e))
        })
        .collect();
    if evidence.is_empty() {
        bail!(
            "--tilt-prior: the agent at {} holds no evidence for any domain of this space (an agent trained with views.prior = true, artifact version 6 or later, on a collection over these domains)",
            agent.display()
        );
    }
    Ok(evidence)
}

fn parse_slice(s: &str, what: &str) -> anyhow::Result<(usize, usize)> {
    let (i, n) = s.split_once('/').with_context(|| format!("{what} `{s}`: expected I/N"))?;
    let (i, n): (usize, usize) = (i.trim().parse()?, n.trim().parse()?);
    if n == 0 || i >= n {
        bail!("{what} `{s}`: need 0 ≤ I < N");
    }
    Ok((i, n))
}

/// Runs `collect`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let mut config = CollectConfig::load(&a.config, &a.overrides)?;
    if let Some(agent) = &a.tilt_prior {
        config.families.tilt_evidence = tilt_evidence(agent, &config)?;
    }
    let out = a.out.clone().unwrap_or_else(|| {
        let stem = a.config.file_stem().map(|s| s.to_string_lossy().into_owned());
        PathBuf::from("runs").join(stem.unwrap_or_else(|| "collect".into()))
    });
    let (shard, shards) = match &a.shard {
        Some(s) => parse_slice(s, "--shard")?,
        None => (0, 1),
    };
    if a.workers == 0 || a.batch == 0 {
        bail!("--workers and --batch must be ≥ 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = a.threads.unwrap_or((cores / a.workers).max(1));
    tch::set_num_threads(threads as i32);
    tch::set_num_interop_threads(1);
    let collection = Collection::open(&out, config)?;
    if let Some(w) = &a.worker_of {
        let (w, n) = parse_slice(w, "--worker-of")?;
        return work(&collection, shard, shards, Some((w, n)), a.max_trajectories, a.batch);
    }
    let todo = collection.unfinished(shard, shards);
    let cfg = &collection.config;
    eprintln!(
        "collect {}: {} trajectories × {} stages × {} tokens over {} domains; {} left in slice {}/{}; {} worker(s) × {} thread(s)",
        out.display(),
        collection.plan.len(),
        cfg.stages,
        cfg.steps_per_stage() * (cfg.train.batch_size * cfg.train.seq_len) as u64,
        collection.space.len(),
        todo.len(),
        shard,
        shards,
        a.workers,
        threads
    );
    let start = Instant::now();
    let done_before = collection.plan.len() - collection.unfinished(0, 1).len();
    if a.workers == 1 {
        work(&collection, shard, shards, None, a.max_trajectories, a.batch)?;
    } else {
        spawn_workers(&a, &out, &collection, threads)?;
    }
    summarise(&collection, done_before, start.elapsed().as_secs_f64())
}

/// Rolls out this process's share: the unfinished trajectories of the slice, skipping those
/// another process holds.
fn work(
    c: &Collection,
    shard: usize,
    shards: usize,
    worker_of: Option<(usize, usize)>,
    max: Option<usize>,
    batch: usize,
) -> anyhow::Result<()> {
    let todo = c.unfinished(shard, shards);
    let worker = Worker::new(c)?;
    let total = (todo.len() * c.config.stages) as u64;
    let bar = if worker_of.is_some() { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} stages  {msg}  [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let finished = std::cell::Cell::new(0);
    let on_stage = |e: mixagent_rollout::StageEvent<'_>| {
        bar.inc(1);
        let fb: Vec<String> =
            e.row.observation.feedback.iter().map(|(f, v)| format!("{f} {v:.3}")).collect();
        bar.set_message(format!("{} stage {}: {}", e.id, e.row.stage, fb.join(", ")));
        if bar.is_hidden() {
            tracing::info!(
                trajectory = e.id,
                stage = e.row.stage,
                feedback = fb.join(", "),
                "stage"
            );
        }
    };
    // Counts what an outcome did.
    let tally = |index: u64, outcome: &Outcome| match *outcome {
        Outcome::Finished { resumed_at, .. } => {
            finished.set(finished.get() + 1);
            bar.inc(resumed_at as u64);
            if resumed_at > 0 {
                tracing::info!(
                    trajectory = c.plan[index as usize].id,
                    stage = resumed_at,
                    "resumed"
                );
            }
        }
        Outcome::AlreadyDone | Outcome::Busy => bar.inc(c.config.stages as u64),
        Outcome::Waiting { .. } => {}
    };
    let run = |index: u64| -> anyhow::Result<Outcome> {
        let outcome = worker.run(index, on_stage)?;
        tally(index, &outcome);
        Ok(outcome)
    };
    let room = || max.is_none_or(|m| finished.get() < m);
    // Every worker walks the same list and takes what no other process has locked, `batch` at
    // a time; a branch whose parent has not reached its branch point waits for the end of the
    // list.
    let mut waiting = Vec::new();
    let mut rest = &todo[..];
    while !rest.is_empty() && room() {
        let n = max.map_or(batch, |m| batch.min(m - finished.get())).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let outcomes = if n == 1 {
            vec![worker.run(chunk[0], on_stage)?]
        } else {
            worker.run_batched(chunk, on_stage)?
        };
        for (&index, outcome) in chunk.iter().zip(outcomes) {
            tally(index, &outcome);
            if let Outcome::Waiting { parent } = outcome {
                waiting.push((index, parent));
            }
        }
    }
    // Then each waiting branch: its parent is rolled out here unless another process holds
    // it, and the branch follows; while another process holds it, wait and try again.
    while !waiting.is_empty() && room() {
        let mut still = Vec::new();
        for (index, parent) in waiting {
            let ready = !matches!(run(parent)?, Outcome::Busy);
            if !ready || matches!(run(index)?, Outcome::Waiting { .. }) {
                still.push((index, parent));
            }
        }
        if !still.is_empty() {
            std::thread::sleep(Duration::from_secs(2));
        }
        waiting = still;
    }
    bar.finish_and_clear();
    Ok(())
}

/// Starts `workers` child processes on the same slice and shows their joint progress.
fn spawn_workers(a: &Args, out: &Path, c: &Collection, threads: usize) -> anyhow::Result<()> {
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| logs.display().to_string())?;
    let jobs = (0..a.workers)
        .map(|w| {
            let mut args: Vec<OsString> =
                vec!["collect".into(), "--config".into(), (&a.config).into()];
            args.extend(["--out".into(), out.into()]);
            for o in &a.overrides {
                args.extend(["--set".into(), o.into()]);
            }
            if let Some(p) = &a.tilt_prior {
                args.extend(["--tilt-prior".into(), p.into()]);
            }
            if let Some(s) = &a.shard {
                args.extend(["--shard".into(), s.into()]);
            }
            if let Some(m) = a.max_trajectories {
                args.extend(["--max-trajectories".into(), m.to_string().into()]);
            }
            args.extend(["--batch".into(), a.batch.to_string().into()]);
            args.extend(["--threads".into(), threads.to_string().into()]);
            args.extend(["--worker-of".into(), format!("{w}/{}", a.workers).into()]);
            Job {
                label: format!("worker {w}"),
                log: logs.join(format!("worker-{w}.log")),
                commands: vec![args],
            }
        })
        .collect();
    let total = (c.plan.len() * c.config.stages) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} stages  {msg}  [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let mut running = a.workers;
    let (mut polled, mut logged) = (Instant::now(), Instant::now());
    let result = children::run_jobs(jobs, a.workers, |p| {
        if let Progress::Done { .. } = p {
            running -= 1;
        }
        // Counting stages reads the work folders: once a second is enough.
        if polled.elapsed() < Duration::from_secs(1) {
            return;
        }
        polled = Instant::now();
        let done = c.stages_done() as u64;
        bar.set_position(done);
        bar.set_message(format!("{running} worker(s) running"));
        // Without a terminal the bar is hidden: log a line a minute instead.
        if bar.is_hidden() && logged.elapsed() >= Duration::from_secs(60) {
            logged = Instant::now();
            tracing::info!(stages = done, total, "collect");
        }
    });
    bar.finish_and_clear();
    result
}

/// Prints what the collection holds and how fast this call went.
fn summarise(c: &Collection, done_before: usize, secs: f64) -> anyhow::Result<()> {
    let files = list_trajectories(&c.dir.join("trajectories"))?;
    let (mut train, mut eval, mut done) = (0.0, 0.0, 0);
    for f in &files {
        let t = Trajectory::read(f)?;
        done += 1;
        for r in t.own_stages() {
            train += r.train_secs;
            eval += r.eval_secs;
        }
    }
    let left = c.plan.len() - done;
    let now = done.saturating_sub(done_before);
    println!(
        "{done}/{} trajectories finished ({left} left) in {}; this call: {now} in {:.0} s ({:.0} trajectories/hour); evaluation takes {:.1}% of stage time",
        c.plan.len(),
        c.dir.join("trajectories").display(),
        secs,
        now as f64 * 3600.0 / secs.max(1e-9),
        100.0 * eval / (train + eval).max(1e-9)
    );
    Ok(())
}
