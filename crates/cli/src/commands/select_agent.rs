//! `mixagent select-agent`: the agent's settings chosen on held-out proxy runs, never on a
//! comparison's seeds (DESIGN §11). Every combination of the `--grid` values trains a
//! candidate (a `train-agent` child), the candidates steer the run config (the proxy base, on
//! held-out data-order seeds) beside uniform in one `compare` child, and the best mean
//! balanced score wins. Candidates that differ only in `decision.*` settings (how the
//! artifact's critics choose among candidate mixtures) are trained once and share the network. The winner is copied to `<out>/agent` with the selection (every
//! candidate's settings and held-out scores) in its provenance (`training.selection`).
//!
//! ```text
//! <out>/candidates/cNN/          each candidate's artifact and overrides.json
//! <out>/heldout/                 the compare of the candidates on the held-out seeds
//! <out>/heldout-N/               the same in the N-th `--setting` (e.g. the 2-D space)
//! <out>/selection.json           the grid, every candidate's score, the choice
//! <out>/agent/                   the chosen artifact, selection in its provenance
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use mixagent_agent::AgentConfig;
use mixagent_policy::{read_f32_tensors, AgentSchema, DecisionConfig, Policy};
use mixagent_shard::write_atomic;
use serde_json::{json, Value};

use crate::flags::Pool;

/// Arguments of `select-agent`.
#[derive(clap::Args)]
pub struct Args {
    /// Collection folder the candidates train on.
    #[arg(long)]
    trajectories: PathBuf,
    /// Agent settings every candidate starts from (TOML; see `experiments/agent-*.toml`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// A setting and the values to try, `KEY=V1,V2,...` (repeatable; every combination is a
    /// candidate), e.g. `--grid cql.alpha=0.1,1 --grid 'algorithm="cql","iql"'`.
    #[arg(long = "grid", value_name = "KEY=V1,V2", required = true)]
    grid: Vec<String>,
    /// A setting every candidate shares, `KEY=VALUE` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The run config the candidates steer: the proxies' (collect config), not the target
    /// model a comparison reports on.
    #[arg(long)]
    run: PathBuf,
    /// Override a key of the run config, `KEY=VALUE` (repeatable).
    #[arg(long = "run-set", value_name = "KEY=VALUE")]
    run_set: Vec<String>,
    /// Another held-out setting, `KEY=VALUE[;KEY=VALUE...]` run-config overrides on top of
    /// `--run-set` (repeatable), e.g. `--setting 'space.level="fields"'` for the 2-D space:
    /// every candidate also runs there, and the choice is by the mean over all settings of
    /// the mean balanced score, so settings that pull apart (a space where one candidate runs
    /// to a corner) are weighed together.
    #[arg(long = "setting", value_name = "KEY=VALUE;...")]
    settings: Vec<String>,
    /// Held-out data-order seeds; keep them apart from any comparison's.
    #[arg(long, value_delimiter = ',', default_value = "100,101,102")]
    seeds: Vec<u64>,
    /// Output folder [default: runs/select-NAME, NAME the collection folder without `collect-`].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    pool: Pool,
}

/// Every combination of the grid's values, as `KEY=VALUE` overrides in grid order.
fn combinations(grid: &[String]) -> anyhow::Result<Vec<Vec<String>>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for g in grid {
        let Some((key, values)) = g.split_once('=') else {
            bail!("--grid {g}: expected KEY=V1,V2,...");
        };
        let values: Vec<&str> = values.split(',').filter(|v| !v.trim().is_empty()).collect();
        if values.is_empty() {
            bail!("--grid {g}: no values");
        }
        out = out
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(format!("{}={}", key.trim(), v.trim()));
                    c
                })
            })
            .collect();
    }
    Ok(out)
}

/// The run-config overrides of one `--setting` (`KEY=VALUE;KEY=VALUE`).
fn setting_overrides(setting: &str) -> anyhow::Result<Vec<String>> {
    let more: Vec<String> =
        setting.split(';').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect();
    if more.is_empty() || more.iter().any(|x| !x.contains('=')) {
        bail!("--setting {setting}: expected KEY=VALUE[;KEY=VALUE...]");
    }
    Ok(more)
}

