//! `mixagent bench collect`: trajectories per core-hour of `collect` at the demo and study
//! scales, and where a stage's time goes (training, observation, the rest: checkpoints,
//! loading, the base observation, process start). With `--baseline`, another mixagent binary
//! (built at an older commit) collects the same plan side by side in the same run, alternating
//! with this one, and the two collections' trajectories are compared value by value. Each
//! `--variant NAME:KEY=VALUE;…` adds this binary with config overrides (`--set`) as another
//! contender, e.g. `--variant 'bf16:train.precision="bf16"'`.
//!
//! Each measurement is one `collect --workers 1` child (one worker process, `--threads`
//! libtorch threads), timed from spawn to exit; its peak memory is the child's high-water
//! mark (`VmHWM`). The rate is per core the worker used.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use mixagent_report::median;
use mixagent_trajectory::{pearson, read_collection, Trajectory};
use serde::Serialize;

/// Arguments of `bench collect`.
#[derive(clap::Args)]
pub struct CollectArgs {
    /// Scales to measure: `experiments/collect-SCALE.toml` with a base of model preset SCALE
    /// (a version suffix dropped: `study-v2` reads `collect-study-v2.toml`, preset `study`).
    #[arg(long, value_delimiter = ',', default_value = "demo,study")]
    scales: Vec<String>,
    /// The baseline: another mixagent binary, run on the same plan (alternating with this one).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// This binary with config overrides, as another contender: `NAME:KEY=VALUE;KEY=VALUE`.
    #[arg(long = "variant")]
    variants: Vec<String>,
    /// A prepared corpus.
    #[arg(long, default_value = "data/default")]
    corpus: PathBuf,
    /// Trajectories per measured collection.
    #[arg(long, default_value_t = 4)]
    trajectories: usize,
    /// Measurements per binary and scale; medians are reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// libtorch threads of the worker.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Working folder (bases and collections) [default: a temporary folder, removed after].
    #[arg(long)]
    work: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One measured collection.
#[derive(Debug, Clone, Serialize)]
struct Measurement {
    scale: String,
    binary: String,
    repeat: usize,
    wall_secs: f64,
    stages: usize,
    train_secs: f64,
    observe_secs: f64,
    peak_rss_mb: f64,
}

impl Measurement {
    fn per_core_hour(&self, trajectories: usize, threads: usize) -> f64 {
        trajectories as f64 / (self.wall_secs / 3600.0 * threads as f64)
    }
}

/// Runs the benchmark.
pub fn collect(a: CollectArgs) -> anyhow::Result<()> {
    if a.trajectories == 0 || a.repeats == 0 || a.threads == 0 {
        bail!("--trajectories, --repeats and --threads must be ≥ 1");
    }
    let tmp;
    let work = match &a.work {
        Some(w) => w.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&work)?;
    let this = std::env::current_exe()?;
    let mut contenders = Vec::new();
    if let Some(b) = &a.baseline {
        if !b.is_file() {
            bail!("--baseline {}: no such binary", b.display());
        }
        contenders.push(Contender { name: "baseline".into(), bin: b.clone(), sets: vec![] });
    }
    contenders.push(Contender { name: "this".into(), bin: this.clone(), sets: vec![] });
    for v in &a.variants {
        let (name, sets) = v
            .split_once(':')
            .with_context(|| format!("--variant `{v}`: expected NAME:KEY=VALUE;KEY=VALUE"))?;
        let sets: Vec<String> = sets.split(';').map(|s| s.trim().to_string()).collect();
        if name.is_empty() || contenders.iter().any(|c| c.name == name) {
            bail!("--variant `{v}`: the name must be new and not empty");
        }
        if let Some(bad) = sets.iter().find(|s| !s.contains('=')) {
            bail!("--variant `{v}`: `{bad}` is not KEY=VALUE");
        }
        contenders.push(Contender { name: name.into(), bin: this.clone(), sets });
    }
    let mut all = Vec::new();
    for scale in &a.scales {
        let config = PathBuf::from(format!("experiments/collect-{scale}.toml"));
        if !config.is_file() {
            bail!("scale `{scale}`: no {} (run from the repository root)", config.display());
        }
        let preset = scale.split("-v").next().unwrap_or(scale);
        let base = work.join(format!("base-{scale}"));
        if !base.join("run.json").is_file() {
            eprintln!(
                "bench collect: pretraining a {scale} base (its weights do not change the cost)"
            );
            run_quiet(
                Command::new(&this)
                    .args(["pretrain", "--preset", preset, "--tokens", "40000"])
                    .args([
                        "--corpus".as_ref(),
                        a.corpus.as_os_str(),
                        "--out".as_ref(),
                        base.as_os_str(),
                    ]),
                &work.join(format!("base-{scale}.log")),
            )?;
        }
        for repeat in 0..a.repeats {
            for c in &contenders {
                let out = work.join(format!("{scale}-{}-{repeat}", c.name));
                let _ = std::fs::remove_dir_all(&out);
                let m = measure(&a, scale, c, &config, &base, &out, repeat)?;
                eprintln!(
                    "bench collect: {scale} {} #{repeat}: {:.1} s, {:.0} trajectories per core-hour",
                    c.name,
                    m.wall_secs,
                    m.per_core_hour(a.trajectories, a.threads)
                );
                all.push(m);
            }
        }
    }
    print_table(&a, &contenders, &all, &work)?;
    if let Some(path) = &a.json {
        mixagent_shard::write_atomic(path, &serde_json::to_vec_pretty(&all)?)?;
    }
    Ok(())
}

/// A binary and the config overrides it collects with.
struct Contender {
    name: String,
    bin: PathBuf,
    sets: Vec<String>,
}

fn measure(
    a: &CollectArgs,
    scale: &str,
    c: &Contender,
    config: &Path,
    base: &Path,
    out: &Path,
    repeat: usize,
) -> anyhow::Result<Measurement> {
    let mut cmd = Command::new(&c.bin);
    cmd.args(["collect", "--workers", "1", "--threads", &a.threads.to_string()])
        .arg("--config")
        .arg(config)
        .args(["--set", &format!("corpus={}", toml_str(&a.corpus))])
        .args(["--set", &format!("base={}", toml_str(base))])
        .args(["--set", &format!("trajectories={}", a.trajectories)])
        .args(c.sets.iter().flat_map(|s| ["--set", s]))
        .arg("--out")
        .arg(out);
    let start = Instant::now();
    let peak_kb = run_quiet(&mut cmd, &out.with_extension("log"))?;
    let wall_secs = start.elapsed().as_secs_f64();
    let set = read_collection(out)?;
    if set.len() != a.trajectories {
        bail!("{}: {} trajectories, expected {}", out.display(), set.len(), a.trajectories);
    }
    // Stages trained: a branch's rows before its branch point are its parent's.
    let rows = set.iter().flat_map(|t| t.own_stages());
    let (train_secs, observe_secs, stages) =
        rows.fold((0.0, 0.0, 0), |(t, o, n), r| (t + r.train_secs, o + r.eval_secs, n + 1));
    Ok(Measurement {
        scale: scale.into(),
        binary: c.name.clone(),
        repeat,
        wall_secs,
        stages,
        train_secs,
        observe_secs,
        peak_rss_mb: peak_kb as f64 / 1024.0,
    })
}

/// A path as a TOML string for `--set`.
fn toml_str(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// Runs `cmd` with its output in `log`, and returns its peak resident memory (KiB): the
/// kernel's high-water mark of the child (`VmHWM`), read every 20 ms while it runs.
fn run_quiet(cmd: &mut Command, log: &Path) -> anyhow::Result<u64> {
    let file = std::fs::File::create(log).with_context(|| log.display().to_string())?;
    let mut child = cmd.stdout(Stdio::from(file.try_clone()?)).stderr(Stdio::from(file)).spawn()?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak = 0;
    let status = loop {
        if let Some(hwm) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        }) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    if !status.success() {
        bail!("{cmd:?} failed; its output is in {}", log.display());
    }
    Ok(peak)
}

fn print_table(
    a: &CollectArgs,
    contenders: &[Contender],
    all: &[Measurement],
    work: &Path,
) -> anyhow::Result<()> {
    println!(
        "| scale | binary | trajectories / core-hour | s / stage | training | observation | rest (checkpoints, start-up) | peak RSS MB |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for scale in &a.scales {
        let mut rates = Vec::new();
        for name in contenders.iter().map(|c| c.name.as_str()) {
            let ms: Vec<&Measurement> =
                all.iter().filter(|m| &m.scale == scale && m.binary == name).collect();
            if ms.is_empty() {
                continue;
            }
            let med = |f: &dyn Fn(&Measurement) -> f64| {
                median(ms.iter().map(|m| f(m)).collect::<Vec<_>>())
            };
            let rate = med(&|m| m.per_core_hour(a.trajectories, a.threads));
            let share = |f: &dyn Fn(&Measurement) -> f64| 100.0 * med(&|m| f(m) / m.wall_secs);
            println!(
                "| {scale} | {name} | {rate:.0} | {:.3} | {:.0}% | {:.0}% | {:.0}% | {:.0} |",
                med(&|m| m.wall_secs / m.stages as f64),
                share(&|m| m.train_secs),
                share(&|m| m.observe_secs),
                share(&|m| m.wall_secs - m.train_secs - m.observe_secs),
                med(&|m| m.peak_rss_mb),
            );
            rates.push((name, ms.iter().map(|m| m.wall_secs).collect::<Vec<_>>()));
        }
        // Every other contender against the first (the baseline binary, or else this one).
        let Some(((reference, old), others)) = rates.split_first() else { continue };
        println!();
        for (name, new) in others {
            // Paired by repeat: measurements of one repeat ran back to back.
            let ratios: Vec<f64> = old.iter().zip(new).map(|(o, n)| o / n).collect();
            let list: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            println!(
                "{scale}: {name} / {reference} = {:.2}× trajectories per core-hour (median of paired repeats: {})",
                median(ratios.clone()),
                list.join(", ")
            );
            let (a0, b0) = (
                work.join(format!("{scale}-{reference}-0")),
                work.join(format!("{scale}-{name}-0")),
            );
            let (x, y) = (read_collection(&a0)?, read_collection(&b0)?);
            let (same_weights, feedback, loss) = differences(&x, &y);
            println!(
                "{scale}: same planned mixtures: {same_weights}; largest difference of an observation: feedback {feedback:.1e}, held-out loss {loss:.1e} (nats)"
            );
            for r in reward_agreement(&x, &y) {
                println!(
                    "{scale}: {} per-stage feedback change: SD {:.4} over stages and trajectories, SD of the difference {:.4}, correlation {:.4} (n = {})",
                    r.field, r.sd, r.sd_difference, r.correlation, r.n
                );
            }
            println!();
        }
    }
    Ok(())
}

/// How closely a field's per-stage feedback change (the agent's reward) agrees between two
/// collections of the same plan.
struct Agreement {
    field: String,
    n: usize,
    /// SD of the first collection's changes over every stage of every trajectory.
    sd: f64,
    /// SD of the stage-by-stage difference.
    sd_difference: f64,
    correlation: f64,
}

fn reward_agreement(a: &[Trajectory], b: &[Trajectory]) -> Vec<Agreement> {
    let fields: Vec<String> =
        a.first().map(|t| t.initial.feedback.keys().cloned().collect()).unwrap_or_default();
    let changes = |t: &Trajectory, f: &str| -> Vec<f64> {
        let obs: Vec<&mixagent_core::Observation> =
            std::iter::once(&t.initial).chain(t.stages.iter().map(|s| &s.observation)).collect();
        // A field an observation lacks reads NaN (and so shows in the SDs), never a panic.
        let at = |o: &mixagent_core::Observation| o.feedback.get(f).copied().unwrap_or(f64::NAN);
        obs.windows(2).map(|w| at(w[1]) - at(w[0])).collect()
    };
    fields
        .into_iter()
        .map(|f| {
            let (x, y): (Vec<f64>, Vec<f64>) = a
                .iter()
                .zip(b)
                .flat_map(|(s, t)| changes(s, &f).into_iter().zip(changes(t, &f)))
                .unzip();
            let d: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p - q).collect();
            Agreement {
                field: f,
                n: x.len(),
                sd: sd(&x),
                sd_difference: sd(&d),
                correlation: pearson(&x, &y),
            }
        })
        .collect()
}

/// Population SD.
fn sd(x: &[f64]) -> f64 {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Whether two collections trained on the same mixtures, and the largest absolute differences
/// of their feedback and held-out losses over every stage.
fn differences(a: &[Trajectory], b: &[Trajectory]) -> (bool, f64, f64) {
    let mut same = a.len() == b.len();
    let (mut feedback, mut loss) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        same &= x.stages.len() == y.stages.len();
        let obs = std::iter::once((&x.initial, &y.initial))
            .chain(x.stages.iter().zip(&y.stages).map(|(r, s)| (&r.observation, &s.observation)));
        for (r, s) in x.stages.iter().zip(&y.stages) {
            same &= r.weights == s.weights;
        }
        for (o, p) in obs {
            for (k, v) in &o.feedback {
                feedback = feedback.max((v - p.feedback.get(k).copied().unwrap_or(f64::NAN)).abs());
            }
            for (k, v) in &o.domain_loss {
                loss = loss.max((v - p.domain_loss.get(k).copied().unwrap_or(f64::NAN)).abs());
            }
        }
    }
    (same, feedback, loss)
}
