//! `mixagent headroom --config C`: does mixing matter for this corpus, by how much, and where?
//! The gates of DESIGN §10, measured with paired seeds, before any agent is trained.
//!
//! Four phases, each a `mixagent compare` child run (resumable: finished runs are kept), then
//! the analysis of `mixagent_report::headroom`:
//! 1. **relevance** (G1), on the proxy (or the target when no proxy is given), selection seeds:
//!    for every domain, the whole CPT budget on it (`relevance = "alone"`), or half of its
//!    field's share of a uniform mixture (`"beside-uniform"`, the field split kept, with a
//!    uniform run); its help is its own field's feedback change from the base, less the
//!    uniform run's under the same seed for the latter.
//! 2. **statics** (G2's choice, G4), selection seeds, on the target and the proxy: uniform,
//!    token-proportional (`fixed:0.5`), `statics` Dirichlet draws, and two mixtures built from
//!    the relevance ablation (only the domains that help; every domain but the useless and
//!    harmful ones).
//! 3. **confirm** (G2, G3), fresh seeds, on the target: uniform, the best static mixture, and
//!    five dynamic schedules around it (target-share ramps up and down, target first then
//!    replay of the source, and anneals in the last fifth of the stages onto the helpful
//!    domains and onto each field's most helpful one); a schedule that is the best static
//!    mixture at every stage is skipped.
//! 4. **branch** (G5), the `branch_seeds`, on the proxy (or the target): `branches`
//!    mixtures (uniform and the first static draws, or with `branch_mixtures = "collection"`
//!    the branched stage of a collection's first planned trajectories), each for one stage (`branch_stage`, the
//!    middle one by default) between uniform stages (on the target with `branch_on_target`,
//!    in `branch-target/`), so that with one seed every mixture starts
//!    from the same state; the mixture's share of that stage's reward, the seed as a block.
//!    Each seed's uniform stages before the branch run once; every mixture starts from their
//!    checkpoint and stops one stage after the branch (`cpt --from --until`), the same to the
//!    last bit as the whole run's first stages (at the study scale 280 stages trained instead
//!    of 1,920).
//!
//! G0 scores the base and a target-only model (first confirmation seed) on the benchmark suite
//! (`task_items` a task; 0 skips it). G5 is the branch reading; the static mixtures' share
//! and, when the config names a trajectory collection, a ridge regression on it (a lower
//! bound) are shown beside it, and decide G5 only when no branch phase ran. Output: `headroom.md`, `headroom.json` and `relevance.svg` in `--out`.
//!
//! ```text
//! <out>/schedules/*.json             every mixture and schedule run, by name
//! <out>/{relevance,relevance-beside-uniform,statics-target,statics-proxy,confirm,branch,branch-target}/   the compare runs
//! <out>/headroom.md, headroom.json, relevance.svg
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use mixagent_report::headroom::{self, Headroom, Outcome, Relevance, Row};
use mixagent_report::{BranchMixtures, HeadroomConfig, RelevanceMethod, TaskReport};
use mixagent_shard::{write_atomic, Manifest};
use mixagent_trajectory::{dirichlet, sample_plan, CollectConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::flags::Experiment;
use crate::plans::{spec_of, Phases, Plan};

/// Arguments of `headroom`: its config, its output folder and the pool of runs.
pub type Args = Experiment;

/// The space's entries: (name, field), source field first, as the manifest lists them.
type Entries = Vec<(String, String)>;

/// Runs `headroom`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = HeadroomConfig::load(&a.config)?;
    let target = CollectConfig::load(&cfg.run, &cfg.set)
        .with_context(|| format!("the run config of {}", a.config.display()))?;
    if target.space.level != "domains" {
        bail!(
            "headroom measures domains: the run config's space.level must be \"domains\", not {:?}",
            target.space.level
        );
    }
    let manifest = Manifest::load(&target.corpus)?;
    let entries: Entries = target
        .space
        .fields
        .iter()
        .flat_map(|f| {
            manifest
                .domains
                .iter()
                .filter(move |d| d.field.as_str() == f)
                .map(|d| (d.name.clone(), d.field.to_string()))
        })
        .collect();
    if target.space.fields.len() < 2 {
        bail!("headroom needs a source and a target field in the run's space");
    }
    let (stem, out) = (a.stem(), a.out_dir());
    std::fs::create_dir_all(out.join("schedules")).with_context(|| format!("{}", out.display()))?;
    let out = std::fs::canonicalize(&out)?;
    let proxy_set: Vec<String> = cfg.set.iter().chain(&cfg.proxy_set).cloned().collect();
    let has_proxy = !cfg.proxy_set.is_empty();
    if let Some(at) = cfg.branch_stage.filter(|&at| at >= target.stages) {
        bail!(
            "branch_stage = {at} in {}, but the runs have {} stages (0 to {}): choose a stage inside the run",
            a.config.display(),
            target.stages,
            target.stages.saturating_sub(1)
        );
    }
    let title =
        if cfg.title.is_empty() { format!("mixagent headroom: {stem}") } else { cfg.title.clone() };
    let header = format!(
        "# {title}\n\nCorpus {} (fingerprint {}); {} entries over {}; {} stages × {} tokens; relevance seeds {:?}, selection seeds {:?}, confirmation seeds {:?}.\n\n",
        target.corpus.display(),
        manifest.fingerprint_label(),
        entries.len(),
        target.space.fields.join(" + "),
        target.stages,
        target.stage_tokens,
        cfg.relevance_seeds(),
        cfg.selection_seeds,
        cfg.confirm_seeds,
    );
    let phases = Phases {
        command: "headroom",
        run: &cfg.run,
        out: &out,
        pool: &a.pool,
        final_items: cfg.final_items,
        equivalent_bases: &cfg.equivalent_bases,
    };
    let phase = |name: &str, set: &[String], seeds: &[u64], plans: &[Plan]| {
        phases.run(name, set, seeds, plans, 0)
    };

    // 1. Relevance.
    let fields = &target.space.fields;
    let uniform = Plan {
        label: "uniform".into(),
        stages: vec![entries.iter().map(|(d, _)| (d.clone(), 1.0)).collect()],
    };
    // Alone: the whole CPT budget on one domain; its field's feedback change from the base says
    // what the domain does for that field on its own. Beside uniform: half its field's share of
    // a uniform mixture on it, against a uniform run; what a large share of it adds to a real
    // mixture.
    let (ablation, rel_phase, what) = match cfg.relevance {
        RelevanceMethod::Alone => (
            entries
                .iter()
                .map(|(d, _)| Plan {
                    label: format!("single-{d}"),
                    stages: vec![[(d.clone(), 1.0)].into()],
                })
                .collect::<Vec<Plan>>(),
            "relevance",
            "single-domain runs",
        ),
        RelevanceMethod::BesideUniform => {
            // Half of the domain's field's uniform share moves onto it; the field split stays
            // uniform's, so no run trains more or less of the other field than the baseline
            // (that would confound the help with forgetting).
            let n = entries.len() as f64;
            let mut plans: Vec<Plan> = entries
                .iter()
                .map(|(d, f)| {
                    let n_f = entries.iter().filter(|(_, g)| g == f).count() as f64;
                    let weight = |e: &str, g: &str| match (g == f, e == d) {
                        (false, _) => 1.0 / n,
                        (true, false) => 0.5 / n,
                        (true, true) => 0.5 / n + 0.5 * n_f / n,
                    };
                    Plan {
                        label: format!("beside-{d}"),
                        stages: vec![entries
                            .iter()
                            .map(|(e, g)| (e.clone(), weight(e, g)))
                            .collect()],
                    }
                })
                .collect();
            plans.push(Plan { label: uniform.label.clone(), stages: uniform.stages.clone() });
            (
                plans,
                "relevance-beside-uniform",
                "runs with half a field's share on one domain, and a uniform one",
            )
        }
    };
    let label_of = |d: &str| match cfg.relevance {
        RelevanceMethod::Alone => format!("single-{d}"),
        RelevanceMethod::BesideUniform => format!("beside-{d}"),
    };
    // Relevance and the branches run on the proxy when there is one.
    let (rel_set, rel_model) = if has_proxy { (&proxy_set, "proxy") } else { (&cfg.set, "target") };
    eprintln!(
        "headroom [1/4] relevance: {} {what} × {} seeds on the {rel_model}",
        ablation.len(),
        cfg.relevance_seeds().len(),
    );
    let rel_rows = phase(rel_phase, rel_set, cfg.relevance_seeds(), &ablation)?;
    let single: BTreeMap<String, Vec<Outcome>> =
        entries.iter().map(|(d, _)| (d.clone(), rel_rows[&label_of(d)].clone())).collect();
    let baseline = match cfg.relevance {
        RelevanceMethod::Alone => None,
        RelevanceMethod::BesideUniform => Some(rel_rows["uniform"].as_slice()),
    };
    let field_of: BTreeMap<String, String> = entries.iter().cloned().collect();
    let mut relevance = headroom::relevance(&single, &field_of, baseline);
    relevance.sort_by(|a, b| {
        let fa = fields.iter().position(|f| f == &a.field);
        let fb = fields.iter().position(|f| f == &b.field);
        fa.cmp(&fb).then(b.help.mean.total_cmp(&a.help.mean))
    });
    let partial = |relevance: &[Relevance],
                   statics: &[Row],
                   proxy: &[f64],
                   confirm: &[Row],
                   benchmark_gain: Option<headroom::BenchmarkGain>| {
        let report = Headroom {
            gates: Vec::new(),
            relevance_method: cfg.relevance,
            relevance: relevance.to_vec(),
            statics: statics.to_vec(),
            statics_on_proxy: proxy.to_vec(),
            confirm: confirm.to_vec(),
            mixture_share: None,
            explained: None,
            branch: None,
            benchmark_gain,
        };
        write_report(&out, &header, report, None)?;
        eprintln!("headroom: what is measured so far is in {}", out.join("headroom.md").display());
        anyhow::Ok(())
    };
    partial(&relevance, &[], &[], &[], None)?;

    // 2. Statics.
    let mut statics = vec![
        uniform,
        Plan { label: "proportional".into(), stages: Vec::new() }, // `fixed:0.5`, see spec_of
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    for i in 0..cfg.statics {
        let w = dirichlet(entries.len(), cfg.concentration, &mut rng);
        statics.push(Plan {
            label: format!("static-{i:02}"),
            stages: vec![entries.iter().map(|(d, _)| d.clone()).zip(w).collect()],
        });
    }
    let helpful: Vec<&str> = relevance
        .iter()
        .filter(|r| r.help.mean > r.help.sd.max(0.0))
        .map(|r| r.domain.as_str())
        .collect();
    let kept: Vec<&str> =
        relevance.iter().filter(|r| !r.useless_or_harmful()).map(|r| r.domain.as_str()).collect();
    for (label, set) in [("helpful-only", &helpful), ("no-useless-or-harmful", &kept)] {
        let Some(stage) = field_balanced(&entries, fields, set) else { continue };
        let plan = Plan { label: label.into(), stages: vec![stage] };
        // A mixture already planned (every domain helpful is uniform; every domain either
        // helpful or useless/harmful makes the two the same) runs once, under its first name.
        if let Some(same) = statics.iter().find(|p| p.same_mixture(&plan)) {
            eprintln!("headroom: {label} is the mixture of {}; one run of it", same.label);
            continue;
        }
        statics.push(plan);
    }
    eprintln!(
        "headroom [2/4] statics: {} static mixtures × {} seeds on the target{}",
        statics.len(),
        cfg.selection_seeds.len(),
        if has_proxy { " and the proxy" } else { "" }
    );
    let on_target = phase("statics-target", &cfg.set, &cfg.selection_seeds, &statics)?;
    let on_proxy = if has_proxy {
        Some(phase("statics-proxy", &proxy_set, &cfg.selection_seeds, &statics)?)
    } else {
        None
    };
    let mut static_rows = rows(&out, &statics, &on_target);
    static_rows.sort_by(|a, b| b.mean_balanced().total_cmp(&a.mean_balanced()));
    let proxy_means: Vec<f64> = match &on_proxy {
        Some(rows) => static_rows
            .iter()
            .map(|r| {
                let o = &rows[&r.label];
                o.iter().map(|x| x.balanced).sum::<f64>() / o.len().max(1) as f64
            })
            .collect(),
        None => Vec::new(),
    };

    partial(&relevance, &static_rows, &proxy_means, &[], None)?;

    // 3. Confirmation on fresh seeds.
    let best = statics.iter().find(|p| p.label == static_rows[0].label).expect("a static");
    let best_stage = match best.stages.first() {
        Some(s) => s.clone(),
        None => proportional(&entries, &manifest),
    };
    let stages = target.stages;
    let mut confirm = vec![
        Plan { label: "uniform".into(), stages: statics[0].stages.clone() },
        Plan { label: "best-static".into(), stages: vec![best_stage.clone()] },
        Plan {
            label: "ramp".into(),
            stages: (0..stages)
                .map(|t| {
                    with_target_share(
                        &best_stage,
                        &entries,
                        0.2 + 0.6 * t as f64 / (stages.max(2) - 1) as f64,
                    )
                })
                .collect(),
        },
        Plan {
            label: "target-then-replay".into(),
            stages: (0..stages)
                .map(|t| {
                    with_target_share(&best_stage, &entries, if 2 * t < stages { 0.8 } else { 0.2 })
                })
                .collect(),
        },
    ];
    // The reverse ramp: the target first, then more and more of the source, so the source's
    // feedback is read right after its own data (recency against forgetting).
    confirm.push(Plan {
        label: "ramp-down".into(),
        stages: (0..stages)
            .map(|t| {
                with_target_share(
                    &best_stage,
                    &entries,
                    0.8 - 0.6 * t as f64 / (stages.max(2) - 1) as f64,
                )
            })
            .collect(),
    });
    // Anneals in the last fifth of the stages: onto the helpful domains, and onto each field's
    // single most helpful one (which differs from the best static mixture even when that is
    // the helpful domains themselves).
    let decay = stages - (stages / 5).max(1);
    let top: Vec<&str> = fields
        .iter()
        .filter_map(|f| relevance.iter().find(|r| &r.field == f).map(|r| r.domain.as_str()))
        .collect();
    for (label, keep) in [("anneal-helpful", &helpful), ("anneal-top", &top)] {
        if let Some(anneal) = field_balanced(&entries, fields, keep) {
            confirm.push(Plan {
                label: label.into(),
                stages: (0..stages)
                    .map(|t| if t < decay { best_stage.clone() } else { anneal.clone() })
                    .collect(),
            });
        }
    }
    // A schedule that is the best static mixture at every stage (the helpful-domain anneal
    // when the best static is the helpful domains) would only re-run it.
    let same = |a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>| {
        a.len() == b.len()
            && a.iter().zip(b).all(|((da, wa), (db, wb))| da == db && (wa - wb).abs() < 1e-12)
    };
    confirm.retain(|p| {
        let repeat = !["uniform", "best-static"].contains(&p.label.as_str())
            && p.stages.iter().all(|s| same(s, &best_stage));
        if repeat {
            eprintln!(
                "headroom: schedule {} is the best static mixture at every stage; skipped",
                p.label
            );
        }
        !repeat
    });
    eprintln!("headroom [3/4] confirm: uniform, the best static ({}) and {} dynamic schedules × {} fresh seeds on the target", static_rows[0].label, confirm.len() - 2, cfg.confirm_seeds.len());
    // Scored on the benchmarks too (G2's benchmark half) when the config asks for benchmarks.
    let confirmed =
        phases.run("confirm", &cfg.set, &cfg.confirm_seeds, &confirm, cfg.task_items)?;
    let confirm_rows = rows(&out, &confirm, &confirmed);
    let benchmark_gain = if cfg.task_items > 0 {
        let reports = |plan: &Plan| {
            cfg.confirm_seeds
                .iter()
                .map(|&s| {
                    TaskReport::read(&phases.run_dir("confirm", plan, s).join("eval-full.json"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let base = TaskReport::read(&out.join("confirm").join("base-eval-full.json"))?;
        Some(headroom::benchmark_gain(
            &base,
            &reports(&confirm[1])?,
            &reports(&confirm[0])?,
            fields,
        ))
    } else {
        None
    };

    partial(&relevance, &static_rows, &proxy_means, &confirm_rows, benchmark_gain.clone())?;

    // 4. G5's branch reading: the mixtures (uniform and the first static draws) each for one
    // stage from a shared state, uniform before and after, on the confirmation seeds.
    let branches = match cfg.branch_mixtures {
        BranchMixtures::Statics => cfg.branches.min(cfg.statics + 1),
        BranchMixtures::Collection => cfg.branches,
    };
    let branch = if branches >= 3 {
        let at = cfg.branch_stage.unwrap_or(stages / 2);
        let uniform = &statics[0].stages[0];
        let (model_set, branch_model) =
            if cfg.branch_on_target { (&cfg.set, "target") } else { (rel_set, rel_model) };
        let branch_set: Vec<String> = model_set.iter().chain(&cfg.branch_set).cloned().collect();
        let tried: Vec<BTreeMap<String, f64>> = match cfg.branch_mixtures {
            BranchMixtures::Statics => statics
                .iter()
                .filter(|p| p.label.starts_with("static-"))
                .map(|p| p.stages[0].clone())
                .collect(),
            BranchMixtures::Collection => {
                collection_mixtures(&cfg.run, &branch_set, branches - 1, at)?
            }
        };
        let plans: Vec<Plan> = std::iter::once(uniform)
            .chain(&tried)
            .take(branches)
            .enumerate()
            .map(|(i, mixture)| {
                let mut stages = vec![uniform.clone(); at];
                stages.extend([mixture.clone(), uniform.clone()]);
                Plan { label: format!("branch-{i:02}"), stages }
            })
            .collect();
        eprintln!(
            "headroom [4/4] branch: {} mixtures ({}) at stage {at} from a shared state × {} seeds on the {branch_model}",
            plans.len(),
            cfg.branch_mixtures.describe(),
            cfg.branch_seeds().len(),
        );
        // Target runs in a folder of their own: a proxy run of the same schedule and seed
        // is another run.
        let folder = if cfg.branch_on_target && has_proxy { "branch-target" } else { "branch" };
        let runs = phases.branches(folder, &branch_set, cfg.branch_seeds(), &plans, at, stages)?;
        headroom::branch_share(&rows(&out, &plans, &runs), at, branch_model)
    } else {
        None
    };

    // G5 from a collection.
    let explained = match &cfg.trajectories {
        Some(dir) => {
            let trajs = mixagent_trajectory::read_collection(dir)?;
            if trajs.len() < 10 {
                bail!("{}: {} trajectories; G5 needs at least 10", dir.display(), trajs.len());
            }
            Some(headroom::explained_by_mixture(&trajs, 5, 1e-3))
        }
        None => None,
    };

    // G0: the base and a target-only model on the benchmark suite.
    let g0 = if cfg.task_items > 0 {
        eprintln!(
            "headroom: G0, the benchmark suite ({} items a task) on the base and a target-only model",
            cfg.task_items
        );
        let dir = out.join("benchmarks");
        let seed = cfg.confirm_seeds[0];
        let plan = [Plan {
            label: "target-only".into(),
            stages: vec![without_field(&entries, &fields[0])],
        }];
        // The confirm phase scored the same base on the same tasks and feedback items: reuse
        // it (a compare skips a base score it finds) instead of scoring the base twice.
        let final_scores = format!("base-final-feedback-{}.json", cfg.final_items);
        for name in ["base-eval-full.json", final_scores.as_str()] {
            let reuse = dir.join(name);
            if !reuse.exists() {
                if let Ok(bytes) = std::fs::read(out.join("confirm").join(name)) {
                    std::fs::create_dir_all(&dir)?;
                    write_atomic(&reuse, &bytes)?;
                }
            }
        }
        phases.run("benchmarks", &cfg.set, &[seed], &plan, cfg.task_items)?;
        let base = TaskReport::read(&dir.join("base-eval-full.json"))?;
        let run = phases.run_dir("benchmarks", &plan[0], seed);
        let only = TaskReport::read(&run.join("eval-full.json"))?;
        Some(headroom::benchmarks_alive(&base, &only, fields))
    } else {
        None
    };
    let md = write_report(
        &out,
        &header,
        Headroom {
            gates: Vec::new(),
            relevance_method: cfg.relevance,
            relevance,
            statics: static_rows,
            statics_on_proxy: proxy_means,
            confirm: confirm_rows,
            mixture_share: None,
            explained,
            branch,
            benchmark_gain,
        },
        g0,
    )?;
    println!("{md}");
    println!("report in {}", out.join("headroom.md").display());
    Ok(())
}

/// Each plan's outcomes as a report row.
fn rows(out: &Path, plans: &[Plan], outcomes: &BTreeMap<String, Vec<Outcome>>) -> Vec<Row> {
    plans
        .iter()
        .map(|p| Row {
            label: p.label.clone(),
            spec: spec_of(out, p),
            outcomes: outcomes[&p.label].clone(),
        })
        .collect()
}

/// The mixtures at stage `at` of the first `n` trajectories a collection with the run config
/// `run` (and the overrides `set`, `families.*` among them) would plan, by entry name.
fn collection_mixtures(
    run: &Path,
    set: &[String],
    n: usize,
    at: usize,
) -> anyhow::Result<Vec<BTreeMap<String, f64>>> {
    let config = CollectConfig::load(run, set)?;
    let manifest = Manifest::load(&config.corpus)?;
    let space = config.space.resolve(&manifest.domain_space()?)?;
    let plan = sample_plan(&space, &config.families, n, config.stages, config.seed)?;
    Ok(plan
        .iter()
        .map(|t| {
            space.domains().iter().zip(&t.mixtures[at]).map(|(d, &w)| (d.name.clone(), w)).collect()
        })
        .collect())
}

/// Decides the gates from what `report` holds (missing phases read "not measured") and writes
/// `headroom.md`, `headroom.json` and `relevance.svg`; returns the Markdown. Called after every
/// phase, so a long run shows what it has measured so far.
fn write_report(
    out: &Path,
    header: &str,
    mut report: Headroom,
    g0: Option<headroom::Gate>,
) -> anyhow::Result<String> {
    report.mixture_share = headroom::mixture_share(&report.statics);
    report.gates = headroom::gates(g0, &report);
    let md = format!("{header}{}", report.to_markdown());
    write_atomic(out.join("headroom.md"), md.as_bytes())?;
    write_atomic(out.join("headroom.json"), &serde_json::to_vec_pretty(&report)?)?;
    write_atomic(out.join("relevance.svg"), relevance_svg(&report.relevance).as_bytes())?;
    Ok(md)
}

/// Every entry of the other fields, evenly (a target-only mixture when `field` is the source).
fn without_field(entries: &Entries, field: &str) -> BTreeMap<String, f64> {
    entries.iter().filter(|(_, f)| f != field).map(|(d, _)| (d.clone(), 1.0)).collect()
}

/// Each field half (equal shares), spread evenly over the listed domains of that field; `None`
/// when some field has none of them.
fn field_balanced(
    entries: &Entries,
    fields: &[String],
    keep: &[&str],
) -> Option<BTreeMap<String, f64>> {
    let mut w = BTreeMap::new();
    for f in fields {
        let mine: Vec<&String> = entries
            .iter()
            .filter(|(d, g)| g == f && keep.contains(&d.as_str()))
            .map(|(d, _)| d)
            .collect();
        if mine.is_empty() {
            return None;
        }
        let each = 1.0 / (fields.len() * mine.len()) as f64;
        w.extend(mine.into_iter().map(|d| (d.clone(), each)));
    }
    Some(w)
}

/// The mixture `w` with its target fields' total set to `share` (within-field weights kept).
fn with_target_share(
    w: &BTreeMap<String, f64>,
    entries: &Entries,
    share: f64,
) -> BTreeMap<String, f64> {
    let source = &entries[0].1;
    let is_source = |d: &str| entries.iter().any(|(e, f)| e == d && f == source);
    let (s, t): (f64, f64) =
        w.iter()
            .fold((0.0, 0.0), |(s, t), (d, x)| if is_source(d) { (s + x, t) } else { (s, t + x) });
    w.iter()
        .map(|(d, x)| {
            let v = if is_source(d) {
                if s > 0.0 {
                    x / s * (1.0 - share)
                } else {
                    0.0
                }
            } else if t > 0.0 {
                x / t * share
            } else {
                0.0
            };
            (d.clone(), v)
        })
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// The token-proportional mixture as named weights (each field half, by training tokens).
fn proportional(entries: &Entries, manifest: &Manifest) -> BTreeMap<String, f64> {
    let tokens = |d: &str| {
        manifest.domains.iter().find(|e| e.name == d).map_or(0, |e| e.train.tokens) as f64
    };
    let mut fields: Vec<&str> = entries.iter().map(|(_, f)| f.as_str()).collect();
    fields.dedup();
    let mut w = BTreeMap::new();
    for f in &fields {
        let total: f64 = entries.iter().filter(|(_, g)| g == f).map(|(d, _)| tokens(d)).sum();
        for (d, _) in entries.iter().filter(|(_, g)| g == f) {
            w.insert(d.clone(), tokens(d) / total.max(1.0) / fields.len() as f64);
        }
    }
    w
}

/// A horizontal bar chart of each domain's help (mean ± 95% interval), grouped by field.
fn relevance_svg(rel: &[Relevance]) -> String {
    use std::fmt::Write;
    let (row, left, width) = (18.0, 190.0, 420.0);
    let h = 40.0 + row * rel.len() as f64;
    let lim = rel
        .iter()
        .map(|r| r.help.mean.abs() + r.help.half.abs().min(1.0))
        .filter(|v| v.is_finite())
        .fold(1e-9, f64::max);
    let x = |v: f64| left + width / 2.0 + v / lim * width / 2.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{h}" font-family="sans-serif" font-size="11">"#,
        left + width + 20.0
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="14">help of each domain for its own field's feedback (± 95% interval)</text>"#
    );
    let _ = write!(
        s,
        r##"<line x1="{0}" x2="{0}" y1="22" y2="{1}" stroke="#888"/>"##,
        x(0.0),
        h - 10.0
    );
    for (i, r) in rel.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let colour = if r.strongly_relevant() {
            "#2a7"
        } else if r.useless_or_harmful() {
            "#c44"
        } else {
            "#68a"
        };
        let (a, b) = (x(0.0).min(x(r.help.mean)), x(0.0).max(x(r.help.mean)));
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{} ({})</text>"#,
            left - 6.0,
            y + 11.0,
            r.domain,
            r.field
        );
        let _ = write!(
            s,
            r#"<rect x="{a:.1}" y="{y}" width="{:.1}" height="{}" fill="{colour}"/>"#,
            b - a,
            row - 4.0
        );
        if r.help.half.is_finite() {
            let _ = write!(
                s,
                r#"<line x1="{:.1}" x2="{:.1}" y1="{2}" y2="{2}" stroke="black"/>"#,
                x(r.help.mean - r.help.half),
                x(r.help.mean + r.help.half),
                y + (row - 4.0) / 2.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
