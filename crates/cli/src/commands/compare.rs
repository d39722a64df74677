//! `mixagent compare --config experiments/compare-*.toml`: every policy steers the same CPT
//! run once per seed (`cpt --policy` child processes, `--workers` at a time, each resumable;
//! finished runs are kept), each final model and the base are scored on the benchmark suite
//! (`eval --suite full` child processes), and with `final_items` the base and each final model
//! are scored on that many feedback items a field (the final score), then the paper-style
//! tables, the plots and one self-contained HTML report.
//!
//! ```text
//! <out>/runs/<policy>/seed-<s>/   each steered run (run.json, checkpoints, eval-full.json,
//!                                 final-feedback-N.json with `final_items = N`)
//! <out>/base-eval-full.json       the base model's benchmark scores
//! <out>/base-final-feedback-N.json  the base's feedback on the final score's N items a field
//! <out>/logs/<policy>-seed-<s>.log
//! <out>/table.md, <out>/table.json          feedback table, then benchmark table
//! <out>/mixture.svg, <out>/scores.svg       the agent's mixture; scores over stages
//! <out>/report.html                         all of it in one page
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mixagent_report::{
    final_eval, policy_slug, CompareConfig, CompareReport, FeedbackReport, TaskReport,
};
use mixagent_shard::Manifest;
use mixagent_trajectory::{CollectConfig, SteeredRun};

use crate::children::{self, Job, Progress};
use crate::flags::Experiment;

/// Arguments of `compare`: the comparison's config, its output folder and the pool of runs.
pub type Args = Experiment;

/// One policy × seed: its run folder and log.
pub(crate) struct Run {
    pub policy: String,
    pub seed: u64,
    pub dir: PathBuf,
    pub log: PathBuf,
}

