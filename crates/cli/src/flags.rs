//! What several commands share: the runtime and optimiser flags, the corpus a base was
//! trained on, and training with a progress bar.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use mixagent_lm::{train, Device, ModelConfig, RunSpec, TrainConfig};
use mixagent_rollout::RunFile;

/// Options shared by every command that trains.
#[derive(clap::Args, Clone)]
pub struct Runtime {
    /// `cpu` or `cuda` (CUDA needs a CUDA build of libtorch and a GPU).
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// libtorch intra-op threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

impl Runtime {
    /// Applies the thread count and returns the device.
    pub fn apply(&self) -> Device {
        if let Some(n) = self.threads {
            tch::set_num_threads(n as i32);
        }
        tch::set_num_interop_threads(1);
        self.device
    }
}

/// The run config a policy steers under (`cpt --policy`, `export --policy`).
#[derive(clap::Args, Clone)]
pub struct RunConfig {
    /// With `--policy`: the run config (the format of `experiments/collect-*.toml`: corpus,
    /// base, space, stages, stage_tokens, train, observe).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// With `--policy`: override a config value; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// A command that fans out runs from one config (`compare`, `headroom`; each command's help
/// names its config's keys).
#[derive(clap::Args, Clone)]
pub struct Experiment {
    /// The config (TOML; see `experiments/` and the README).
    #[arg(long)]
    pub config: PathBuf,
    /// Output folder [default: runs/CONFIG-STEM].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    pub pool: Pool,
}

impl Experiment {
    /// The config's file name without its extension.
    pub fn stem(&self) -> String {
        self.config.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// `--out`, or `runs/CONFIG-STEM`.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(self.stem()))
    }
}

/// Child runs at a time, for the commands that fan out (`compare`, `headroom`).
#[derive(clap::Args, Clone)]
pub struct Pool {
    /// Runs at a time (each a child process).
    #[arg(long = "workers", default_value_t = 2)]
    workers: usize,
    /// libtorch threads per run [default: cores / workers].
    #[arg(long = "threads")]
    threads: Option<usize>,
}

impl Pool {
    /// Runs at a time (at least one).
    pub fn workers(&self) -> usize {
        self.workers.max(1)
    }

    /// libtorch threads each run gets.
    pub fn threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.threads.unwrap_or((cores / self.workers()).max(1))
    }
}

/// Training options shared by `pretrain` and `cpt`: the optimiser's and the runtime's.
#[derive(clap::Args, Clone)]
pub struct Optim {
    #[command(flatten)]
    pub runtime: Runtime,
    /// Rows per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Tokens per row [default: the model's max_seq_len].
    #[arg(long)]
    seq_len: Option<usize>,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Peak learning rate [default: 3e-3 for pretrain, 1e-3 for cpt].
    #[arg(long)]
    lr: Option<f64>,
    /// Warmup steps.
    #[arg(long, default_value_t = 20)]
    warmup_steps: u64,
    /// Learning-rate shape after warmup: `cosine` or `wsd`.
    #[arg(long, default_value = "cosine", value_parser = ["cosine", "wsd"])]
    lr_shape: String,
    /// Checkpoint every this many steps.
    #[arg(long, default_value_t = 200)]
    checkpoint_every: u64,
    /// Root seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Precision of the training step's matrix products: `f32`, `bf16` (refused on a CPU
    /// without bf16 instructions) or `auto` (bf16 where it is fast).
    #[arg(long, default_value = "f32")]
    precision: mixagent_lm::Precision,
}

impl Optim {
    /// `--precision`.
    pub fn precision(&self) -> mixagent_lm::Precision {
        self.precision
    }

    /// The training settings for `model` on `device`, `default_lr` when `--lr` is not given.
    /// `--precision auto` is resolved here, so the run's `run.json` says which precision it
    /// trained in (and a resume on a machine that resolves it otherwise is another run).
    pub fn config(
        &self,
        model: &ModelConfig,
        default_lr: f64,
        device: Device,
    ) -> anyhow::Result<TrainConfig> {
        let mut t = TrainConfig::small(self.batch_size, self.seq_len.unwrap_or(model.max_seq_len));
        t.grad_accum = self.grad_accum;
        t.peak_lr = self.lr.unwrap_or(default_lr);
        t.warmup_steps = self.warmup_steps;
        t.lr_shape = if self.lr_shape == "wsd" {
            mixagent_lm::LrShape::Wsd { decay_fraction: 0.2 }
        } else {
            mixagent_lm::LrShape::Cosine
        };
        t.checkpoint_every = self.checkpoint_every;
        t.seed = self.seed;
        t.precision =
            mixagent_lm::resolved_precision(self.precision, mixagent_lm::tch_device(device)?)?;
        Ok(t)
    }
}

/// The corpus recorded in a base run's `run.json` (the run folder, or the parent of its
/// `checkpoints/` folder).
pub fn base_corpus(base: &Path) -> anyhow::Result<PathBuf> {
    let dir = mixagent_lm::resolve_checkpoint(base)?;
    // `base` is a run folder, or a checkpoint folder inside one (`RUN/checkpoints/NAME`).
    let run = dir.parent().and_then(Path::parent).unwrap_or(base);
    for candidate in [base.join("run.json"), run.join("run.json")] {
        if candidate.is_file() {
            return Ok(RunFile::read(&candidate)?.corpus().to_path_buf());
        }
    }
    bail!("{}: cannot tell which corpus the base was trained on; pass --corpus", base.display())
}

/// Trains `spec` into `out` (resuming what is there) with a progress bar on stderr, then
/// prints the summary.
pub fn train_with_progress(spec: &RunSpec, out: &Path) -> anyhow::Result<()> {
    let tps = spec.train.tokens_per_step();
    let total: u64 = spec.schedule.stages.iter().map(|s| s.tokens).sum::<u64>().div_ceil(tps);
    eprintln!(
        "training {} ({:.2}M params) on {} for {} steps × {} tokens → {}",
        if spec.init.is_some() { "cpt" } else { "pretrain" },
        spec.model.n_params() as f64 / 1e6,
        spec.corpus.display(),
        total,
        tps,
        out.display()
    );
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let start = Instant::now();
    let mut first: Option<u64> = None;
    let summary = train(spec, out, |r| {
        let from = *first.get_or_insert(r.step - 1);
        bar.set_position(r.step);
        let rate = (r.step - from) as f64 * tps as f64 / start.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "loss {:.3}  lr {:.2e}  stage {}  {:.0} tok/s",
            r.loss, r.lr, r.stage, rate
        ));
        if bar.is_hidden() && (r.step % 50 == 0 || r.step == r.total_steps) {
            tracing::info!(
                step = r.step,
                total = r.total_steps,
                loss = format!("{:.4}", r.loss),
                tok_per_s = format!("{rate:.0}"),
                "train"
            );
        }
        true
    })?;
    bar.finish_and_clear();
    if summary.steps_run == 0 {
        println!("already complete; checkpoint {}", summary.checkpoint.display());
        return Ok(());
    }
    let last = summary.losses.iter().rev().take(10).copied().collect::<Vec<_>>();
    let tail =
        if last.is_empty() { f64::NAN } else { last.iter().sum::<f64>() / last.len() as f64 };
    println!(
        "{} steps in {:.1} s; final loss (mean of last {}) {:.4}; checkpoint {}",
        summary.steps_run,
        start.elapsed().as_secs_f64(),
        last.len(),
        tail,
        summary.checkpoint.display()
    );
    Ok(())
}