/// Runs `mixagent ARGS` as a child, failing with `what` and its status.
fn child(args: &[OsString], what: &str) -> anyhow::Result<()> {
    let status = Command::new(std::env::current_exe()?).args(args).status()?;
    if !status.success() {
        bail!("{what} failed ({status}); rerun to resume");
    }
    Ok(())
}

/// Runs `select-agent`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let text = match &a.config {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?),
        None => None,
    };
    let candidates = combinations(&a.grid)?;
    // Every candidate's settings are checked before anything trains.
    for c in &candidates {
        let all: Vec<String> = a.set.iter().chain(c).cloned().collect();
        AgentConfig::load(text.as_deref(), &all)
            .with_context(|| format!("candidate settings {}", c.join(" ")))?;
    }
    let out = a.out.clone().unwrap_or_else(|| {
        let name = a.trajectories.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        PathBuf::from("runs").join(format!("select-{}", name.trim_start_matches("collect-")))
    });
    std::fs::create_dir_all(out.join("candidates"))
        .with_context(|| format!("{}", out.display()))?;
    let out = std::fs::canonicalize(&out)?;
    eprintln!(
        "select-agent: {} candidates × {} held-out seeds on {}",
        candidates.len(),
        a.seeds.len(),
        a.run.display()
    );
    let threads = (a.pool.workers() * a.pool.threads()).to_string();
    let mut dirs = Vec::new();
    // Candidates that differ only in `decision.*` share one training: the first trains, the
    // others are its artifact with their decision settings.
    let mut trained: Vec<(Vec<String>, PathBuf)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let training: Vec<String> = c.iter().filter(|s| !is_decision(s)).cloned().collect();
        let dir = out.join("candidates").join(format!("c{i:02}"));
        let recorded = out.join("candidates").join(format!("c{i:02}.json"));
        let done = std::fs::read(&recorded)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
            .is_some_and(|r| &r == c)
            && dir.join("agent.json").exists();
        let twin = trained.iter().find(|(t, _)| *t == training).map(|(_, d)| d.clone());
        if let (false, Some(twin)) = (done, &twin) {
            eprintln!(
                "select-agent: candidate c{i:02} is {} with other decision settings: {}",
                twin.display(),
                c.join(" ")
            );
            let all: Vec<String> = a.set.iter().chain(c).cloned().collect();
            let cfg = AgentConfig::load(text.as_deref(), &all)?;
            with_decision(twin, &dir, &cfg.decision)?;
            write_atomic(&recorded, &serde_json::to_vec(c)?)?;
        } else if !done {
            eprintln!("select-agent: training candidate c{i:02}: {}", c.join(" "));
            let mut args: Vec<OsString> = vec!["train-agent".into(), "--trajectories".into()];
            args.push(a.trajectories.clone().into());
            if let Some(cfg) = &a.config {
                args.extend(["--config".into(), cfg.clone().into()]);
            }
            for s in a.set.iter().chain(c) {
                args.extend(["--set".into(), s.into()]);
            }
            args.extend([
                "--out".into(),
                dir.clone().into(),
                "--threads".into(),
                (&threads).into(),
            ]);
            child(&args, &format!("training candidate c{i:02}"))?;
            write_atomic(&recorded, &serde_json::to_vec(c)?)?;
        }
        if twin.is_none() {
            trained.push((training, dir.clone()));
        }
        dirs.push(dir);
    }

    let specs: Vec<String> = dirs.iter().map(|d| format!("agent:{}", d.display())).collect();
    // The held-out settings: the run config with --run-set, then each --setting on top.
    let mut settings: Vec<(PathBuf, Vec<String>)> = vec![(out.join("heldout"), a.run_set.clone())];
    for (j, extra) in a.settings.iter().enumerate() {
        let all = a.run_set.iter().cloned().chain(setting_overrides(extra)?).collect();
        settings.push((out.join(format!("heldout-{}", j + 1)), all));
    }
    // Per setting, each candidate's (mean, interval) and uniform's.
    let mut per_setting: Vec<HeldOut> = Vec::new();
    for (heldout, run_set) in &settings {
        per_setting.push(held_out(&a, heldout, run_set, &specs)?);
    }
    let n = per_setting.len() as f64;
    let mut scored = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let each: Vec<(f64, f64)> = per_setting.iter().map(|(c, _)| c[i]).collect();
        let mean = each.iter().map(|s| s.0).sum::<f64>() / n;
        scored.push((format!("c{i:02}"), c.clone(), mean, each));
    }
    let uniform_each: Vec<(f64, f64)> = per_setting.iter().map(|(_, u)| *u).collect();
    let uniform = uniform_each.iter().map(|s| s.0).sum::<f64>() / n;
    let best =
        scored.iter().max_by(|x, y| x.2.total_cmp(&y.2)).expect("at least one candidate").clone();
    let selection = json!({
        "seeds": a.seeds,
        "run": std::fs::canonicalize(&a.run)?,
        "run_set": a.run_set,
        "shared": a.set,
        "grid": a.grid,
        "settings": settings.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        "candidates": scored.iter().map(|(n, c, m, each)| json!({
            "name": n,
            "settings": c,
            "balanced": [each[0].0, each[0].1],
            "per_setting": each.iter().map(|s| [s.0, s.1]).collect::<Vec<_>>(),
            "mean_over_settings": m,
        })).collect::<Vec<_>>(),
        "uniform": [uniform_each[0].0, uniform_each[0].1],
        "uniform_per_setting": uniform_each.iter().map(|s| [s.0, s.1]).collect::<Vec<_>>(),
        "chosen": best.0,
        "chosen_settings": best.1,
    });
    write_atomic(out.join("selection.json"), &serde_json::to_vec_pretty(&selection)?)?;
    copy_with_selection(&out.join("candidates").join(&best.0), &out.join("agent"), &selection)?;

    println!(
        "held-out balanced score (mean ± 95% interval over seeds {:?}; {} setting(s), chosen by the mean over them):",
        a.seeds,
        settings.len()
    );
    let heads: Vec<String> = settings
        .iter()
        .enumerate()
        .map(|(j, (_, r))| {
            if j == 0 {
                "balanced".into()
            } else {
                format!("balanced, {}", r[a.run_set.len()..].join(" "))
            }
        })
        .collect();
    println!("| candidate | settings | {} | mean |", heads.join(" | "));
    println!("|---|---|{}---|", "---|".repeat(heads.len()));
    let cells = |each: &[(f64, f64)]| {
        each.iter().map(|s| format!("{:+.4} ± {:.4}", s.0, s.1)).collect::<Vec<_>>().join(" | ")
    };
    for (n, c, m, each) in &scored {
        let mark = if *n == best.0 { " (chosen)" } else { "" };
        println!("| {n}{mark} | {} | {} | {m:+.4} |", c.join(" "), cells(each));
    }
    println!("| uniform | | {} | {uniform:+.4} |", cells(&uniform_each));
    println!(
        "chosen: {} ({}); artifact in {}",
        best.0,
        best.1.join(" "),
        out.join("agent").display()
    );
    Ok(())
}