/// Runs `compare`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let mut cfg = CompareConfig::load(&a.config)?;
    let run_cfg = CollectConfig::load(&cfg.run, &cfg.set)
        .with_context(|| format!("the run config of {}", a.config.display()))?;
    preflight(&mut cfg, &run_cfg)?;
    let (stem, out) = (a.stem(), a.out_dir());
    std::fs::create_dir_all(out.join("logs")).with_context(|| format!("{}", out.display()))?;
    let runs: Vec<Run> = cfg
        .policies
        .iter()
        .flat_map(|p| {
            let slug = policy_slug(p);
            let out = &out;
            cfg.seeds.iter().map(move |&s| Run {
                policy: p.clone(),
                seed: s,
                dir: out.join("runs").join(&slug).join(format!("seed-{s}")),
                log: out.join("logs").join(format!("{slug}-seed-{s}.log")),
            })
        })
        .collect();
    refuse_stale(&runs, &run_cfg, &cfg.equivalent_bases)?;
    let (workers, threads) = (a.pool.workers(), a.pool.threads());
    let fields = run_cfg.space.fields.join(",");
    // `eval` of a checkpoint: the benchmark suite (`full`, `task_items` a task) or the final
    // score's feedback (`feedback`, `final_items` a field).
    let eval_command = |suite: &str, checkpoint: &Path, json: &Path| -> Vec<OsString> {
        let mut c: Vec<OsString> = vec!["eval".into(), checkpoint.into(), "--suite".into()];
        c.extend([suite, "--fields", &fields].map(OsString::from));
        c.extend(if suite == "full" {
            ["--task-items".into(), cfg.task_items.to_string().into()].to_vec()
        } else {
            let items = cfg.final_items.to_string();
            ["--items".into(), items.into(), "--windows".into(), "1".into()].to_vec()
        });
        // The run's corpus, not the one the checkpoint names: a base prepared before the
        // corpus gained a task or a scoring must be scored as the runs from it are.
        c.extend(["--corpus".into(), run_cfg.corpus.clone().into_os_string()]);
        c.extend(["--json".into(), json.into(), "--threads".into(), threads.to_string().into()]);
        c
    };
    let eval = |checkpoint: &Path, json: &Path| eval_command("full", checkpoint, json);
    let feedback_eval = |checkpoint: &Path, json: &Path| eval_command("feedback", checkpoint, json);
    let base_eval = out.join("base-eval-full.json");
    let base_final = out.join(final_name("base-", cfg.final_items));
    let mut jobs = Vec::new();
    let mut base_commands = Vec::new();
    if cfg.benchmarks && TaskReport::read(&base_eval).is_err() {
        base_commands.push(eval(&run_cfg.base, &base_eval));
    }
    if cfg.final_items > 0 && FeedbackReport::read(&base_final).is_err() {
        base_commands.push(feedback_eval(&run_cfg.base, &base_final));
    }
    if !base_commands.is_empty() {
        jobs.push(Job {
            label: "base model scores".into(),
            log: out.join("logs").join("base-eval.log"),
            commands: base_commands,
        });
    }
    for r in &runs {
        let mut commands = Vec::new();
        let bench_json = r.dir.join("eval-full.json");
        let final_json = r.dir.join(final_name("", cfg.final_items));
        let bench_missing = cfg.benchmarks && TaskReport::read(&bench_json).is_err();
        let final_missing = cfg.final_items > 0 && FeedbackReport::read(&final_json).is_err();
        let done = finished(&r.dir);
        // An archived record (`scripts/runs-archive.sh` keeps no checkpoints) that lacks a
        // score cannot be scored: it is trained again, which gives the same run (same seed).
        let stranded = done
            && (bench_missing || final_missing)
            && mixagent_lm::resolve_checkpoint(&r.dir).is_err();
        if stranded {
            eprintln!(
                "compare: {} is finished but unscored and has no checkpoint: training it again",
                r.dir.display()
            );
        }
        let train = !done || stranded;
        if train {
            commands.push(cpt_command(r, &cfg, threads));
        }
        if cfg.benchmarks && (train || bench_missing) {
            commands.push(eval(&r.dir, &bench_json));
        }
        if cfg.final_items > 0 && (train || final_missing) {
            commands.push(feedback_eval(&r.dir, &final_json));
        }
        if !commands.is_empty() {
            jobs.push(Job {
                label: format!("{} seed {}", r.policy, r.seed),
                log: r.log.clone(),
                commands,
            });
        }
    }
    eprintln!(
        "compare: {} policies x {} seeds = {} runs ({} jobs to do{}), {workers} at a time x {threads} thread(s) -> {}",
        cfg.policies.len(),
        cfg.seeds.len(),
        runs.len(),
        jobs.len(),
        if cfg.benchmarks { ", benchmarks included" } else { "" },
        out.display()
    );
    children::run_jobs(jobs, workers, |p| {
        if let Progress::Done { label, done, total, secs } = p {
            let eta = secs / done as f64 * (total - done) as f64;
            eprintln!("  [{done}/{total}] {label} done ({secs:.0} s, about {eta:.0} s to go)");
        }
    })?;

    let mut groups = Vec::new();
    let mut evals = Vec::new();
    for p in &cfg.policies {
        let mine: Vec<&Run> = runs.iter().filter(|r| &r.policy == p).collect();
        let steered = mine
            .iter()
            .map(|r| read_scored(&r.dir, &out, cfg.final_items))
            .collect::<anyhow::Result<Vec<_>>>()?;
        groups.push((p.clone(), steered));
        if cfg.benchmarks {
            let reports = mine
                .iter()
                .map(|r| TaskReport::read(&r.dir.join("eval-full.json")))
                .collect::<Result<Vec<_>, _>>()?;
            evals.push((p.clone(), reports));
        }
    }
    let first = groups.iter().flat_map(|(_, r)| r.first()).next();
    let title =
        if cfg.title.is_empty() { format!("mixagent compare: {stem}") } else { cfg.title.clone() };
    let mut facts = facts(&a.config, &cfg, &run_cfg, first);
    // Runs kept from an equivalent base (another machine's copy): which base trained how many.
    let mut bases = BTreeMap::<&str, usize>::new();
    for (_, runs) in &groups {
        for r in runs {
            *bases.entry(r.base.fingerprint.as_str()).or_default() += 1;
        }
    }
    if bases.len() > 1 {
        let list: Vec<String> = bases.iter().map(|(b, n)| format!("{b} ({n} runs)")).collect();
        facts.push((
            "bases".into(),
            format!(
                "{}: equivalent copies of the base (`equivalent_bases`), pretrained by the same command on different machines",
                list.join(", ")
            ),
        ));
    }
    let base_report = if cfg.benchmarks { Some(TaskReport::read(&base_eval)?) } else { None };
    let md = CompareReport {
        groups: &groups,
        benchmarks: base_report.as_ref().map(|b| (b, evals.as_slice())),
        title: &title,
        facts: &facts,
        corpus: &corpus_label(&run_cfg.corpus),
    }
    .write(&out)?;
    println!("{md}");
    println!(
        "final feedback change relative to the base, mean ± 95% interval over {} seed(s); table in {}; report in {}",
        cfg.seeds.len(),
        out.join("table.md").display(),
        out.join("report.html").display()
    );
    Ok(())
}

/// The file of the final score's evaluation at `items` a field (`prefix` "base-" for the
/// base's, in the compare folder; "" for a run's, in its folder).
fn final_name(prefix: &str, items: usize) -> String {
    format!("{prefix}final-feedback-{items}.json")
}

