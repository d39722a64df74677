//! Learning checks on a toy environment whose best mixture is known. Each stage's reward is
//! `−‖w − w*‖²` (the balanced score moves by exactly that), whatever came before, so the best
//! policy always plays `w*`. The data are suboptimal demonstrations: mixtures drawn around
//! `w_demo` with wide Dirichlet noise, and 30% of stages anywhere on the simplex (so the data
//! reach `w*`, but no trajectory follows it). Behaviour cloning on the best trajectories stays
//! near the demonstrations; CQL, which learns from the rewards, finds `w*`.

use std::path::Path;

use mixagent_agent::{mean_action as policy_mean, train, AgentConfig, Dataset, ViewConfig};
use mixagent_core::Observation;
use mixagent_policy::RewardConfig;
use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};
use mixagent_trajectory::{CollectConfig, Trajectory};
use tch::Tensor;

mod common;
use common::toy_trajectory;

const BEST: [f64; 3] = [0.3, 0.6, 0.1];
const DEMO: [f64; 3] = [0.6, 0.15, 0.25];
const STAGES: usize = 5;

fn obs(score: f64) -> Observation {
    Observation {
        feedback: [("general".into(), -4.0 + 4.0 * score), ("math".into(), -8.0 + 8.0 * score)]
            .into(),
        domain_loss: [("a".into(), 3.0), ("b".into(), 4.0), ("c".into(), 5.0)].into(),
    }
}

