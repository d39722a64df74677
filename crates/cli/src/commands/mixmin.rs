//! `mixagent mixmin --run C`: MixMin's mixture for a run config (the baseline
//! `mixmin:DIR`; the method is in `mixagent_baselines::mixmin`). One proxy per entry of the
//! space trains the whole CPT budget (stages × stage tokens) on that entry alone from the
//! config's base (a `compare` child, resumable); every proxy and the base then score the
//! feedback suites token by token, and the mixture whose ensemble of proxies scores the best
//! balanced feedback is solved for and written.
//!
//! ```text
//! <out>/schedules/, <out>/proxies/   the single-entry runs (plans.rs)
//! <out>/mixmin.json                  the mixture, predicted scores, provenance
//! ```

use std::path::PathBuf;

use anyhow::Context;
use mixagent_baselines::mixmin::{
    field_feedback, MixMinProblem, MixMinResult, Predicted, TokenLogprobs, MIXMIN_FILE,
    MIXMIN_VERSION,
};
use mixagent_eval::Observer;
use mixagent_lm::{load_checkpoint, read_model_config, resolve_checkpoint, Llama};
use mixagent_shard::{write_atomic, FeedbackScoring, Manifest};
use mixagent_trajectory::CollectConfig;

use crate::flags::Pool;
use crate::plans::{Phases, Plan};

/// Arguments of `mixmin`.
#[derive(clap::Args)]
pub struct Args {
    /// The run config the proxies train under (the format of `experiments/collect-*.toml`:
    /// corpus, the proxy base, space, stages × stage_tokens, train, observe).
    #[arg(long)]
    run: PathBuf,
    /// Override a key of the run config, `KEY=VALUE` (repeatable), as a compare's `set`.
    #[arg(long = "set")]
    set: Vec<String>,
    /// The proxies' training seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder [default: runs/mixmin-RUN-STEM].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    pool: Pool,
}

/// Runs `mixmin`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = CollectConfig::load(&a.run, &a.set)
        .with_context(|| format!("the run config {}", a.run.display()))?;
    let out = a.out.clone().unwrap_or_else(|| {
        let stem = a.run.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        PathBuf::from("runs").join(format!("mixmin-{}", stem.trim_start_matches("collect-")))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("{}", out.display()))?;
    let out = std::fs::canonicalize(&out)?;
    let manifest = Manifest::load(&cfg.corpus)?;
    let space = cfg.space.resolve(&manifest.domain_space()?)?;
    let entries: Vec<String> = space.names().map(str::to_string).collect();
    let plans: Vec<Plan> = entries
        .iter()
        .map(|e| Plan { label: format!("single-{e}"), stages: vec![[(e.clone(), 1.0)].into()] })
        .collect();
    eprintln!(
        "mixmin: {} single-entry proxies × {} stages × {} tokens from {}, seed {}",
        entries.len(),
        cfg.stages,
        cfg.stage_tokens,
        cfg.base.display(),
        a.seed
    );
    let phases = Phases {
        command: "mixmin",
        run: &a.run,
        out: &out,
        pool: &a.pool,
        final_items: 0,
        equivalent_bases: &[],
    };
    phases.run("proxies", &a.set, &[a.seed], &plans, 0)?;

    eprintln!("mixmin: scoring the feedback suites with the base and every proxy");
    let manifest = Manifest::load(&cfg.corpus)?;
    for f in &cfg.space.fields {
        if manifest.scoring_of(f) != FeedbackScoring::Likelihood {
            eprintln!(
                "mixmin: NOTE: field `{f}`'s feedback is scored as {}; MixMin's ensemble fits the likelihood of its answers after their own prompts (the pairing score of a mixture of models is not a fit MixMin can solve)",
                manifest.scoring_of(f).name()
            );
        }
    }
    let device = mixagent_lm::tch_device(cfg.device)?;
    let observer = Observer::new(&cfg.corpus, &cfg.space.fields, cfg.observe.clone())?;
    let score = |path: &std::path::Path| -> anyhow::Result<TokenLogprobs> {
        let dir = resolve_checkpoint(path)?;
        let (model_cfg, _) = read_model_config(&dir)?;
        let vs = tch::nn::VarStore::new(device);
        let model = Llama::new(&vs.root(), &model_cfg);
        load_checkpoint(&dir, &model)?;
        Ok(observer.token_logprobs(&model, device)?)
    };
    let base = score(&cfg.base).with_context(|| format!("the base {}", cfg.base.display()))?;
    let mut proxies = Vec::new();
    for (e, plan) in entries.iter().zip(&plans) {
        let dir = phases.run_dir("proxies", plan, a.seed);
        proxies.push((e.clone(), score(&dir).with_context(|| format!("the proxy of `{e}`"))?));
    }
    let problem = MixMinProblem::new(&base, &proxies)?;
    let max_rounds = 20_000;
    let (lambda, rounds) = problem.solve(1e-10, max_rounds);
    let k = entries.len();
    let one_hot = |i: usize| (0..k).map(|j| f64::from(u8::from(i == j))).collect::<Vec<_>>();
    let result = MixMinResult {
        format_version: MIXMIN_VERSION,
        weights: entries.iter().cloned().zip(lambda.iter().copied()).collect(),
        predicted: Predicted {
            mixmin: problem.objective(&lambda),
            uniform: problem.objective(&vec![1.0 / k as f64; k]),
            single: entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.clone(), problem.objective(&one_hot(i))))
                .collect(),
        },
        rounds: rounds.min(max_rounds),
        converged: rounds <= max_rounds,
        base_feedback: base.iter().map(|(f, items)| (f.clone(), field_feedback(items))).collect(),
        run: std::fs::canonicalize(&a.run)?,
        set: a.set.clone(),
        seed: a.seed,
    };
    if !(result.predicted.mixmin.is_finite() && lambda.iter().all(|w| w.is_finite())) {
        anyhow::bail!(
            "MixMin's solution is not finite (predicted {}); the proxies' log-probabilities underflow: check {}",
            result.predicted.mixmin,
            out.join("proxies").display()
        );
    }
    if !result.converged {
        eprintln!("warning: EM stopped after {max_rounds} rounds before converging (weights still moving by more than 1e-10); the mixture is close to, not at, the optimum");
    }
    write_atomic(out.join(MIXMIN_FILE), &serde_json::to_vec_pretty(&result)?)?;
    println!("{}", table(&result, &space));
    println!(
        "wrote {}; run it as the policy mixmin:{}",
        out.join(MIXMIN_FILE).display(),
        out.display()
    );
    Ok(())
}

/// The solution, heaviest entries first, with each entry's own predicted score.
fn table(r: &MixMinResult, space: &mixagent_core::DomainSpace) -> String {
    let mut rows: Vec<(&String, f64)> = r.weights.iter().map(|(e, w)| (e, *w)).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let field = |e: &str| {
        space.domains().iter().find(|d| d.name == e).map_or("?", |d| d.field.as_str()).to_string()
    };
    let mut s = format!(
        "predicted balanced score: MixMin {:+.4}, uniform {:+.4}\n\n| entry | field | weight | alone |\n|---|---|---:|---:|\n",
        r.predicted.mixmin, r.predicted.uniform
    );
    for (e, w) in rows {
        s.push_str(&format!(
            "| {e} | {} | {w:.3} | {:+.4} |\n",
            field(e),
            r.predicted.single.get(e).copied().unwrap_or(f64::NAN)
        ));
    }
    s
}
