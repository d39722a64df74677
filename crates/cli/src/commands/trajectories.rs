//! `mixagent trajectories sample|ls|show|export|stats|share-band`: plan a trajectory set and
//! see its coverage; list, inspect and export collected trajectories; check the trade-off they
//! carry; read where their best runs put the target share.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mixagent_core::balanced_score;
use mixagent_rollout::PlanFile;
use mixagent_sampler::Corpus;
use mixagent_shard::write_atomic;
use mixagent_trajectory::{
    coverage, export_csv, export_jsonl, read_collection, sample_plan, stage_records, store_dir,
    tradeoff, CollectConfig, SpaceEntry, Trajectory,
};

/// Subcommands of `trajectories`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Draw a collection config's plan (no training) and report how it covers the simplex.
    Sample {
        /// The collection config.
        #[arg(long)]
        config: PathBuf,
        /// Override a config value; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Folder for `plan.json` and `coverage.json` (plot them with
        /// `scripts/plot_trajectories.py`).
        #[arg(long)]
        out: PathBuf,
        /// As `collect --tilt-prior`: tilt `families.tilted` of the plan toward this agent's
        /// prior.
        #[arg(long, value_name = "AGENT")]
        tilt_prior: Option<PathBuf>,
    },
    /// List trajectories of a collection (or a folder of trajectory files).
    Ls {
        /// Collection folder or its `trajectories/` folder.
        dir: PathBuf,
    },
    /// Show one trajectory stage by stage.
    Show {
        /// A trajectory file, or a collection folder with `--id`.
        path: PathBuf,
        /// Trajectory id (`t-00017`) inside a collection folder.
        #[arg(long)]
        id: Option<String>,
    },
    /// Export every finished trajectory as one flat table (one row per trajectory and stage).
    Export {
        /// Collection folder or its `trajectories/` folder.
        dir: PathBuf,
        /// `csv` or `jsonl`.
        #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
        format: String,
        /// Output file [default: stdout].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The trade-off the set carries: correlations of target share with feedback changes.
    Stats {
        /// Collection folder or its `trajectories/` folder.
        dir: PathBuf,
        /// Also write the statistics as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Where the collection's best runs put the target share (`views.share_band`: the 10th-90th
    /// percentile over the best quarter of runs by final balanced score); with `--agent` and
    /// `--out`, a copy of that agent bounded to it (`decision.share_band`), the same network:
    /// what `train-agent --set views.share_band=true` writes, without training again.
    ShareBand {
        /// Collection folder or its `trajectories/` folder.
        dir: PathBuf,
        /// An agent trained on this collection (`train-agent --trajectories DIR`).
        #[arg(long, requires = "out")]
        agent: Option<PathBuf>,
        /// Artifact folder for the bounded copy (written atomically).
        #[arg(long, requires = "agent")]
        out: Option<PathBuf>,
    },
}

/// Runs a `trajectories` subcommand.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Sample { config, overrides, out, tilt_prior } => {
            sample(&config, &overrides, &out, tilt_prior.as_deref())
        }
        Command::Ls { dir } => ls(&dir),
        Command::Show { path, id } => show(&path, id.as_deref()),
        Command::Export { dir, format, out } => export(&dir, &format, out.as_deref()),
        Command::Stats { dir, json } => stats(&dir, json.as_deref()),
        Command::ShareBand { dir, agent, out } => {
            share_band(&dir, agent.as_deref().zip(out.as_deref()))
        }
    }
}

