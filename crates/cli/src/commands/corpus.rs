//! `mixagent corpus stats`: the per-domain table of a prepared corpus.

use std::path::PathBuf;

use mixagent_shard::{Manifest, Split};

/// `corpus` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print per-domain documents, tokens and bytes per token (checks every shard).
    Stats {
        /// The corpus folder.
        #[arg(long, default_value = "data/default")]
        corpus: PathBuf,
        /// Print the manifest as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `corpus` subcommand.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Stats { corpus, json } => {
            let m = Manifest::load(&corpus)?;
            // Open every shard so a corrupt or truncated one is reported here, not mid-training.
            for d in &m.domains {
                m.open_shards(&corpus, d, Split::Train)?;
                m.open_shards(&corpus, d, Split::Heldout)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                print!("{}", mixagent_report::corpus_table(&m));
            }
            Ok(())
        }
    }
}
