//! `mixagent pretrain`: a base model on the source field (or another mix), with a progress
//! bar on stderr.

use std::path::PathBuf;

use anyhow::{bail, Context};
use mixagent_core::{ScheduleSpec, StageSpec};
use mixagent_lm::{ModelConfig, RunSpec, SpaceSpec};

use crate::flags::{train_with_progress, Optim};

/// Arguments of `pretrain`.
#[derive(clap::Args)]
pub struct Args {
    /// The prepared corpus.
    #[arg(long, default_value = "data/default")]
    corpus: PathBuf,
    /// Model preset (smoke, smoke-target, demo, demo-target, study, study-target, …).
    #[arg(long, default_value = "demo")]
    preset: String,
    /// The source field the base model learns [default: the corpus's first field].
    #[arg(long)]
    field: Option<String>,
    /// Training tokens.
    #[arg(long, default_value_t = 2_000_000)]
    tokens: u64,
    /// Another source mix: weights of corpus domains (`DOMAIN=W,...`; unlisted domains get
    /// none) instead of the field's natural token shares, e.g. a base for the unseen-source
    /// setting. Domains of other fields may be listed too (a base that has also read some
    /// math, in exactly these shares).
    #[arg(long, value_delimiter = ',', value_name = "DOMAIN=W")]
    mix: Vec<String>,
    /// A small share of another field in the base's pretraining (`FIELD=SHARE`, e.g.
    /// `math=0.05`: a base that has read some math, as web-trained models have); the source
    /// field keeps the rest. Each field's domains at their natural token shares.
    #[arg(long, value_delimiter = ',', value_name = "FIELD=SHARE", conflicts_with = "mix")]
    also: Vec<String>,
    /// Run folder [default: `runs/base-PRESET`].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    optim: Optim,
}

/// Runs `pretrain`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let device = a.optim.runtime.apply();
    let corpus = mixagent_sampler::Corpus::open(&a.corpus)
        .with_context(|| format!("--corpus {}", a.corpus.display()))?;
    let model = ModelConfig::preset(&a.preset, corpus.manifest.tokenizer.vocab_size as usize)?;
    let space = corpus.manifest.domain_space()?;
    if let Some(d) = a
        .mix
        .iter()
        .filter_map(|s| s.split_once('=').map(|(d, _)| d))
        .find(|d| space.id(d).is_err())
    {
        bail!(
            "--mix `{d}`: no such domain in {} (it has: {})",
            a.corpus.display(),
            space.names().collect::<Vec<_>>().join(", ")
        );
    }
    let known = space.fields();
    let has = |f: &str| known.iter().any(|k| k.as_str() == f);
    let list = || known.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ");
    let source = match &a.field {
        Some(f) if !has(f) => bail!(
            "--field `{f}`: no such field in {} (it has: {}); pass one of them",
            a.corpus.display(),
            list()
        ),
        Some(f) => f.clone(),
        None => known.first().map(|f| f.as_str().to_string()).context("the corpus has no field")?,
    };
    if let Some(f) =
        a.also.iter().filter_map(|s| s.split_once('=')).map(|(f, _)| f).find(|f| !has(f))
    {
        bail!(
            "--also `{f}`: no such field in {} (it has: {}); name one of them",
            a.corpus.display(),
            list()
        );
    }
    let mut fields = vec![source.clone()];
    let weights: std::collections::BTreeMap<String, f64> = if !a.also.is_empty() {
        let mut w = std::collections::BTreeMap::new();
        for (f, v) in name_values(&a.also, "--also", "FIELD=SHARE")? {
            if !(v > 0.0 && v < 1.0) || f == source {
                bail!(
                    "--also `{f}={v}`: the share must be in (0, 1), for a field other than `{source}`"
                );
            }
            fields.push(f.clone());
            w.insert(f, v);
        }
        let rest = 1.0 - w.values().sum::<f64>();
        if rest <= 0.0 {
            bail!(
                "--also: the shares sum to {:.3}; the source field `{source}` needs the rest",
                1.0 - rest
            );
        }
        w.insert(source.clone(), rest);
        w
    } else if a.mix.is_empty() {
        [(source.clone(), 1.0)].into()
    } else {
        let w: std::collections::BTreeMap<String, f64> =
            name_values(&a.mix, "--mix", "DOMAIN=WEIGHT")?.into_iter().collect();
        if let Some((d, v)) = w.iter().find(|(_, v)| !v.is_finite() || **v < 0.0) {
            bail!("--mix `{d}={v}`: weights must be finite and not negative");
        }
        let sum: f64 = w.values().sum();
        if sum <= 0.0 {
            bail!("--mix: the weights sum to 0; give at least one domain a positive weight");
        }
        w.into_iter().map(|(d, v)| (d, v / sum)).collect()
    };
    // Without `--mix`, distractors enter the base at the small share the corpus config gives
    // them (a domain-level mixture); with none weighted, the field-level mixture. With it, the
    // space holds every field a weighted domain belongs to, the source field first.
    let (level, weights) = if !a.mix.is_empty() {
        for (d, _) in weights.iter().filter(|(_, w)| **w > 0.0) {
            let field = space.domain(space.id(d)?).field.as_str().to_string();
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        ("domains", weights)
    } else if let Some(by_domain) = corpus.manifest.pretrain_mixture(&weights) {
        ("domains", by_domain)
    } else {
        ("fields", weights)
    };
    let spec = RunSpec {
        train: a.optim.config(&model, 3e-3, device)?,
        model,
        corpus: a.corpus.clone(),
        space: SpaceSpec { level: level.into(), fields, groups: Vec::new() },
        schedule: ScheduleSpec { stages: vec![StageSpec { tokens: a.tokens, weights }] },
        init: None,
        device,
    };
    let out = a.out.unwrap_or_else(|| PathBuf::from(format!("runs/base-{}", a.preset)));
    train_with_progress(&spec, &out)
}

/// Parses `NAME=NUMBER` items of a flag, names trimmed, in order.
fn name_values(items: &[String], flag: &str, form: &str) -> anyhow::Result<Vec<(String, f64)>> {
    items
        .iter()
        .map(|item| {
            let (name, v) = item
                .split_once('=')
                .with_context(|| format!("{flag} `{item}`: expected {form}"))?;
            let v: f64 =
                v.trim().parse().with_context(|| format!("{flag} `{item}`: not a number"))?;
            Ok((name.trim().to_string(), v))
        })
        .collect()
}