fn sample(
    config: &Path,
    overrides: &[String],
    out: &Path,
    tilt_prior: Option<&Path>,
) -> anyhow::Result<()> {
    let mut cfg = CollectConfig::load(config, overrides)?;
    if let Some(agent) = tilt_prior {
        cfg.families.tilt_evidence = super::collect::tilt_evidence(agent, &cfg)?;
    }
    let corpus = Corpus::open(&cfg.corpus)?;
    let space = cfg.space.resolve(&corpus.manifest.domain_space()?)?;
    let plan = sample_plan(&space, &cfg.families, cfg.trajectories, cfg.stages, cfg.seed)?;
    let entries = SpaceEntry::of(&space);
    let cov = coverage(&plan, &entries);
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    let file = PlanFile { space: entries, trajectories: plan };
    write_atomic(out.join("plan.json"), &serde_json::to_vec(&file)?)?;
    write_atomic(out.join("coverage.json"), &serde_json::to_vec_pretty(&cov)?)?;
    print!("{}", cov.render());
    println!(
        "wrote {} and {}",
        out.join("plan.json").display(),
        out.join("coverage.json").display()
    );
    Ok(())
}

fn ls(dir: &Path) -> anyhow::Result<()> {
    let set = read_collection(dir)?;
    if let Ok(text) = std::fs::read_to_string(dir.join("plan.json")) {
        let plan: PlanFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a plan file", dir.join("plan.json").display()))?;
        let partial = std::fs::read_dir(dir.join("work"))
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0);
        eprintln!(
            "{}: {} planned, {} finished, {} partial, {} not started",
            dir.display(),
            plan.trajectories.len(),
            set.len(),
            partial,
            plan.trajectories.len().saturating_sub(set.len() + partial)
        );
    }
    let Some(first) = set.first() else {
        println!("no finished trajectories in {}", dir.display());
        return Ok(());
    };
    let fields = first.fields();
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let fb: Vec<String> = fields.iter().map(|f| format!("{:>10}", format!("fb {f}"))).collect();
    println!(
        "{:<8} {:<12} {:>6} {:>10} {} {:>9} {:>8} {:>7}",
        "id",
        "family",
        "stages",
        "mean tgt",
        fb.join(" "),
        "balanced",
        "train s",
        "eval s"
    );
    for t in &set {
        let last = t.stages.last().map_or(&t.initial, |r| &r.observation);
        let shares: Vec<f64> = t.stages.iter().map(|r| t.target_share(&r.weights)).collect();
        let cells: Vec<String> =
            fields.iter().map(|f| format!("{:>10.3}", last.feedback[f])).collect();
        println!(
            "{:<8} {:<12} {:>6} {:>10.3} {} {:>+9.4} {:>8.1} {:>7.1}",
            t.id,
            t.family.name(),
            t.stages.len(),
            shares.iter().sum::<f64>() / shares.len().max(1) as f64,
            cells.join(" "),
            balanced_score(last, &t.initial, &refs).unwrap_or(f64::NAN),
            t.stages.iter().map(|r| r.train_secs).sum::<f64>(),
            t.stages.iter().map(|r| r.eval_secs).sum::<f64>(),
        );
    }
    let base: Vec<String> =
        fields.iter().map(|f| format!("{f} {:.3}", first.initial.feedback[f])).collect();
    println!("{} trajectories; base feedback: {}", set.len(), base.join(", "));
    Ok(())
}

