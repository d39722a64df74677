//! `mixagent demo`: the whole pipeline at the `demo` scale, from the repository root, in one
//! command (README): set-up, corpus preparation, a proxy and a target base model, trajectory
//! collection on the proxy, the agent, and the comparison of the agent with every baseline
//! steering the target model, ending with the table and the report's path.
//!
//! Every step is a child process of this binary (or `scripts/setup.sh`) and resumes or skips
//! finished work, so a killed demo continues where it stopped. Progress is each step's own
//! output under a `demo [i/n]` header with the elapsed time and an ETA from the steps' measured
//! durations on 2 cores, rescaled by how fast this machine has been so far.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Runs at a time in collection and comparison.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// The corpus config: the version-2 default, or `configs/v1.toml` to reproduce the
    /// version-1 demo (move `data/default` and `runs/demo*` away when switching; it needs
    /// BIG-bench 1.0.0, which only a cache that already holds it still has).
    #[arg(long, default_value = "configs/default.toml")]
    corpus_config: String,
    /// Share of math text in both bases' pretraining (`pretrain --also math=SHARE`), as the
    /// headroom readings' bases read (web-trained models have seen some math; without it the
    /// math benchmarks are not alive for the base). `0` pretrains on general text only, as the
    /// version-1 demo did (`--corpus-config configs/v1.toml --base-math 0` reproduces it).
    #[arg(long, default_value_t = 0.05)]
    base_math: f64,
}

/// One step: what it does, how long it took on 2 cores, the command, and the file whose
/// presence means it is done (steps without one resume or skip by themselves).
struct Step {
    what: &'static str,
    secs: f64,
    program: Option<&'static str>,
    args: Vec<String>,
    done_if: Option<&'static str>,
}

fn step(what: &'static str, secs: f64, args: &str, done_if: Option<&'static str>) -> Step {
    Step {
        what,
        secs,
        program: None,
        args: args.split_whitespace().map(String::from).collect(),
        done_if,
    }
}

/// The demo's steps. The durations are this machine class's (2 cores), measured by a full
/// version-2 demo from a clean clone with the set-up cache warm and the machine to itself,
/// 2026-12-05 (README): 25 min 9 s in all.
fn steps(workers: usize, corpus_config: &str, base_math: f64) -> Vec<Step> {
    let also = if base_math > 0.0 { format!(" --also math={base_math}") } else { String::new() };
    vec![
        Step {
            what: "set-up: libtorch and the raw corpora (cached; seconds when warm)",
            secs: 1.0,
            program: Some("bash"),
            args: vec!["scripts/setup.sh".into()],
            done_if: None,
        },
        step(
            "prepare the corpus (BPE tokenizer, shards, feedback sets)",
            29.0,
            &format!("prepare --config {corpus_config} --out data/default"),
            Some("data/default/manifest.json"),
        ),
        step("the corpus table", 2.0, "corpus stats --corpus data/default", None),
        step(
            "pretrain the proxy base (demo preset, 0.34M parameters, 4M tokens, general text and a little math)",
            140.0,
            &format!("pretrain --corpus data/default --preset demo --tokens 4000000{also} --out runs/demo/base"),
            None,
        ),
        step(
            "pretrain the target base (demo-target preset, 1.1M parameters, 2M tokens)",
            151.0,
            &format!("pretrain --corpus data/default --preset demo-target --tokens 2000000{also} --out runs/demo/target"),
            None,
        ),
        step(
            "collect 32 mixing trajectories x 10 stages on the proxy",
            401.0,
            &format!("collect --config experiments/collect-demo.toml --workers {workers}"),
            None,
        ),
        step(
            "train the agent (warm-up, then CQL)",
            124.0,
            "train-agent --trajectories runs/collect-demo --config experiments/agent-demo.toml --out runs/agent-demo",
            Some("runs/agent-demo/agent.json"),
        ),
        step(
            "compare: the agent and 9 baselines steer the target model, 3 seeds each, then benchmarks",
            664.0,
            &format!("compare --config experiments/compare-demo.toml --workers {workers}"),
            None,
        ),
    ]
}

