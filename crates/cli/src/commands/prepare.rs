//! `mixagent prepare --config <toml>`.

use std::path::PathBuf;

use anyhow::Context;
use mixagent_corpus::{prepare, PrepareConfig};

/// Arguments of `prepare`.
#[derive(clap::Args)]
pub struct Args {
    /// The prepare config (TOML), e.g. `configs/default.toml`.
    #[arg(long)]
    config: PathBuf,
    /// Output corpus folder [default: `data/CONFIG-STEM`].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing output folder (only once the new corpus is complete).
    #[arg(long)]
    force: bool,
    /// Override a config key, e.g. `--set max_bytes_per_domain=100000` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

/// Runs `prepare` and prints the corpus table.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = PrepareConfig::load(&args.config, &args.overrides)?;
    let out = args.out.unwrap_or_else(|| {
        let stem = args
            .config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "corpus".into());
        PathBuf::from("data").join(stem)
    });
    let manifest = prepare(&cfg, &out, args.force)
        .with_context(|| format!("prepare {}", args.config.display()))?;
    print!("{}", mixagent_report::corpus_table(&manifest));
    println!("corpus written to {}", out.display());
    Ok(())
}