/// A balanced score's mean and 95% interval.
type Score = (f64, f64);

/// One held-out setting's scores: each candidate's, then uniform's.
type HeldOut = (Vec<Score>, Score);

/// Runs the candidates `specs` and uniform on the held-out seeds in one `compare` child in
/// `heldout` (resumable), with the run config's overrides `run_set`; returns each candidate's
/// and uniform's balanced score (mean, 95% interval).
fn held_out(
    a: &Args,
    heldout: &Path,
    run_set: &[String],
    specs: &[String],
) -> anyhow::Result<HeldOut> {
    std::fs::create_dir_all(heldout)?;
    let compare = json!({
        "run": std::fs::canonicalize(&a.run).with_context(|| format!("{}", a.run.display()))?,
        "set": run_set,
        "seeds": a.seeds,
        "policies": specs.iter().cloned().chain(["uniform".to_string()]).collect::<Vec<_>>(),
        "benchmarks": false,
        "title": "select-agent: candidates on held-out seeds",
    });
    let cfg_path = heldout.join("compare.toml");
    write_atomic(&cfg_path, toml::to_string(&compare)?.as_bytes())?;
    let args: Vec<OsString> = vec![
        "compare".into(),
        "--config".into(),
        cfg_path.into(),
        "--out".into(),
        heldout.into(),
        "--workers".into(),
        a.pool.workers().to_string().into(),
        "--threads".into(),
        a.pool.threads().to_string().into(),
    ];
    child(&args, &format!("the held-out compare in {}", heldout.display()))?;
    let table: Value = serde_json::from_slice(&std::fs::read(heldout.join("table.json"))?)?;
    let rows = table["feedback"]["rows"].as_array().cloned().unwrap_or_default();
    let score = |spec: &str| -> anyhow::Result<(f64, f64)> {
        let row = rows
            .iter()
            .find(|r| r["policy"] == spec)
            .with_context(|| format!("{spec} has no row in {}", heldout.display()))?;
        let b = &row["balanced"];
        Ok((b[0].as_f64().unwrap_or(f64::NAN), b[1].as_f64().unwrap_or(f64::NAN)))
    };
    let each = specs.iter().map(|s| score(s)).collect::<anyhow::Result<Vec<_>>>()?;
    Ok((each, score("uniform")?))
}

