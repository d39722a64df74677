//! `mixagent bench eval`: the cost of the feedback suite (the agent's observation after every
//! stage) against one training stage of the same model, in one process, medians over repeats.

use std::path::PathBuf;
use std::time::Instant;

use mixagent_report::median;

use mixagent_corpus::CorpusTokenizer;
use mixagent_eval::{build_suite, feedback, mean_loss, Scorer};
use mixagent_lm::{micro_step, with_seed, AdamW, AdamWConfig, Llama, ModelConfig};
use mixagent_shard::{Manifest, Split};

/// Arguments of `bench eval`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// A prepared corpus (its held-out text and tokenizer are used).
    #[arg(long, default_value = "data/default")]
    corpus: PathBuf,
    /// Model preset.
    #[arg(long, default_value = "demo")]
    preset: String,
    /// Fields with a feedback suite.
    #[arg(long, value_delimiter = ',', default_value = "general,math")]
    fields: Vec<String>,
    /// Items per feedback suite.
    #[arg(long, default_value_t = 128)]
    items: usize,
    /// Tokens of the training stage compared against.
    #[arg(long, default_value_t = 98_304)]
    stage_tokens: usize,
    /// Rows per training batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Sequences per scoring forward pass.
    #[arg(long, default_value_t = 32)]
    eval_batch: usize,
    /// Repeats (medians are reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Runs the benchmark.
pub fn eval(a: EvalArgs) -> anyhow::Result<()> {
    tch::set_num_threads(a.threads as i32);
    let manifest = Manifest::load(&a.corpus)?;
    let tk = CorpusTokenizer::load(&a.corpus.join(&manifest.tokenizer.file))?;
    let cfg = ModelConfig::preset(&a.preset, tk.vocab_size() as usize)?;
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let model = with_seed(0, || Llama::new(&vs.root(), &cfg));
    let mut opt = AdamW::new(vs.variables().into_iter().collect(), AdamWConfig::default());
    let t = cfg.max_seq_len as i64;
    let batches = super::random_batches(1, 8, cfg.vocab_size, a.batch_size, t + 1);
    let steps = a.stage_tokens.div_ceil(a.batch_size * cfg.max_seq_len);

    let start = Instant::now();
    let suites = a
        .fields
        .iter()
        .map(|f| build_suite(&a.corpus, &manifest, f, a.items, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let build_secs = start.elapsed().as_secs_f64();
    let scorer = Scorer::new(&model, &tk, a.eval_batch, tch::Device::Cpu);
    let heldout: Vec<Vec<u32>> = manifest
        .domains
        .iter()
        .filter(|d| a.fields.iter().any(|f| f == d.field.as_str()))
        .map(|d| {
            Ok(manifest
                .open_shards(&a.corpus, d, Split::Heldout)?
                .iter()
                .flat_map(|s| s.to_vec())
                .collect())
        })
        .collect::<anyhow::Result<_>>()?;

    let (mut stage, mut fb, mut bpb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..a.repeats {
        let s = Instant::now();
        for step in 0..steps {
            micro_step(&model, &batches[step % batches.len()], 1, tch::Kind::Float)?;
            let _ = opt.step(1e-3);
            opt.zero_grad();
        }
        stage.push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        let scores = feedback(&scorer, &suites)?;
        fb.push(s.elapsed().as_secs_f64());
        assert!(scores.iter().all(|f| f.feedback.is_finite()));
        let s = Instant::now();
        for tokens in &heldout {
            mean_loss(&model, tokens, cfg.max_seq_len, 2, a.eval_batch, tch::Device::Cpu)?;
        }
        bpb.push(s.elapsed().as_secs_f64());
    }
    let (stage, fb, bpb) = (median(stage), median(fb), median(bpb));
    let items: usize = suites.iter().map(|s| s.items.len()).sum();
    println!(
        "preset {} ({:.2}M params), {} threads",
        a.preset,
        cfg.n_params() as f64 / 1e6,
        a.threads
    );
    println!(
        "training stage: {} tokens ({steps} steps of {}×{}): {stage:.3} s",
        steps * a.batch_size * cfg.max_seq_len,
        a.batch_size,
        t
    );
    println!("feedback suites: {items} items over {} fields: {fb:.3} s = {:.1}% of the stage (goal ≤ 15%)", suites.len(), 100.0 * fb / stage);
    println!(
        "held-out loss, 2 windows × {} domains: {bpb:.3} s = {:.1}% of the stage",
        heldout.len(),
        100.0 * bpb / stage
    );
    println!("suite construction (once per collection): {build_secs:.3} s");
    Ok(())
}