/// A finished run of the compare folder `out`, with its final score read from the final
/// evaluation (its own and the base's, `items` a field) when `items` > 0.
pub fn read_scored(run_dir: &Path, out: &Path, items: usize) -> anyhow::Result<SteeredRun> {
    let run = SteeredRun::read(&run_dir.join("run.json"))?;
    if items == 0 {
        return Ok(run);
    }
    let (base, last) = (out.join(final_name("base-", items)), run_dir.join(final_name("", items)));
    let eval = final_eval(
        (&base, &FeedbackReport::read(&base)?),
        (&last, &FeedbackReport::read(&last)?),
        &run.fields(),
    )?;
    Ok(run.with_final_eval(eval))
}

/// The corpus's path and fingerprint, so a report says exactly which data it measured.
fn corpus_label(corpus: &Path) -> String {
    match Manifest::load(corpus) {
        Ok(m) => format!("{} (fingerprint {})", corpus.display(), m.fingerprint_label()),
        Err(_) => corpus.display().to_string(),
    }
}

/// Checks, before the first run starts, what would otherwise fail only at evaluation: every
/// field of the space has a feedback suite in this corpus; and its benchmark tasks build (the
/// user's task file reads, the held-out text is there). A field no task applies to gets a
/// warning; when none applies to any, the report is written without the benchmark table.
fn preflight(cfg: &mut CompareConfig, run: &CollectConfig) -> anyhow::Result<()> {
    let manifest = Manifest::load(&run.corpus)?;
    for f in &run.space.fields {
        mixagent_eval::build_suite(
            &run.corpus,
            &manifest,
            f,
            run.observe.items_per_field,
            run.observe.seed,
        )
        .with_context(|| {
            format!("the feedback suite of field `{f}` (checked before any run starts)")
        })?;
    }
    if !cfg.benchmarks {
        return Ok(());
    }
    // The tasks each field gets: built-in ones, the text tasks of its held-out documents, the
    // user's own (`[[task]]` in the corpus config). Building them reads everything they need.
    let living = mixagent_eval::living::living_tasks(
        &run.corpus,
        &manifest,
        &run.space.fields,
        cfg.task_items,
        0,
    )
    .context("the benchmark tasks (checked before any run starts)")?;
    let mut none = Vec::new();
    for f in &run.space.fields {
        let builtin = mixagent_eval::BENCHMARK_FIELDS.contains(&f.as_str());
        if !builtin && !living.iter().any(|t| &t.field == f) {
            none.push(f.as_str());
        }
    }
    if none.len() == run.space.fields.len() {
        eprintln!(
            "compare: warning: no benchmark task applies to the fields {} (too little held-out text and no [[task]] of theirs in the corpus config): no benchmark table (set `benchmarks = false` to silence this)",
            none.join(", ")
        );
        cfg.benchmarks = false;
    } else if !none.is_empty() {
        eprintln!(
            "compare: warning: no benchmark task applies to the field(s) {}: the benchmark table has none for them (add a [[task]] file to the corpus config)",
            none.join(", ")
        );
    }
    Ok(())
}

/// What was run, for the top of the report.
fn facts(
    path: &Path,
    cfg: &CompareConfig,
    run: &CollectConfig,
    first: Option<&SteeredRun>,
) -> Vec<(String, String)> {
    let mut f = vec![
        ("config".to_string(), path.display().to_string()),
        ("run config".into(), format!("{} {}", cfg.run.display(), cfg.set.join(" "))),
        ("corpus".into(), corpus_label(&run.corpus)),
    ];
    if let Some(r) = first {
        f.push((
            "model steered".into(),
            format!("{} ({:.2}M parameters)", r.base.checkpoint, r.base.params as f64 / 1e6),
        ));
        f.push((
            "domain space".into(),
            format!(
                "{} entries over {} ({} level)",
                r.space.len(),
                r.fields().join(" + "),
                run.space.level
            ),
        ));
    }
    f.push((
        "continual pre-training".into(),
        format!(
            "{} stages × {} tokens (batch {} × {}, peak lr {})",
            run.stages,
            run.stage_tokens,
            run.train.batch_size,
            run.train.seq_len,
            run.train.peak_lr
        ),
    ));
    f.push(("seeds".into(), format!("{:?}", cfg.seeds)));
    f.push(("policies".into(), cfg.policies.join(", ")));
    if cfg.benchmarks {
        f.push((
            "benchmarks".into(),
            format!("eval --suite full, {} items per task", cfg.task_items),
        ));
    }
    f
}