/// Whether a `KEY=VALUE` setting is a decision setting (no retraining needed).
fn is_decision(setting: &str) -> bool {
    setting.trim_start().starts_with("decision.")
}

/// Writes the artifact in `from` to `to` with the decision settings `decision` (checked and
/// saved atomically by `Policy::save`; the provenance's config says them too).
fn with_decision(from: &Path, to: &Path, decision: &DecisionConfig) -> anyhow::Result<()> {
    let path = from.join("agent.json");
    let mut schema: AgentSchema = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("{}", path.display()))?;
    let path = from.join("policy.safetensors");
    let tensors =
        read_f32_tensors(&std::fs::read(&path)?).with_context(|| format!("{}", path.display()))?;
    schema.decision = decision.clone();
    if let Some(cfg) = schema.training.get_mut("config") {
        cfg["decision"] = serde_json::to_value(decision)?;
    }
    Policy::save(to, schema, &tensors).with_context(|| format!("{}", to.display()))?;
    Ok(())
}

/// Copies the artifact in `from` to `to` (replaced atomically), with `selection` in its
/// provenance.
fn copy_with_selection(from: &Path, to: &Path, selection: &Value) -> anyhow::Result<()> {
    let tmp = to.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), tmp.join(entry.file_name()))?;
        }
    }
    let schema_path = tmp.join("agent.json");
    let mut schema: Value = serde_json::from_slice(&std::fs::read(&schema_path)?)?;
    schema["training"]["selection"] = selection.clone();
    write_atomic(&schema_path, &serde_json::to_vec_pretty(&schema)?)?;
    let _ = std::fs::remove_dir_all(to);
    std::fs::rename(&tmp, to).with_context(|| format!("{}", to.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_is_one_or_more_overrides() {
        assert_eq!(
            setting_overrides("space.level=\"fields\"").unwrap(),
            ["space.level=\"fields\""]
        );
        assert_eq!(setting_overrides("stages=4; seed=3").unwrap(), ["stages=4", "seed=3"]);
        for bad in ["", ";", "fields", "stages=4;fields"] {
            let e = setting_overrides(bad).unwrap_err().to_string();
            assert!(e.contains("expected KEY=VALUE"), "{bad}: {e}");
        }
    }

    #[test]
    fn every_combination_of_the_grid() {
        let g = ["cql.alpha=0.1,1".to_string(), "algorithm=\"cql\",\"iql\"".to_string()];
        let c = combinations(&g).unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], ["cql.alpha=0.1", "algorithm=\"cql\""]);
        assert_eq!(c[3], ["cql.alpha=1", "algorithm=\"iql\""]);
        assert!(combinations(&["cql.alpha".into()]).unwrap_err().to_string().contains("KEY=V1"));
        assert!(combinations(&["cql.alpha=".into()])
            .unwrap_err()
            .to_string()
            .contains("no values"));
    }
}
