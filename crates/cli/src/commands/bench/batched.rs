//! `mixagent bench batched`: N proxies trained one after another (`Session::train_stage`
//! each) against the same N as one stacked network (`train_stage_batched`), alternating
//! within each repeat, on a synthetic corpus; milliseconds per proxy-step, medians, and their
//! ratio (issue 20, point 3). The separate side is what `collect` runs today.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use mixagent_core::{Device, Mixture, Precision, SpaceSpec};
use mixagent_lm::{train_stage_batched, ModelConfig, Session, TrainConfig, Weights};
use mixagent_report::median;
use mixagent_sampler::Corpus;
use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};

/// Arguments of `bench batched`.
#[derive(clap::Args)]
pub struct BatchedArgs {
    /// Model preset of the proxies.
    #[arg(long, default_value = "study")]
    preset: String,
    /// Proxy counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    proxies: Vec<usize>,
    /// Rows per batch and tokens per row (the study collection's: 16 × 128).
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    /// Optimizer steps per timed stage (an untimed stage of as many steps runs first).
    #[arg(long, default_value_t = 6)]
    steps: u64,
    /// Timed repeats of both sides (medians are reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// libtorch threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// `cpu` or `cuda`.
    #[arg(long, default_value = "cpu")]
    device: Device,
    /// Precision of the products.
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Where the synthetic corpus goes [default: a temporary folder].
    #[arg(long)]
    work: Option<PathBuf>,
}

/// Runs `bench batched`.
pub fn batched(a: BatchedArgs) -> anyhow::Result<()> {
    tch::set_num_threads(a.threads as i32);
    tch::set_num_interop_threads(1);
    let vocab = 2048;
    let tmp = tempfile::tempdir()?;
    let dir = a.work.clone().unwrap_or_else(|| tmp.path().join("corpus"));
    let domains: Vec<SyntheticDomain> = (0..4)
        .map(|i| SyntheticDomain {
            name: format!("d{i}"),
            field: if i < 2 { "general" } else { "math" }.into(),
            tokens: 400_000,
        })
        .collect();
    write_synthetic_corpus(&dir, &domains, vocab as u32)
        .with_context(|| format!("writing the synthetic corpus at {}", dir.display()))?;
    let corpus = Corpus::open(&dir)?;
    let space = SpaceSpec {
        level: "domains".into(),
        fields: vec!["general".into(), "math".into()],
        groups: Vec::new(),
    }
    .resolve(&corpus.manifest.domain_space()?)?;
    let model = ModelConfig::preset(&a.preset, vocab)?;
    let mut train = TrainConfig::small(a.batch_size, a.seq_len);
    train.precision = a.precision;
    let sessions = |n: usize| -> anyhow::Result<Vec<Session>> {
        (0..n)
            .map(|i| {
                let mut t = train.clone();
                t.seed = i as u64;
                Ok(Session::new(
                    Weights::Fresh(&model),
                    &corpus,
                    space.clone(),
                    t,
                    4 * a.steps,
                    a.device,
                )?)
            })
            .collect()
    };
    let mixture = |i: usize| {
        let w: Vec<f64> = (0..space.len()).map(|d| 1.0 + ((i + d) % 3) as f64).collect();
        let sum: f64 = w.iter().sum();
        Mixture::new(space.clone(), w.iter().map(|x| x / sum).collect())
    };
    println!(
        "bench batched: {} × {} rows × {} tokens, {} steps a stage, {} repeats, {} thread(s), {}",
        a.preset, a.batch_size, a.seq_len, a.steps, a.repeats, a.threads, a.device
    );
    println!(
        "| proxies | separate ms / proxy-step | batched ms / proxy-step | separate / batched |"
    );
    println!("|---:|---:|---:|---:|");
    for &n in &a.proxies {
        let mixtures = (0..n).map(mixture).collect::<Result<Vec<_>, _>>()?;
        let (mut separate, mut together) = (Vec::new(), Vec::new());
        for _ in 0..a.repeats {
            let mut s = sessions(n)?;
            for (s, m) in s.iter_mut().zip(&mixtures) {
                s.train_stage(m, a.steps)?;
            }
            let start = Instant::now();
            for (s, m) in s.iter_mut().zip(&mixtures) {
                s.train_stage(m, a.steps)?;
            }
            separate.push(start.elapsed().as_secs_f64() * 1e3 / (n as f64 * a.steps as f64));
            let mut s = sessions(n)?;
            train_stage_batched(&mut s, &mixtures, a.steps)?;
            let start = Instant::now();
            train_stage_batched(&mut s, &mixtures, a.steps)?;
            together.push(start.elapsed().as_secs_f64() * 1e3 / (n as f64 * a.steps as f64));
        }
        let (x, y) = (median(separate), median(together));
        println!("| {n} | {x:.1} | {y:.1} | {:.2}× |", x / y);
    }
    Ok(())
}
