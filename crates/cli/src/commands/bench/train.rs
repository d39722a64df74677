//! `mixagent bench train`: training throughput of mixagent's trainer against the PyTorch eager
//! reference (`bench/train_ref.py`) on the same architecture, hyperparameters, thread count and
//! random-token batches. Each measurement runs in a fresh child process (so peak memory is its
//! own), alternating mixagent and PyTorch, and the medians over repeats are compared.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

use mixagent_lm::{
    matmul_kind, micro_step, with_seed, AdamW, AdamWConfig, Llama, LrSchedule, LrShape,
    ModelConfig, Precision,
};
use mixagent_report::median;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Arguments of `bench train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Model presets to measure.
    #[arg(long, value_delimiter = ',', default_value = "smoke,demo,study")]
    presets: Vec<String>,
    /// Vocabulary size.
    #[arg(long, default_value_t = 2048)]
    vocab: usize,
    /// Rows per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Optimizer steps per run (the first `--untimed` are not timed).
    #[arg(long, default_value_t = 45)]
    steps: usize,
    /// Steps left out of the timing.
    #[arg(long, default_value_t = 5)]
    untimed: usize,
    /// Runs per implementation and preset (alternating); medians are reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Threads for both implementations.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Precision of the products: `f32`, or `bf16` (mixagent's mixed precision against
    /// PyTorch's `torch.autocast("cpu", torch.bfloat16)`).
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Python of the reference venv [default: $MIXAGENT_CACHE/venv-torch/bin/python].
    #[arg(long)]
    python: Option<PathBuf>,
    /// Also write the table as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Arguments of the hidden `bench train-one`.
#[derive(clap::Args)]
pub struct TrainOneArgs {
    #[arg(long)]
    preset: String,
    #[arg(long)]
    vocab: usize,
    #[arg(long)]
    batch_size: usize,
    #[arg(long)]
    steps: usize,
    #[arg(long)]
    untimed: usize,
    #[arg(long)]
    threads: usize,
    #[arg(long, default_value = "f32")]
    precision: Precision,
}

/// What one run reports (both implementations print these keys).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunResult {
    tokens_per_s: f64,
    median_step_ms: f64,
    peak_rss_mb: f64,
    n_params: usize,
    /// Loss of the first and the last step (same weights and batches on both sides).
    loss_first: f64,
    loss_last: f64,
}

/// The hot loop, identical in shape to `mixagent_lm::train`: forward + backward through
/// `micro_step`, AdamW with clipping, warmup-cosine schedule; batches pre-generated.
pub fn train_one(a: TrainOneArgs) -> anyhow::Result<()> {
    tch::set_num_threads(a.threads as i32);
    tch::set_num_interop_threads(1);
    let cfg = ModelConfig::preset(&a.preset, a.vocab)?;
    let t = cfg.max_seq_len as i64;
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    // Seeded as bench/train_ref.py is (weights from the seeded global generator, then the
    // batches from a generator seeded the same), so both sides see the same weights and data
    // and their losses can be compared step by step.
    let model = with_seed(0, || Llama::new(&vs.root(), &cfg));
    let matmul = matmul_kind(a.precision, tch::Device::Cpu)?;
    let pool = super::random_batches(0, 64, a.vocab, a.batch_size, t + 1);
    let mut opt = AdamW::new(vs.variables().into_iter().collect(), AdamWConfig::default());
    let lr = LrSchedule {
        peak: 3e-3,
        min_ratio: 0.1,
        warmup_steps: 10,
        total_steps: a.steps as u64,
        shape: LrShape::Cosine,
    };
    let mut times = Vec::new();
    let mut losses = Vec::new();
    for step in 0..a.steps {
        let start = Instant::now();
        let rows = micro_step(&model, &pool[step % pool.len()], 1, matmul)?;
        losses.push(rows.iter().map(|&l| f64::from(l)).sum::<f64>() / rows.len() as f64);
        let _ = opt.step(lr.at(step as u64));
        opt.zero_grad();
        if step >= a.untimed {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let result = RunResult {
        tokens_per_s: (a.batch_size as i64 * t) as f64 / median,
        median_step_ms: median * 1e3,
        peak_rss_mb: peak_rss_mb(),
        n_params: cfg.n_params(),
        loss_first: losses[0],
        loss_last: *losses.last().expect("steps ≥ 1"),
    };
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

/// Peak resident memory of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// sgemm GFLOP/s of libtorch on this machine with `threads` threads (median of 15 1024³ matmuls).
fn sgemm_peak(threads: usize) -> f64 {
    tch::set_num_threads(threads as i32);
    let n = 1024;
    let a = Tensor::randn([n, n], (Kind::Float, tch::Device::Cpu));
    let b = Tensor::randn([n, n], (Kind::Float, tch::Device::Cpu));
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let s = Instant::now();
            let c = a.matmul(&b);
            let _ = c.sum(Kind::Float).double_value(&[]);
            s.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    2.0 * (n as f64).powi(3) / times[7] / 1e9
}

fn run_json(cmd: &mut Command, what: &str) -> anyhow::Result<RunResult> {
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line =
        stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).context("no JSON line")?;
    serde_json::from_str(line).with_context(|| format!("{what} printed {line}"))
}

/// Runs the side-by-side benchmark and prints the table.
pub fn train(a: TrainArgs) -> anyhow::Result<()> {
    let python = a
        .python
        .clone()
        .unwrap_or_else(|| mixagent_corpus::default_cache_dir().join("venv-torch/bin/python"));
    if !python.exists() {
        bail!(
            "{} not found: run `bash bench/setup_ref.sh` to build the PyTorch reference venv",
            python.display()
        );
    }
    let script = PathBuf::from("bench/train_ref.py");
    if !script.exists() {
        bail!(
            "{} not found: run `mixagent bench train` from the repository root",
            script.display()
        );
    }
    let exe = std::env::current_exe()?;
    // `auto` is resolved once here, so both sides run what mixagent's side will.
    let bf16 = matmul_kind(a.precision, tch::Device::Cpu)? == Kind::BFloat16;
    let precision = if bf16 { Precision::Bf16 } else { Precision::F32 };
    let peak = sgemm_peak(a.threads);
    println!("sgemm peak (libtorch, 1024³, {} threads): {peak:.1} GFLOP/s", a.threads);
    println!(
        "precision: {precision} (both sides; PyTorch's autocast also runs attention in bf16, mixagent keeps it float32)"
    );
    println!(
        "{:<13} {:>7} {:>7} {:>9} {:>9} {:>6} {:>9} {:>6} {:>8} {:>7} {:>8} {:>7}",
        "preset",
        "params",
        "B×T",
        "mixagent",
        "pytorch",
        "ratio",
        "pt+mall",
        "ratio",
        "GFLOP/s",
        "%peak",
        "RSS mix",
        "RSS pt"
    );
    let mut rows = Vec::new();
    for preset in &a.presets {
        let cfg = ModelConfig::preset(preset, a.vocab)?;
        let (mut ours, mut theirs, mut tuned) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..a.repeats {
            let mut c = Command::new(&exe);
            c.args(["bench", "train-one", "--preset", preset])
                .args(["--vocab", &a.vocab.to_string(), "--batch-size", &a.batch_size.to_string()])
                .args(["--steps", &a.steps.to_string(), "--untimed", &a.untimed.to_string()])
                .args(["--threads", &a.threads.to_string()])
                .args(["--precision", &precision.to_string()]);
            ours.push(run_json(&mut c, "mixagent bench train-one")?);
            let mut p = Command::new(&python);
            p.arg(&script)
                .args([
                    "--preset",
                    preset,
                    "--vocab",
                    &a.vocab.to_string(),
                    "--batch-size",
                    &a.batch_size.to_string(),
                ])
                .args(["--steps", &a.steps.to_string(), "--untimed", &a.untimed.to_string()])
                .args(["--warmup-steps", "10", "--threads", &a.threads.to_string(), "--seed", "0"]);
            if bf16 {
                p.arg("--bf16");
            }
            theirs.push(run_json(&mut p, "bench/train_ref.py")?);
            // The same reference with the glibc settings mixagent applies in-process
            // (`mixagent_lm::tune_allocator`), to show how much of the ratio is the allocator.
            p.env("MALLOC_MMAP_MAX_", "0").env("MALLOC_TRIM_THRESHOLD_", (1u64 << 30).to_string());
            tuned.push(run_json(&mut p, "bench/train_ref.py (tuned malloc)")?);
        }
        let tok_ours = median(ours.iter().map(|r| r.tokens_per_s).collect());
        let tok_theirs = median(theirs.iter().map(|r| r.tokens_per_s).collect());
        let tok_tuned = median(tuned.iter().map(|r| r.tokens_per_s).collect());
        let gflops = tok_ours * train_flops_per_token(&cfg) / 1e9;
        let row = serde_json::json!({
            "preset": preset, "precision": precision.to_string(), "params": cfg.n_params(), "batch": a.batch_size, "seq_len": cfg.max_seq_len,
            "mixagent_tok_s": tok_ours, "pytorch_tok_s": tok_theirs, "ratio": tok_ours / tok_theirs,
            "pytorch_tuned_malloc_tok_s": tok_tuned, "ratio_vs_tuned_malloc": tok_ours / tok_tuned,
            "mixagent_gflops": gflops, "pct_sgemm_peak": 100.0 * gflops / peak,
            "mixagent_peak_rss_mb": median(ours.iter().map(|r| r.peak_rss_mb).collect()),
            "pytorch_peak_rss_mb": median(theirs.iter().map(|r| r.peak_rss_mb).collect()),
            "mixagent_runs_tok_s": ours.iter().map(|r| r.tokens_per_s).collect::<Vec<_>>(),
            "pytorch_runs_tok_s": theirs.iter().map(|r| r.tokens_per_s).collect::<Vec<_>>(),
            "pytorch_tuned_runs_tok_s": tuned.iter().map(|r| r.tokens_per_s).collect::<Vec<_>>(),
        });
        println!(
            "{:<13} {:>6.2}M {:>7} {:>9.0} {:>9.0} {:>6.2} {:>9.0} {:>6.2} {:>8.1} {:>6.1}% {:>7.0}M {:>6.0}M",
            preset,
            cfg.n_params() as f64 / 1e6,
            format!("{}×{}", a.batch_size, cfg.max_seq_len),
            tok_ours,
            tok_theirs,
            tok_ours / tok_theirs,
            tok_tuned,
            tok_ours / tok_tuned,
            gflops,
            100.0 * gflops / peak,
            row["mixagent_peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            row["pytorch_peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
        );
        rows.push(row);
    }
    if let Some(path) = a.json {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let doc =
            serde_json::json!({ "sgemm_peak_gflops": peak, "threads": a.threads, "rows": rows });
        std::fs::write(&path, serde_json::to_vec_pretty(&doc)?)?;
    }
    Ok(())
}

/// Training FLOPs per token (PaLM accounting): 6 × matmul parameters (layers and the output
/// projection) + 12 · layers · seq_len · d_model for attention scores and values.
fn train_flops_per_token(c: &ModelConfig) -> f64 {
    let kvd = c.n_kv_heads * c.head_dim();
    let layer = 2 * c.d_model * c.d_model + 2 * c.d_model * kvd + 3 * c.d_model * c.d_ff;
    let matmul = c.n_layers * layer + c.vocab_size * c.d_model;
    6.0 * matmul as f64 + 12.0 * (c.n_layers * c.max_seq_len * c.d_model) as f64
}