/// A Dirichlet(conc · mean) draw from a small LCG-driven gamma sampler (no extra crates).
fn dirichlet(mean: &[f64], conc: f64, state: &mut u64) -> Vec<f64> {
    let mut uniform = || {
        *state = mixagent_core::seed::mix64(*state);
        ((*state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut gamma = |shape: f64| -> f64 {
        // Sum of exponentials for the integer part, plus a boost for the fraction.
        let boost = shape.fract();
        let mut g: f64 = (0..shape.floor() as usize).map(|_| -uniform().ln()).sum();
        if boost > 0.0 {
            // Marsaglia–Tsang with shape boost + 1, scaled by U^(1/boost).
            let (d, c) = (boost + 1.0 - 1.0 / 3.0, 1.0 / (9.0 * (boost + 2.0 / 3.0)).sqrt());
            loop {
                let (u1, u2) = (uniform(), uniform());
                let x = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let v = (1.0 + c * x).powi(3);
                if v > 0.0 && uniform().ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                    g += d * v * uniform().powf(1.0 / boost);
                    break;
                }
            }
        }
        g.max(1e-12)
    };
    let g: Vec<f64> = mean.iter().map(|m| gamma(conc * m)).collect();
    let sum: f64 = g.iter().sum();
    g.into_iter().map(|x| x / sum).collect()
}

fn reward(w: &[f64]) -> f64 {
    -w.iter().zip(BEST).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
}

fn dataset(dir: &Path, data_seed: u64) -> Dataset {
    // The two math domains differ in size, which is how the agent's features tell them apart
    // (the policy is equivariant: identical tokens get identical weights).
    let d = |n: &str, f: &str, tokens| SyntheticDomain { name: n.into(), field: f.into(), tokens };
    let manifest = write_synthetic_corpus(
        dir,
        &[d("a", "general", 2000), d("b", "math", 3000), d("c", "math", 1000)],
        64,
    )
    .unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
    let config = CollectConfig::load(&cfg, &[format!("stages={STAGES}")]).unwrap();
    let mut state = data_seed;
    let set: Vec<Trajectory> = (0..96)
        .map(|i| {
            let mut score = 0.0;
            let rows = (0..STAGES)
                .map(|_| {
                    // Mostly around the demonstration, sometimes anywhere on the simplex,
                    // so the data support reaches w* but the demonstrations do not point there.
                    state = mixagent_core::seed::mix64(state);
                    let explore = state % 10 < 3;
                    let w = if explore {
                        dirichlet(&[1.0 / 3.0; 3], 3.0, &mut state)
                    } else {
                        dirichlet(&DEMO, 4.0, &mut state)
                    };
                    score += reward(&w);
                    (w, obs(score))
                })
                .collect();
            let space = [("a", "general"), ("b", "math"), ("c", "math")];
            toy_trajectory(i, &space, "toy", 4.0, &config, obs(0.0), rows)
        })
        .collect();
    // The collected space and its field level (the toy's best mixture is a K-D one; the
    // field-level view teaches the same share).
    let views = ViewConfig { field_level: true, random: 0, prior: false, ..ViewConfig::default() };
    Dataset::build(
        &set,
        &manifest,
        &RewardConfig::default(),
        &views,
        mixagent_policy::HISTORY_WINDOW,
        0,
    )
    .unwrap()
}

/// The policy's mean action at every state of the block with `k` entries (the collected
/// space), row-major `(N, k)`; `rl_steps` = 0: the warm-up alone, else the configured algorithm
/// (CQL for that many steps; IQL for its own).
fn actions(d: &Dataset, cfg: &AgentConfig, rl_steps: usize, k: usize) -> Vec<f64> {
    let (spec, _) = d.normalisation(d.feature_names(), mixagent_policy::FEATURE_CLIP);
    let normalise = |v: &mut [f32]| spec.normalise(v);
    let mut cfg = cfg.clone();
    cfg.cql.steps = rl_steps;
    if rl_steps == 0 {
        cfg.iql.steps = 0;
    }
    let trained = train(d, normalise, &cfg, tch::Device::Cpu, |_, _, _| {}).unwrap();
    let net = d.net_config(&cfg.net);
    let vs2 = tch::nn::VarStore::new(tch::Device::Cpu);
    let policy = mixagent_agent::PolicyModel::new(&vs2.root(), &net);
    let mut vs2 = vs2;
    vs2.copy(&trained.policy).unwrap();
    let b = d.blocks.iter().find(|b| b.k == k).expect("the collected space");
    let n = b.len() as i64;
    let mut states = b.states[..b.len() * k * d.width].to_vec();
    normalise(&mut states);
    let x = Tensor::from_slice(&states).view([n, k as i64, d.width as i64]);
    let mask = Tensor::from_slice(&b.is_target).view([n, k as i64]);
    let w = tch::no_grad(|| policy_mean(&policy, &x, &mask, cfg.floor));
    Vec::<f32>::try_from(w.view([-1])).unwrap().into_iter().map(f64::from).collect()
}

/// The policy's mean action, averaged over the data's states (see [`actions`]).
fn mean_action(d: &Dataset, cfg: &AgentConfig, rl_steps: usize) -> Vec<f64> {
    let w = actions(d, cfg, rl_steps, 3);
    let n = w.len() / 3;
    (0..3).map(|j| (0..n).map(|i| w[i * 3 + j]).sum::<f64>() / n as f64).collect()
}

/// The tests here run one at a time: libtorch's kernels do not give bit-identical results when
/// two trainings share the process (measured: the same test read 0.437 and 0.385 on two
/// concurrent runs, 0.380 every time alone), and the thresholds below are measured values.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn dist(w: &[f64]) -> f64 {
    w.iter().zip(BEST).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
}

/// Settings search: `TOY_SET="cql.alpha=0.1;cql.critic_warmup=500" TOY_DATA=42,7 cargo test
/// -p mixagent-agent --release --test toy -- --ignored --nocapture sweep`.
#[test]
#[ignore]
fn sweep() {
    let _serial = one_at_a_time();
    tch::set_num_threads(1);
    let sets: Vec<String> = std::env::var("TOY_SET")
        .unwrap_or_default()
        .split(';')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let data: Vec<u64> = std::env::var("TOY_DATA")
        .unwrap_or_else(|_| "42".into())
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    let base = toy_config();
    let defaults = toml::Value::try_from(&base).unwrap();
    let cfg: AgentConfig =
        mixagent_core::parse_config(std::path::Path::new("toy"), "", Some(defaults), &sets)
            .unwrap();
    for seed in data {
        let dir = tempfile::tempdir().unwrap();
        let d = dataset(dir.path(), seed);
        let cql = mean_action(&d, &cfg, cfg.cql.steps);
        eprintln!("data {seed} {sets:?}: {:?} {:.3} {cql:.3?}", cfg.algorithm, dist(&cql));
    }
}

/// The toy's data (seed 42), with the lock that keeps its trainings one at a time on one
/// thread, and the folder of its synthetic corpus.
fn toy_data() -> (std::sync::MutexGuard<'static, ()>, tempfile::TempDir, Dataset) {
    let serial = one_at_a_time();
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let d = dataset(dir.path(), 42);
    (serial, dir, d)
}

fn toy_config() -> AgentConfig {
    let mut cfg = AgentConfig::default();
    cfg.net.d_model = 32;
    cfg.net.d_ff = 64;
    cfg.reward.gamma = 0.5;
    cfg.sft.steps = 300;
    cfg.sft.batch_size = 64;
    cfg.cql.batch_size = 64;
    cfg.cql.alpha = 0.01;
    cfg.cql.actor_lr = 1e-3;
    cfg.cql.steps = 1500;
    cfg.cql.critic_warmup = 500;
    cfg.cql.normalise_rewards = true;
    cfg
}

#[test]
fn cql_finds_the_best_mixture_that_cloning_suboptimal_demonstrations_misses() {
    let (_serial, _dir, d) = toy_data();
    let cfg = toy_config();
    let demo = dist(&DEMO);
    let sft = mean_action(&d, &cfg, 0);
    let cql = mean_action(&d, &cfg, cfg.cql.steps);
    eprintln!(
        "distance to w*: demonstrations {demo:.3}, SFT {:.3} {sft:.3?}, CQL {:.3} {cql:.3?}",
        dist(&sft),
        dist(&cql)
    );
    // Measured (1 thread, features v5: demonstrations 0.561, SFT 0.348, CQL 0.051); features v4
    // with a history window of 24: demonstrations 0.561,
    // SFT 0.365, CQL 0.074. Features v3 with credit: SFT 0.401, CQL 0.048;
    // features v2: SFT 0.380, CQL 0.012 (data seeds 7 and 1234: 0.039 and 0.034). With the version-1 features: SFT 0.439, CQL 0.068, 0.081,
    // 0.020. Before the critic warm-up and the reward normalisation CQL stopped at 0.13-0.17
    // and drifted with more steps.
    assert!(dist(&sft) > 0.5 * demo, "cloning should stay near the demonstrations");
    assert!(dist(&cql) < 0.1, "CQL should find w* = {BEST:?}");
}

#[test]
fn cql_on_observed_returns_finds_the_best_mixture_too() {
    let (_serial, _dir, d) = toy_data();
    let mut cfg = toy_config();
    cfg.cql.critic_target = mixagent_agent::CriticTarget::Return;
    let cql = mean_action(&d, &cfg, cfg.cql.steps);
    eprintln!("distance to w*: CQL on returns {:.3} {cql:.3?}", dist(&cql));
    // The toy's stages are independent draws, so the behaviour's value Q^β ranks the actions
    // of a stage as the optimal Q does, and one step of improvement over it reaches w*.
    // Measured (1 thread, features v5): 0.059; features v4: 0.091; features v3: 0.022 (bootstrapped CQL on the same data: 0.048; with
    // features v2 0.063 and 0.012).
    assert!(dist(&cql) < 0.1, "CQL on returns should find w* = {BEST:?}");
}

#[test]
fn iql_finds_the_best_mixture_that_cloning_suboptimal_demonstrations_misses() {
    let (_serial, _dir, d) = toy_data();
    let mut cfg = toy_config();
    cfg.algorithm = mixagent_agent::Algorithm::Iql;
    cfg.iql.batch_size = 64;
    cfg.iql.steps = 1500;
    let sft = mean_action(&d, &cfg, 0);
    let iql = mean_action(&d, &cfg, 1);
    eprintln!("distance to w*: SFT {:.3} {sft:.3?}, IQL {:.3} {iql:.3?}", dist(&sft), dist(&iql));
    // Measured (1 thread, features v5: credit within fields, the share's credit): SFT 0.348,
    // IQL 0.200 (a first v5 draft on data seeds 42, 7 and 1234: ratios 0.64, 0.70, 0.66);
    // features v4, history window 24: SFT 0.365, IQL 0.184; features v3:
    // SFT 0.401, IQL 0.170. Features v2 (1 thread, defaults
    // β = 3, τ = 0.7): SFT 0.380, IQL 0.138 (data seeds 7 and
    // 1234: 0.224 and 0.247; β = 10: 0.172 and 0.240 on 42 and 7; β = 10 with τ = 0.9: 0.089
    // and 0.196). IQL only re-weights the data's actions, so on this toy it stays behind CQL
    // (0.012, 0.039, 0.034), which may propose actions between them.
    // The state is noise on this toy (every stage's reward ignores it), and the v5 credit
    // reads a few stages of noise at about a third of its scale, so IQL's advantages are
    // noisier than with v4 (ratio 0.50): the bar is a move of a quarter.
    assert!(dist(&iql) < 0.75 * dist(&sft), "IQL should move from the clone toward w* = {BEST:?}");
}

#[test]
fn advantage_weighted_cloning_moves_from_the_demonstrations_toward_the_best_mixture() {
    let (_serial, _dir, d) = toy_data();
    // Over three initialisations: one alone moves the ratio between 0.6 and 0.9 (seeds 0-4
    // with features v6: 0.87, 0.58, 0.83, 0.71, 0.77).
    let (mut sum_top, mut sum_weighted) = (0.0, 0.0);
    for seed in 0..3 {
        let mut top = toy_config();
        top.seed = seed;
        let mut weighted = top.clone();
        weighted.sft.weighting = mixagent_agent::SftWeighting::Advantage;
        let (a, b) = (mean_action(&d, &top, 0), mean_action(&d, &weighted, 0));
        eprintln!(
            "seed {seed}: distance to w*: top-quarter cloning {:.3} {a:.3?}, advantage-weighted {:.3} {b:.3?}",
            dist(&a),
            dist(&b)
        );
        assert!(
            dist(&b) < dist(&a),
            "seed {seed}: weighting by advantage should beat cloning the best quarter"
        );
        sum_top += dist(&a);
        sum_weighted += dist(&b);
    }
    // Measured (1 thread, features v6, seeds 0-2): top quarter 0.361, advantage-weighted 0.279
    // on average. One seed (0): features v5: top quarter 0.348, advantage-weighted 0.131; v4:
    // 0.365, 0.228; v3: 0.401, 0.261. Features v2: top quarter 0.380, advantage-weighted (β = 3)
    // 0.250; data seed 7: 0.323 and 0.190. β = 1: 0.339 on 42; β = 10: 0.265 and 0.248 (fewer
    // transitions count).
    assert!(
        sum_weighted < 0.85 * sum_top,
        "weighting by advantage should beat cloning the best quarter: {sum_weighted:.3} vs {sum_top:.3} summed over three seeds"
    );
}

/// The credit toy: one general and three math domains of equal size, so that nothing but the
/// run's history tells the math domains apart (identical tokens get identical weights). In
/// each trajectory one math domain, drawn at random, is the useful one: a stage's math feedback
/// rises by its weight, and nothing else moves. The data are random mixtures.
fn credit_dataset(dir: &Path, data_seed: u64, stages: usize) -> (Dataset, Vec<usize>) {
    let d = |n: &str, f: &str| SyntheticDomain { name: n.into(), field: f.into(), tokens: 1000 };
    let manifest = write_synthetic_corpus(
        dir,
        &[d("a", "general"), d("b", "math"), d("c", "math"), d("d", "math")],
        64,
    )
    .unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
    let config = CollectConfig::load(&cfg, &[format!("stages={stages}")]).unwrap();
    let obs = |math: f64| Observation {
        feedback: [("general".into(), -4.0), ("math".into(), math)].into(),
        domain_loss: [("a", 3.0), ("b", 4.0), ("c", 4.0), ("d", 4.0)]
            .iter()
            .map(|(n, l)| (n.to_string(), *l))
            .collect(),
    };
    let mut state = data_seed;
    let mut useful = Vec::new();
    let set: Vec<Trajectory> = (0..160)
        .map(|i| {
            state = mixagent_core::seed::mix64(state);
            let u = 1 + (state % 3) as usize;
            useful.push(u);
            let mut math = -8.0;
            let rows = (0..stages)
                .map(|_| {
                    // Flat: Dirichlet(1, 1, 1, 1).
                    let w = dirichlet(&[0.25; 4], 4.0, &mut state);
                    math += 2.0 * w[u];
                    (w, obs(math))
                })
                .collect();
            let space = [("a", "general"), ("b", "math"), ("c", "math"), ("d", "math")];
            toy_trajectory(i, &space, "credit-toy", 1.0, &config, obs(-8.0), rows)
        })
        .collect();
    let views = ViewConfig { field_level: false, random: 0, prior: false, ..ViewConfig::default() };
    (
        Dataset::build(
            &set,
            &manifest,
            &RewardConfig::default(),
            &views,
            mixagent_policy::HISTORY_WINDOW,
            0,
        )
        .unwrap(),
        useful,
    )
}

/// The useful domain's share of the math weight the agent trained on `d` gives, before stages
/// 1-2 (nothing to read yet) and from stage 4 on (three stages of history).
fn credit_shares(d: &Dataset, useful: &[usize]) -> (f64, f64) {
    let mut cfg = toy_config();
    cfg.reward.gamma = 0.0;
    let w = actions(d, &cfg, cfg.cql.steps, 4);
    let b = d.blocks.iter().find(|b| b.k == 4).unwrap();
    let (mut early, mut late) = (Vec::new(), Vec::new());
    let mut seen = vec![0usize; useful.len()];
    for (i, &t) in b.trajectory.iter().enumerate() {
        let stage = seen[t];
        seen[t] += 1;
        let math: f64 = w[i * 4 + 1..i * 4 + 4].iter().sum();
        let share = w[i * 4 + useful[t]] / math;
        if stage < 2 {
            early.push(share);
        } else if stage >= 3 {
            late.push(share);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    (mean(&early), mean(&late))
}

#[test]
fn the_agent_learns_from_the_runs_history_which_domain_moves_the_feedback() {
    let _serial = one_at_a_time();
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let stages = 6;
    let (d, useful) = credit_dataset(dir.path(), 11, stages);
    let (early, late) = credit_shares(&d, &useful);
    eprintln!("useful domain's share of the math weight: stages 1-2 {early:.3}, stages 4-{stages} {late:.3} (chance 0.333)");
    assert!((early - 1.0 / 3.0).abs() < 0.05, "nothing tells the domains apart yet: {early}");
    // Measured (1 thread, features v5, history window 24): 0.334 and 0.815 (the inverse
    // field total takes the third stage's degree of freedom on this 6-stage toy); features v4:
    // 0.332 and 0.857; features v3 (no
    // history): 0.331 and 0.802; with the credit features zeroed and no history 0.333 and
    // 0.641 (the last weights and the last feedback change alone say less).
    assert!(late > 0.72, "the agent should follow the domain that moved the feedback: {late}");

    // The history window alone: the hand-made credit features zeroed, the network must relate
    // past weights to feedback changes itself.
    let mut blind = d.clone();
    let own = mixagent_policy::DOMAIN_FEATURES.len();
    let mut credit: Vec<usize> = ["credit_source", "credit_target"]
        .iter()
        .map(|n| mixagent_policy::DOMAIN_FEATURES.iter().position(|f| f == n).unwrap())
        .collect();
    credit.extend(
        ["share_credit_source", "share_credit_target"]
            .iter()
            .map(|n| own + mixagent_policy::GLOBAL_FEATURES.iter().position(|f| f == n).unwrap()),
    );
    for b in &mut blind.blocks {
        for row in b.states.chunks_exact_mut(blind.width) {
            credit.iter().for_each(|&c| row[c] = 0.0);
        }
    }
    let (early, late) = credit_shares(&blind, &useful);
    eprintln!("without the credit features: stages 1-2 {early:.3}, stages 4-{stages} {late:.3}");
    // Measured (1 thread, features v5, the share's credit zeroed too): 0.331 and 0.805 (v4:
    // 0.870): the window alone carries
    // the credit.
    assert!(late > 0.72, "the history window should carry the credit: {late}");
}
