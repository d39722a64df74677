//! `mixagent eval <checkpoint> --suite feedback|full`: prints a table and writes JSON.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use mixagent_eval::{evaluate, EvalOptions};
use mixagent_lm::{load_checkpoint, read_model_config, Llama};

/// Arguments of `eval`.
#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint folder or a run folder (its latest checkpoint).
    checkpoint: PathBuf,
    /// `feedback` (the agent's observation and held-out bits per byte) or `full` (plus the
    /// benchmark suite: living tasks, exact-match math, and BIG-bench where it is installed).
    #[arg(long, default_value = "feedback", value_parser = ["feedback", "full"])]
    suite: String,
    /// The prepared corpus [default: the one the checkpoint was trained on].
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Fields to evaluate [default: every field of the corpus].
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Items per feedback suite.
    #[arg(long, default_value_t = 128)]
    items: usize,
    /// Items per benchmark task.
    #[arg(long, default_value_t = 100)]
    task_items: usize,
    /// Held-out windows per domain.
    #[arg(long, default_value_t = 8)]
    windows: usize,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Seed of item selection.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the report as JSON here [default: `CHECKPOINT/eval-SUITE.json`].
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    runtime: crate::flags::Runtime,
}

/// Runs `eval`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let device = mixagent_lm::tch_device(a.runtime.apply())?;
    let dir = mixagent_lm::resolve_checkpoint(&a.checkpoint)?;
    let (cfg, _) = read_model_config(&dir)?;
    let corpus = match a.corpus {
        Some(c) => c,
        None => crate::flags::base_corpus(&a.checkpoint)?,
    };
    let vs = tch::nn::VarStore::new(device);
    let model = Llama::new(&vs.root(), &cfg);
    load_checkpoint(&dir, &model)?;
    let known = mixagent_shard::Manifest::load(&corpus)?.domain_space()?.fields();
    let known: Vec<String> = known.iter().map(|f| f.as_str().to_string()).collect();
    if let Some(f) = a.fields.iter().find(|f| !known.contains(f)) {
        bail!(
            "--fields `{f}`: no such field in {} (it has: {}); pass some of them",
            corpus.display(),
            known.join(", ")
        );
    }
    let opts = EvalOptions {
        fields: if a.fields.is_empty() { known } else { a.fields.clone() },
        items_per_field: a.items,
        windows_per_domain: a.windows,
        full: a.suite == "full",
        items_per_task: a.task_items,
        bigbench_root: bigbench_root(a.suite == "full"),
        seed: a.seed,
        batch_size: a.batch_size,
    };
    let start = Instant::now();
    let report = evaluate(&model, &dir, &corpus, &opts, device)
        .with_context(|| format!("evaluating {}", dir.display()))?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:<10} {:>6} {:>18} {:>10} {:>10}",
        "field", "items", "suite fingerprint", "feedback", "truncated"
    );
    for f in &report.feedback {
        println!(
            "{:<10} {:>6} {:>18} {:>10.4} {:>10}",
            f.field, f.items, f.fingerprint, f.feedback, f.truncated
        );
    }
    println!("\n{:<24} {:<8} {:>10} {:>8}", "domain", "field", "nats/tok", "bpb");
    for d in &report.heldout {
        println!(
            "{:<24} {:<8} {:>10.4} {:>8.4}",
            d.domain, d.field, d.nats_per_token, d.bits_per_byte
        );
    }
    for (field, bpb) in &report.field_bits_per_byte {
        println!("{:<24} {:<8} {:>10} {:>8.4}", format!("[{field}]"), field, "", bpb);
    }
    if !report.tasks.is_empty() {
        println!(
            "\n{:<34} {:<8} {:>6} {:>9} {:>8} {:>8}",
            "task", "field", "items", "accuracy", "chance", "score"
        );
        for t in &report.tasks {
            println!(
                "{:<34} {:<8} {:>6} {:>9.3} {:>8.3} {:>8.2}",
                t.task, t.field, t.items, t.accuracy, t.chance, t.score
            );
        }
        for (name, v) in &report.averages {
            println!("average {name:<20} {v:>8.2}");
        }
    }
    let json = a.json.unwrap_or_else(|| dir.join(format!("eval-{}.json", a.suite)));
    mixagent_shard::write_atomic(&json, &serde_json::to_vec_pretty(&report)?)?;
    println!("\nevaluated in {secs:.2} s; report written to {}", json.display());
    Ok(())
}

/// The BIG-bench tasks' folder, where the machine has it. The registry no longer serves the
/// package, so a fresh machine has none: the full suite then leaves those tasks out and says so.
fn bigbench_root(full: bool) -> Option<PathBuf> {
    let root = mixagent_corpus::default_cache_dir().join("raw/bigbench");
    if root.is_dir() {
        return Some(root);
    }
    if full {
        tracing::warn!(
            "the BIG-bench tasks are left out: {} does not exist (the registry no longer serves \
             bigbench 1.0.0; scripts/setup.sh installs it only from a cache that holds it)",
            root.display()
        );
    }
    None
}