fn show(path: &Path, id: Option<&str>) -> anyhow::Result<()> {
    let file = match id {
        Some(id) => store_dir(path).join(format!("{id}.json")),
        None => path.to_path_buf(),
    };
    let t = Trajectory::read(&file)?;
    let fields = t.fields();
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    println!(
        "{} ({}, seed {}): {:?}\nbase {} ({} params, fingerprint {}); {} of {} stages × {} tokens",
        t.id,
        t.family.name(),
        t.seed,
        t.family,
        t.base.checkpoint,
        t.base.params,
        t.base.fingerprint,
        t.stages.len(),
        t.config.stages,
        t.stages.first().map_or(0, |r| r.tokens)
    );
    let fb: Vec<String> = fields.iter().map(|f| format!("{:>10}", format!("fb {f}"))).collect();
    println!(
        "{:>5} {:>8} {} {:>9} {:>9} {:>8}  top domains",
        "stage",
        "target",
        fb.join(" "),
        "balanced",
        "reward",
        "loss"
    );
    let mut prev = 0.0;
    let base_cells: Vec<String> =
        fields.iter().map(|f| format!("{:>10.3}", t.initial.feedback[f])).collect();
    println!("{:>5} {:>8} {}", "base", "", base_cells.join(" "));
    for r in &t.stages {
        let s = balanced_score(&r.observation, &t.initial, &refs).unwrap_or(f64::NAN);
        let cells: Vec<String> =
            fields.iter().map(|f| format!("{:>10.3}", r.observation.feedback[f])).collect();
        let mut top: Vec<(usize, f64)> = r.weights.iter().copied().enumerate().collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> =
            top.iter().take(3).map(|(i, w)| format!("{} {:.2}", t.space[*i].name, w)).collect();
        println!(
            "{:>5} {:>8.3} {} {:>+9.4} {:>+9.4} {:>8.3}  {}",
            r.stage,
            t.target_share(&r.weights),
            cells.join(" "),
            s,
            s - prev,
            r.train_loss,
            top.join(", ")
        );
        prev = s;
    }
    Ok(())
}

fn export(dir: &Path, format: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let set = read_collection(dir)?;
    let records = stage_records(&set)?;
    let mut bytes = Vec::new();
    if format == "csv" {
        export_csv(&records, &mut bytes)?;
    } else {
        export_jsonl(&records, &mut bytes)?;
    }
    match out {
        Some(p) => {
            write_atomic(p, &bytes)?;
            eprintln!(
                "{} rows from {} trajectories → {}",
                records.rows.len(),
                set.len(),
                p.display()
            );
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

fn stats(dir: &Path, json: Option<&Path>) -> anyhow::Result<()> {
    let set = read_collection(dir)?;
    let t = tradeoff(&set);
    print!("{}", t.render());
    if let Some(p) = json {
        write_atomic(p, &serde_json::to_vec_pretty(&t)?)?;
    }
    Ok(())
}

fn share_band(dir: &Path, agent: Option<(&Path, &Path)>) -> anyhow::Result<()> {
    let mut set = read_collection(dir)?;
    set.sort_by_key(|t| t.index);
    let Some(first) = set.first() else {
        anyhow::bail!(
            "{}: no finished trajectories (collect some with `mixagent collect`)",
            dir.display()
        );
    };
    let band = mixagent_agent::collection_share_band(&set)
        .with_context(|| format!("{}", dir.display()))?;
    println!(
        "share band of {}: [{:.4}, {:.4}] (target share of the best quarter of runs, 10th-90th percentile)",
        dir.display(),
        band[0],
        band[1]
    );
    let Some((from, out)) = agent else { return Ok(()) };
    // The loader's checks (version, features, tensors) with its errors; the schema is its.
    let mut schema = mixagent_policy::Policy::load(from)?.schema;
    let trained = schema.training["data"]["space_fingerprint"].as_str().unwrap_or_default();
    if trained != first.space_fingerprint {
        anyhow::bail!(
            "{} was trained over another domain space than {} holds (space fingerprint {trained:?}, the collection's {:?}): give the collection the agent was trained on",
            from.display(),
            dir.display(),
            first.space_fingerprint
        );
    }
    schema.decision.share_band = band;
    if let serde_json::Value::Object(m) = &mut schema.training {
        m.insert(
            "share_band_from".into(),
            serde_json::json!({ "trajectories": dir.display().to_string(), "band": band }),
        );
    }
    let st = from.join("policy.safetensors");
    let bytes = std::fs::read(&st).with_context(|| format!("{}", st.display()))?;
    let tensors = mixagent_policy::read_f32_tensors(&bytes)?;
    mixagent_policy::Policy::save(out, schema, &tensors)
        .with_context(|| format!("writing the agent to {}", out.display()))?;
    println!("{} bounded to it -> {}", from.display(), out.display());
    Ok(())
}
