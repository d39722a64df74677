//! `mixagent preflight`: checks a schedule against each domain's training tokens (epochs,
//! starved domains, where each domain runs out) before a long job. See
//! `mixagent_controller::preflight`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use mixagent_controller::preflight::{preflight, PreflightOptions};

use crate::schedule::Source;

/// `mixagent preflight`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// Training tokens per domain from a prepared corpus [default: the run's corpus].
    #[arg(long, conflicts_with = "counts")]
    corpus: Option<PathBuf>,
    /// Training tokens per domain from a JSON file `{"web": 8000000000, ...}` (your own data).
    #[arg(long)]
    counts: Option<PathBuf>,
    /// Tokens per optimizer step, to place where a domain runs out [default: the run's].
    #[arg(long)]
    tokens_per_step: Option<u64>,
    /// A domain is starved below this fraction of an even share of the tokens.
    #[arg(long, default_value_t = 0.2)]
    starved_below: f64,
    /// Flag domains read for more epochs than this.
    #[arg(long, default_value_t = 4.0)]
    max_epochs: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Exit with an error when there is a problem (for scripts and CI).
    #[arg(long)]
    strict: bool,
}

/// Runs `preflight`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let resolved = a.source.resolve()?;
    let counts: BTreeMap<String, u64> = if let Some(path) = &a.counts {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut counts: BTreeMap<String, u64> = serde_json::from_str(&text).with_context(|| {
            format!("{}: expected a JSON object of domain -> training tokens", path.display())
        })?;
        // A grouped entry (`a+b`) counts its domains' tokens when the file lists those.
        for n in &resolved.schedule.domains {
            let mut parts = n.split(mixagent_core::GROUP_SEPARATOR);
            if n.contains(mixagent_core::GROUP_SEPARATOR) && !counts.contains_key(n) {
                if let Some(sum) = parts.try_fold(0u64, |acc, d| counts.get(d).map(|t| acc + t)) {
                    counts.insert(n.clone(), sum);
                }
            }
        }
        counts
    } else if let Some(corpus) = &a.corpus {
        // Schedule entries are corpus domains, fields of the corpus (field-level) or groups.
        let manifest = mixagent_shard::Manifest::load(corpus)?;
        let mut out = BTreeMap::new();
        for n in &resolved.schedule.domains {
            let Some(members) = manifest.entry_members(n) else {
                bail!("{}: has no domain, field or group `{n}`", corpus.display());
            };
            out.insert(n.clone(), members.iter().map(|d| d.train.tokens).sum());
        }
        out
    } else if let Some(c) = resolved.counts.clone() {
        c
    } else {
        bail!("a schedule file names no corpus: give --corpus or --counts");
    };
    let options = PreflightOptions {
        starved_below: a.starved_below,
        max_epochs: a.max_epochs,
        tokens_per_step: a.tokens_per_step.or(resolved.shape.map(|(s, b)| s * b)),
    };
    let report = preflight(&resolved.schedule, &counts, &options)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print!("{}", report.render());
    }
    if a.strict && !report.problems.is_empty() {
        bail!("pre-flight found {} problem(s)", report.problems.len());
    }
    Ok(())
}
