//! `mixagent bench ...`: one module per benchmark (`train`, `eval`, `agent`); the sampler's
//! is here: throughput into a reused buffer, side by side with a plain memcpy of the same
//! number of bytes, interleaved in one run; medians and their ratio.

mod agent;
mod batched;
mod collect;
mod eval;
mod train;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use mixagent_core::Mixture;
use mixagent_report::median;
use mixagent_sampler::{Corpus, Sampler, SamplerConfig};
use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};
use mixagent_shard::TokenOut;

/// `bench` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Sampler tokens/s vs memcpy bandwidth.
    Sampler(SamplerArgs),
    /// Training tokens/s vs the PyTorch eager reference (bench/train_ref.py), side by side.
    Train(train::TrainArgs),
    /// Feedback-suite cost against one training stage.
    Eval(eval::EvalArgs),
    /// Trajectories per core-hour of `collect` and the split of a stage's time, against a
    /// baseline binary on the same plan.
    Collect(collect::CollectArgs),
    /// train-agent wall time (warm-up plus CQL) on a trajectory set of a given shape.
    Agent(agent::AgentArgs),
    /// N proxies trained one after another against the same N as one stacked network.
    Batched(batched::BatchedArgs),
    /// One timed training run in this process (what `bench train` spawns); prints JSON.
    #[command(hide = true)]
    TrainOne(train::TrainOneArgs),
}

/// Arguments of `bench sampler`.
#[derive(clap::Args)]
pub struct SamplerArgs {
    /// A prepared corpus; without it, a synthetic 8-domain corpus of `--synthetic-tokens`.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Tokens per domain of the synthetic corpus.
    #[arg(long, default_value_t = 4_000_000)]
    synthetic_tokens: usize,
    /// Rows per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Tokens per row (each row holds seq_len + 1).
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Batches per timed repeat.
    #[arg(long, default_value_t = 2_000)]
    steps: usize,
    /// Timed repeats (medians are reported).
    #[arg(long, default_value_t = 7)]
    repeats: usize,
}

/// Runs a benchmark.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Sampler(a) => sampler(a),
        Command::Train(a) => train::train(a),
        Command::Eval(a) => eval::eval(a),
        Command::Agent(a) => agent::agent(a),
        Command::Batched(a) => batched::batched(a),
        Command::Collect(a) => collect::collect(a),
        Command::TrainOne(a) => train::train_one(a),
    }
}

fn sampler(a: SamplerArgs) -> anyhow::Result<()> {
    let _tmp;
    let corpus = match &a.corpus {
        Some(dir) => Corpus::open(dir)?,
        None => {
            _tmp = tempfile::tempdir()?;
            let domains: Vec<SyntheticDomain> = (0..8)
                .map(|i| SyntheticDomain {
                    name: format!("d{i}"),
                    field: if i < 5 { "general".into() } else { "math".into() },
                    tokens: a.synthetic_tokens,
                })
                .collect();
            write_synthetic_corpus(_tmp.path(), &domains, 32_768)?;
            Corpus::open(_tmp.path())?
        }
    };
    let space = Arc::new(corpus.manifest.domain_space()?);
    // A non-uniform mixture so every domain is read at a different rate.
    let raw: Vec<f64> = (0..space.len()).map(|i| 1.0 + i as f64).collect();
    let mix = Mixture::from_unnormalised(space.clone(), raw)?;
    let cfg = SamplerConfig {
        batch_size: a.batch_size,
        seq_len: a.seq_len,
        seed: 1,
        max_epochs: u32::MAX,
        token_caps: Default::default(),
    };
    let corpus_bytes: u64 = corpus.manifest.domains.iter().map(|d| d.train.tokens * 2).sum();
    println!(
        "corpus: {} domains, {:.1} M training tokens; batch {}×{}; {} steps × {} repeats",
        space.len(),
        corpus_bytes as f64 / 2e6,
        a.batch_size,
        a.seq_len + 1,
        a.steps,
        a.repeats
    );
    println!(
        "{:<10} {:>14} {:>14} {:>14} {:>8}",
        "output", "sampler tok/s", "sampler GB/s", "memcpy GB/s", "ratio"
    );
    run_type::<u32>("u32", &corpus, &space, &mix, &cfg, &a, corpus_bytes)?;
    run_type::<i64>("i64", &corpus, &space, &mix, &cfg, &a, corpus_bytes)?;
    Ok(())
}

fn run_type<T: TokenOut>(
    label: &str,
    corpus: &Corpus,
    space: &Arc<mixagent_core::DomainSpace>,
    mix: &Mixture,
    cfg: &SamplerConfig,
    a: &SamplerArgs,
    corpus_bytes: u64,
) -> anyhow::Result<()> {
    let mut sampler =
        Sampler::new(corpus, space.clone(), cfg.clone()).context("building the sampler")?;
    let mut out = vec![T::default(); sampler.buffer_len()];
    let out_bytes = std::mem::size_of_val(out.as_slice());
    // memcpy reads from a source as large as the corpus's shards, so neither side runs from
    // a cache-resident source the other does not have.
    let src = vec![1u8; (corpus_bytes as usize).max(out_bytes * 4)];
    let mut dst = vec![0u8; out_bytes];
    let chunks = src.len() / out_bytes;
    // Warm-up: fault in the mmap pages and the memcpy source once.
    for _ in 0..a.steps.min(200) {
        sampler.fill(mix, &mut out)?;
    }
    let (mut samp, mut copy) = (Vec::new(), Vec::new());
    for _ in 0..a.repeats {
        let t = Instant::now();
        for _ in 0..a.steps {
            sampler.fill(mix, &mut out)?;
            black_box(&mut out);
        }
        samp.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for i in 0..a.steps {
            let c = i % chunks;
            dst.copy_from_slice(&src[c * out_bytes..(c + 1) * out_bytes]);
            black_box(&mut dst);
        }
        copy.push(t.elapsed().as_secs_f64());
    }
    let (s, c) = (median(samp), median(copy));
    let tokens = (a.steps * sampler.buffer_len()) as f64;
    let bytes = (a.steps * out_bytes) as f64;
    println!(
        "{label:<10} {:>14.3e} {:>14.2} {:>14.2} {:>8.3}",
        tokens / s,
        bytes / s / 1e9,
        bytes / c / 1e9,
        c / s
    );
    Ok(())
}

/// `n` batches of `rows × cols` uniform token ids below `vocab`, drawn from the global
/// generator seeded with `seed` (as `bench/train_ref.py` draws its own).
fn random_batches(seed: u64, n: usize, vocab: usize, rows: usize, cols: i64) -> Vec<tch::Tensor> {
    mixagent_lm::with_seed(seed, || {
        (0..n)
            .map(|_| {
                tch::Tensor::randint(
                    vocab as i64,
                    [rows as i64, cols],
                    (tch::Kind::Int64, tch::Device::Cpu),
                )
            })
            .collect()
    })
}
