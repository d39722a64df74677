//! `mixagent export`: a schedule in the config form of the trainer that runs the real
//! continual pre-training (Megatron-LM, nanotron, Levanter/Marin, MosaicML Streaming, Hugging
//! Face `interleave_datasets`, OLMo-core). See `mixagent_controller::export`.

use std::path::PathBuf;

use anyhow::Context;
use mixagent_controller::export::{export, DataPaths, Format, TrainerShape};

use crate::schedule::Source;

/// `mixagent export`.
#[derive(clap::Args)]
pub struct Args {
    /// megatron, nanotron, levanter, mosaic, hf or olmo.
    #[arg(long)]
    format: String,
    #[command(flatten)]
    source: Source,
    /// Each domain's data path in the trainer's file system; `{domain}` is replaced by the
    /// domain's name.
    #[arg(long, default_value = "{domain}")]
    path_template: String,
    /// A domain's data path, overriding the template: `DOMAIN=PATH`; repeatable.
    #[arg(long = "path", value_name = "DOMAIN=PATH")]
    paths: Vec<String>,
    /// Tokens per sequence in the trainer [default: the run's].
    #[arg(long)]
    seq_len: Option<u64>,
    /// Sequences per optimizer step (global batch) in the trainer [default: the run's].
    #[arg(long)]
    global_batch: Option<u64>,
    /// Seed written where the format takes one [default: the run's, else 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Levanter's mixture_block_size (sequences).
    #[arg(long, default_value_t = 2048)]
    mixture_block_size: u64,
    /// Write here (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `export`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let format: Format = a.format.parse().map_err(anyhow::Error::msg)?;
    let mut resolved = a.source.resolve()?;
    // A trainer has a dataset per domain, none named after a group of a re-grouped space or a
    // field of a field-level one: split each such entry over its domains by their training
    // tokens, as the sampler reads it.
    match &resolved.entry_members {
        Some(members) => {
            resolved.schedule =
                resolved.schedule.expand_entries(members).map_err(anyhow::Error::msg)?
        }
        None if resolved.schedule.domains.iter().any(|d| d.contains(mixagent_core::GROUP_SEPARATOR)) => eprintln!(
            "export: the schedule names grouped entries (a+b) and no corpus to split them by; each is written as one dataset named after the group: give it a path with --path, or export the run or the policy, which know their corpus"
        ),
        None => {}
    }
    let (seq_len, global_batch) = match (a.seq_len, a.global_batch, resolved.shape) {
        (Some(s), Some(b), _) => (s, b),
        (s, b, Some((rs, rb))) => (s.unwrap_or(rs), b.unwrap_or(rb)),
        _ => anyhow::bail!(
            "a schedule file does not say how the trainer counts: give --seq-len and --global-batch"
        ),
    };
    let mut overrides = std::collections::BTreeMap::new();
    for p in &a.paths {
        let (d, path) =
            p.split_once('=').with_context(|| format!("--path `{p}`: expected DOMAIN=PATH"))?;
        if !resolved.schedule.domains.iter().any(|x| x == d) {
            anyhow::bail!(
                "--path `{p}`: `{d}` is not a domain of the schedule ({})",
                resolved.schedule.domains.join(", ")
            );
        }
        overrides.insert(d.to_string(), path.to_string());
    }
    let shape = TrainerShape {
        seq_len,
        global_batch,
        seed: a.seed.or(resolved.seed).unwrap_or(0),
        mixture_block_size: a.mixture_block_size,
    };
    let paths = DataPaths { template: a.path_template.clone(), overrides };
    let text = export(format, &resolved.schedule, &shape, &paths)?;
    match &a.out {
        Some(out) => {
            mixagent_shard::write_atomic(out, text.as_bytes())?;
            eprintln!(
                "export: {} stages over {} domains as {} -> {}",
                resolved.schedule.stages.len(),
                resolved.schedule.domains.len(),
                a.format,
                out.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}