fn minutes(secs: f64) -> String {
    format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
}

/// A corpus left at `dir` by an earlier demo must come from today's `config` (the default
/// corpus changed from version 1 to 2): reusing another would silently measure other data.
fn check_demo_corpus(dir: &Path, config: &Path) -> anyhow::Result<()> {
    let Ok(prepared) = std::fs::read_to_string(dir.join("prepare.toml")) else {
        return Ok(()); // nothing prepared yet
    };
    let wanted = toml::to_string(&mixagent_corpus::PrepareConfig::load(config, &[])?)?;
    if prepared != wanted {
        bail!(
            "{} was prepared from another corpus config than today's {} (an older default, e.g. the version-1 corpus); \
             the demo's models under runs/demo were trained on it too. Move both away (or delete them) and rerun the demo",
            dir.display(),
            config.display()
        );
    }
    Ok(())
}

/// Runs `demo`.
pub fn run(a: Args) -> anyhow::Result<()> {
    if !(0.0..1.0).contains(&a.base_math) {
        bail!("--base-math {} is not a share in [0, 1): the bases' share of math text (0.05 by default, 0 for general text only)", a.base_math);
    }
    for needed in [a.corpus_config.as_str(), "experiments/compare-demo.toml", "scripts/setup.sh"] {
        if !Path::new(needed).exists() {
            bail!("{needed} not found: run `mixagent demo` from the repository root (or `bash scripts/demo.sh`)");
        }
    }
    check_demo_corpus(Path::new("data/default"), Path::new(&a.corpus_config))?;
    let steps = steps(a.workers.max(1), &a.corpus_config, a.base_math);
    let total_estimate: f64 = steps.iter().map(|s| s.secs).sum();
    let start = Instant::now();
    // Measured time over estimated time of the steps that ran, for the ETA.
    let (mut measured, mut estimated) = (0.0f64, 0.0f64);
    let exe = std::env::current_exe()?;
    for (i, s) in steps.iter().enumerate() {
        let elapsed = start.elapsed().as_secs_f64();
        let rest: f64 = steps[i..].iter().map(|s| s.secs).sum();
        // Rescale by this machine's pace once a few minutes of steps have run (short steps
        // say little); clamped, so one odd step cannot make the ETA absurd.
        let pace = if measured > 120.0 { (measured / estimated).clamp(0.5, 3.0) } else { 1.0 };
        eprintln!(
            "\ndemo [{}/{}] {} (elapsed {}, about {} to go)",
            i + 1,
            steps.len(),
            s.what,
            minutes(elapsed),
            minutes(rest * pace)
        );
        if let Some(done) = s.done_if.filter(|d| Path::new(d).exists()) {
            eprintln!("demo: {done} exists; skipping (delete it to redo this step)");
            continue;
        }
        let t = Instant::now();
        let mut cmd = match s.program {
            Some(p) => Command::new(p),
            None => Command::new(&exe),
        };
        let status = cmd
            .args(&s.args)
            .status()
            .with_context(|| format!("cannot start step {}: {}", i + 1, s.what))?;
        if !status.success() {
            bail!(
                "demo step {} ({}) failed: {status}; fix the cause above and rerun `mixagent demo`: finished steps are skipped",
                i + 1,
                s.what
            );
        }
        let took = t.elapsed().as_secs_f64();
        if took > 5.0 {
            measured += took;
            estimated += s.secs;
        }
    }
    let report = PathBuf::from("runs/compare-demo/report.html");
    eprintln!(
        "\ndemo finished in {} (about {} on 2 cores from a warm set-up cache); the table is above, the report is {}",
        minutes(start.elapsed().as_secs_f64()),
        minutes(total_estimate),
        report.display()
    );
    Ok(())
}