/// A finished run steered by other files under the same spec (a retrained agent, a grown
/// collection), trained from another base (a base pretrained again, run folders copied from
/// another machine) or on another corpus (another path, or the same one prepared again with
/// other feedback sets) would silently mix into the table: refuse it. (A policy's identity
/// does not depend on the seed: build each one once.)
/// Runs trained from an `equivalent` base (another machine's copy of the base) are kept.
pub(crate) fn refuse_stale(
    runs: &[Run],
    run_cfg: &CollectConfig,
    equivalent: &[String],
) -> anyhow::Result<()> {
    let base = &run_cfg.base;
    let mut identities = std::collections::BTreeMap::new();
    let mut base_now = None;
    let mut corpus_now = None;
    let mut stale = Vec::new();
    for r in runs {
        let Ok(run) = SteeredRun::read(&r.dir.join("run.json")) else { continue };
        let corpus = corpus_now.get_or_insert_with(|| {
            mixagent_shard::Manifest::load(&run_cfg.corpus)
                .ok()
                .and_then(|m| m.fingerprint)
                .unwrap_or_default()
        });
        // Runs written before the fingerprint was recorded are checked by the corpus's path.
        let other_corpus = if run.corpus_fingerprint.is_empty() {
            run.config.corpus != run_cfg.corpus
        } else {
            &run.corpus_fingerprint != corpus
        };
        if other_corpus {
            stale.push(format!(
                "{} (run on corpus {}{}, but the corpus is {} (fingerprint {corpus}) now)",
                r.dir.display(),
                run.config.corpus.display(),
                if run.corpus_fingerprint.is_empty() {
                    String::new()
                } else {
                    format!(" (fingerprint {})", run.corpus_fingerprint)
                },
                run_cfg.corpus.display()
            ));
        }
        if !identities.contains_key(&r.policy) {
            let spec: mixagent_baselines::PolicySpec = r.policy.parse()?;
            let id = spec.identity(r.seed)?;
            identities.insert(r.policy.clone(), id);
        }
        let now = &identities[&r.policy];
        if !run.policy_identity.is_empty() && &run.policy_identity != now {
            stale.push(format!("{} ({} then, {now} now)", r.dir.display(), run.policy_identity));
        }
        let now = match base_now {
            Some(ref now) => now,
            None => base_now.insert(
                mixagent_rollout::base_record(base)
                    .with_context(|| format!("the base {} of the run config", base.display()))?,
            ),
        };
        if run.base.fingerprint != now.fingerprint {
            if !equivalent.contains(&run.base.fingerprint) {
                stale.push(format!(
                    "{} (trained from base {}, but {} is {} now)",
                    r.dir.display(),
                    run.base.fingerprint,
                    base.display(),
                    now.fingerprint
                ));
            } else if run.base.params != now.params || run.base.checkpoint != now.checkpoint {
                // An equivalent base is the same command's output on another machine: the same
                // folder and model, only the float rounding differs.
                stale.push(format!(
                    "{} (trained from base {} at {} ({} parameters), listed in `equivalent_bases`, but the base now is {} ({} parameters): an equivalent base must come from the same pretrain command; remove it from the list)",
                    r.dir.display(),
                    run.base.fingerprint,
                    run.base.checkpoint,
                    run.base.params,
                    base.display(),
                    now.params
                ));
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "these runs were steered by other files under the same policy spec, trained from another base or run on another corpus; delete them to rerun, or give them another --out:\n  {}",
            stale.join("\n  ")
        );
    }
    Ok(())
}

/// Whether `dir` holds a finished steered run.
fn finished(dir: &Path) -> bool {
    SteeredRun::read(&dir.join("run.json")).is_ok_and(|r| r.is_complete())
}

fn cpt_command(r: &Run, cfg: &CompareConfig, threads: usize) -> Vec<OsString> {
    let mut sets = cfg.set.clone();
    let reads_feedback =
        r.policy.parse::<mixagent_baselines::PolicySpec>().map_or(true, |p| p.reads_feedback());
    if cfg.static_observe_items > 0 && !reads_feedback {
        sets.push(format!("observe.items_per_field={}", cfg.static_observe_items));
    }
    cpt_args(&r.policy, &cfg.run, &sets, r.seed, &r.dir, threads)
}

/// The arguments of a `cpt` child: `policy` under the run config `run` with `sets` overriding
/// it, under `seed`, into `out`.
pub(crate) fn cpt_args(
    policy: &str,
    run: &Path,
    sets: &[String],
    seed: u64,
    out: &Path,
    threads: usize,
) -> Vec<OsString> {
    let mut c: Vec<OsString> = vec!["cpt".into(), "--policy".into(), policy.into()];
    c.extend(["--config".into(), run.into()]);
    for s in sets {
        c.extend(["--set".into(), s.into()]);
    }
    c.extend(["--set".into(), format!("seed={seed}").into()]);
    c.extend(["--out".into(), out.into(), "--threads".into(), threads.to_string().into()]);
    c
}
