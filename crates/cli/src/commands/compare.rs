//! `mixagent compare --config experiments/compare-*.toml`: every policy steers the same CPT
//! run once per seed (`cpt --policy` child processes, `--workers` at a time, each resumable;
//! finished runs are kept), then one table: per policy the mean over seeds, with 95%
//! intervals, of each field's feedback change, the source and target averages and the
//! balanced score, the mean target share and the tokens per field.
//!
//! ```text
//! <out>/runs/<policy>/seed-<s>/   each steered run (run.json, checkpoints)
//! <out>/logs/<policy>-seed-<s>.log
//! <out>/table.md, <out>/table.json
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mixagent_report::{policy_slug, summarise, CompareConfig};
use mixagent_shard::write_atomic;
use mixagent_trajectory::SteeredRun;

/// Arguments of `compare`.
#[derive(clap::Args)]
pub struct Args {
    /// The comparison (TOML: `run`, `set`, `seeds`, `policies`).
    #[arg(long)]
    config: PathBuf,
    /// Output folder [default: runs/CONFIG-STEM].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs at a time (each a child process).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// libtorch threads per run [default: cores / workers].
    #[arg(long)]
    threads: Option<usize>,
}

struct Job {
    policy: String,
    seed: u64,
    dir: PathBuf,
    log: PathBuf,
}

/// Runs `compare`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = CompareConfig::load(&a.config)?;
    let stem = a.config.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&stem));
    std::fs::create_dir_all(out.join("logs")).with_context(|| format!("{}", out.display()))?;
    let jobs: Vec<Job> = cfg
        .policies
        .iter()
        .flat_map(|p| {
            let slug = policy_slug(p);
            let out = &out;
            cfg.seeds.iter().map(move |&s| Job {
                policy: p.clone(),
                seed: s,
                dir: out.join("runs").join(&slug).join(format!("seed-{s}")),
                log: out.join("logs").join(format!("{slug}-seed-{s}.log")),
            })
        })
        .collect();
    // A finished run steered by other files under the same spec (a retrained agent, a grown
    // collection) would silently mix into the table: refuse it.
    // (A policy's identity does not depend on the seed: build each one once.)
    let mut identities = std::collections::BTreeMap::new();
    let mut stale = Vec::new();
    for j in &jobs {
        if let Ok(run) = SteeredRun::read(&j.dir.join("run.json")) {
            if !identities.contains_key(&j.policy) {
                let id = mixagent_baselines::parse_policy(&j.policy, j.seed)?.identity();
                identities.insert(j.policy.clone(), id);
            }
            let now = &identities[&j.policy];
            if !run.policy_identity.is_empty() && &run.policy_identity != now {
                stale.push(format!(
                    "{} ({} then, {now} now)",
                    j.dir.display(),
                    run.policy_identity
                ));
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "these runs were steered by other files under the same policy spec; delete them to rerun:\n  {}",
            stale.join("\n  ")
        );
    }
    let pending: Vec<&Job> = jobs.iter().filter(|j| !finished(&j.dir)).collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = a.workers.max(1);
    let threads = a.threads.unwrap_or((cores / workers).max(1));
    eprintln!(
        "compare: {} policies x {} seeds = {} runs ({} to do), {workers} at a time x {threads} thread(s) -> {}",
        cfg.policies.len(),
        cfg.seeds.len(),
        jobs.len(),
        pending.len(),
        out.display()
    );
    let started = Instant::now();
    let mut queue = pending.into_iter();
    let mut running: Vec<(&Job, Child)> = Vec::new();
    let mut done = 0usize;
    let mut failed = Vec::new();
    loop {
        while running.len() < workers {
            let Some(job) = queue.next() else { break };
            running.push((job, spawn(job, &cfg, threads)?));
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        let mut still = Vec::new();
        for (job, mut child) in running {
            match child.try_wait()? {
                None => still.push((job, child)),
                Some(status) => {
                    done += 1;
                    if status.success() {
                        eprintln!(
                            "  {} seed {} done ({done} this call, {:.0} s)",
                            job.policy,
                            job.seed,
                            started.elapsed().as_secs_f64()
                        );
                    } else {
                        failed.push(format!(
                            "{} seed {}: {status}; see {}",
                            job.policy,
                            job.seed,
                            job.log.display()
                        ));
                    }
                }
            }
        }
        running = still;
    }
    if !failed.is_empty() {
        bail!("{} run(s) failed:\n  {}", failed.len(), failed.join("\n  "));
    }
    let mut groups = Vec::new();
    for p in &cfg.policies {
        let runs = jobs
            .iter()
            .filter(|j| &j.policy == p)
            .map(|j| SteeredRun::read(&j.dir.join("run.json")))
            .collect::<Result<Vec<_>, _>>()?;
        groups.push((p.clone(), runs));
    }
    let table = summarise(&groups);
    let md = table.to_markdown();
    write_atomic(out.join("table.md"), md.as_bytes())?;
    write_atomic(out.join("table.json"), &serde_json::to_vec_pretty(&table)?)?;
    println!("{md}");
    println!(
        "final feedback change relative to the base, mean ± 95% interval over {} seed(s); table in {}",
        cfg.seeds.len(),
        out.join("table.md").display()
    );
    Ok(())
}

/// Whether `dir` holds a finished steered run.
fn finished(dir: &Path) -> bool {
    SteeredRun::read(&dir.join("run.json")).is_ok_and(|r| r.is_complete())
}

fn spawn(job: &Job, cfg: &CompareConfig, threads: usize) -> anyhow::Result<Child> {
    let log = std::fs::File::create(&job.log).with_context(|| format!("{}", job.log.display()))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["cpt", "--policy", &job.policy, "--config"]).arg(&cfg.run);
    for s in &cfg.set {
        cmd.args(["--set", s]);
    }
    cmd.args(["--set", &format!("seed={}", job.seed)]);
    cmd.arg("--out").arg(&job.dir).args(["--threads", &threads.to_string()]);
    cmd.stdout(log.try_clone()?).stderr(log);
    cmd.spawn().with_context(|| format!("cannot start the run of {} seed {}", job.policy, job.seed))
}
