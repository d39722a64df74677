//! The headroom analysis (DESIGN §10): from finished steered runs and a trajectory collection,
//! does mixing matter for this corpus, by how much, and where? Pure computation; the runs are
//! made by `mixagent headroom`, which also writes what [`Headroom::to_markdown`] renders.
//!
//! Every comparison is paired: a seed fixes the data order, so two policies run with the same
//! seed differ only by their mixtures, and the quantity compared is the per-seed difference.
//! σ is the sample standard deviation of that difference over seeds (DESIGN §10's "paired
//! seed SD").

use std::collections::BTreeMap;
use std::ops::Range;

use mixagent_core::linalg::{cholesky, cholesky_solve};
use mixagent_trajectory::{SteeredRun, Trajectory};
use serde::Serialize;

use crate::stats::student_t95;

/// A run's final result: each field's feedback change relative to the base, and their mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The run's seed.
    pub seed: u64,
    /// Per field: (f − f₀)/|f₀| after the last stage.
    pub delta: BTreeMap<String, f64>,
    /// Mean over the fields.
    pub balanced: f64,
    /// Each stage's reward: the change of the balanced score during the stage (DESIGN §4).
    pub rewards: Vec<f64>,
    /// Per field, each stage's change of (f − f₀)/|f₀|: the fields' halves of `rewards`
    /// (their mean is the stage's reward).
    pub field_rewards: BTreeMap<String, Vec<f64>>,
}

impl Outcome {
    /// The outcome of a finished steered run.
    pub fn of(run: &SteeredRun) -> Outcome {
        let fields = run.fields();
        let names: Vec<&str> = fields.iter().map(String::as_str).collect();
        let balanced_at = |o: &mixagent_core::Observation| {
            mixagent_core::balanced_score(o, &run.initial, &names).unwrap_or(f64::NAN)
        };
        // The final score from the final evaluation when the run has one; the rewards from
        // the stages' own observations.
        let delta: BTreeMap<String, f64> =
            fields.iter().map(|f| (f.clone(), run.final_change(f).unwrap_or(f64::NAN))).collect();
        let balanced = run.final_balanced().unwrap_or(f64::NAN);
        // Each stage's change of `score`, which is 0 at the base.
        let changes = |score: &dyn Fn(&mixagent_core::Observation) -> f64| {
            let mut before = 0.0;
            run.stages
                .iter()
                .map(|st| {
                    let now = score(&st.observation);
                    let r = now - before;
                    before = now;
                    r
                })
                .collect::<Vec<f64>>()
        };
        let rewards = changes(&balanced_at);
        let field_rewards = fields
            .iter()
            .map(|f| {
                let rel = |o: &mixagent_core::Observation| {
                    o.relative_change(&run.initial, f).unwrap_or(f64::NAN)
                };
                (f.clone(), changes(&rel))
            })
            .collect();
        Outcome { seed: run.config.seed, delta, balanced, rewards, field_rewards }
    }
}

/// A paired difference `a − b` over the seeds both have.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    /// Mean difference.
    pub mean: f64,
    /// Sample standard deviation of the per-seed differences (σ).
    pub sd: f64,
    /// Seeds paired.
    pub n: usize,
    /// Half-width of the 95% interval of the mean (Student's t).
    pub half: f64,
}

impl Paired {
    /// Pairs `a` and `b` by seed through `value`.
    pub fn of(a: &[Outcome], b: &[Outcome], value: impl Fn(&Outcome) -> f64) -> Paired {
        let d: Vec<f64> = a
            .iter()
            .filter_map(|x| b.iter().find(|y| y.seed == x.seed).map(|y| value(x) - value(y)))
            .collect();
        Paired::from_differences(&d)
    }

    /// Statistics of per-seed differences.
    pub fn from_differences(d: &[f64]) -> Paired {
        let n = d.len();
        let mean = if n == 0 { f64::NAN } else { d.iter().sum::<f64>() / n as f64 };
        let sd = if n < 2 {
            f64::NAN
        } else {
            (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        let half = if n < 2 { f64::NAN } else { student_t95(n - 1) * sd / (n as f64).sqrt() };
        Paired { mean, sd, n, half }
    }

    /// Mean in units of σ (NaN when σ is unknown, infinite when σ is 0 and the mean is not).
    pub fn sigmas(&self) -> f64 {
        self.mean / self.sd
    }

    /// [`Paired::sigmas`] for a table: one decimal, "σ unknown" with fewer than 2 seeds, and
    /// "≥ 100σ" (or "≤ −100σ") beyond that, a σ of about 0 included.
    pub fn sigmas_label(&self) -> String {
        let z = self.sigmas();
        if z.is_nan() {
            "σ unknown".into()
        } else if z.abs() >= 100.0 {
            format!("{}100σ", if z > 0.0 { "≥ " } else { "≤ −" })
        } else {
            format!("{z:.1}σ")
        }
    }
}

/// How much one domain helps its own field's feedback (gate G1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relevance {
    /// The domain.
    pub domain: String,
    /// Its field.
    pub field: String,
    /// The field's feedback change from the base in the domain's relevance run, less the
    /// baseline run's under the same seed when there is one ([`crate::RelevanceMethod`]), over
    /// seeds.
    pub help: Paired,
    /// Help minus the field's mean help (over its domains), paired by seed.
    pub above_mean: Paired,
}

impl Relevance {
    /// Helps by at least 3 σ more than the field's mean domain.
    pub fn strongly_relevant(&self) -> bool {
        self.above_mean.mean >= 3.0 * self.above_mean.sd
    }

    /// Helps not at all or hurts: its help is within one σ of zero, or negative.
    pub fn useless_or_harmful(&self) -> bool {
        self.help.mean <= self.help.sd
    }
}

/// Per-domain relevance from ablation runs: `single[d]` the runs that favour domain `d`,
/// `field_of[d]` each domain's field, `baseline` the runs each is measured against (by seed;
/// `None`: the base). A domain's help is its field's feedback change from the base in its run,
/// less the baseline run's change under the same seed (0: no better than the baseline;
/// negative: worse). A seed without a baseline run is left out of that domain's help.
pub fn relevance(
    single: &BTreeMap<String, Vec<Outcome>>,
    field_of: &BTreeMap<String, String>,
    baseline: Option<&[Outcome]>,
) -> Vec<Relevance> {
    let helps: BTreeMap<&str, BTreeMap<u64, f64>> = single
        .iter()
        .map(|(d, runs)| {
            let f = &field_of[d];
            let help = runs.iter().filter_map(|x| match baseline {
                None => Some((x.seed, x.delta[f])),
                Some(b) => {
                    b.iter().find(|o| o.seed == x.seed).map(|o| (x.seed, x.delta[f] - o.delta[f]))
                }
            });
            (d.as_str(), help.collect())
        })
        .collect();
    let mut out = Vec::new();
    for (d, by_seed) in &helps {
        let f = &field_of[*d];
        let mates: Vec<&BTreeMap<u64, f64>> =
            helps.iter().filter(|(e, _)| &field_of[**e] == f).map(|(_, h)| h).collect();
        let help: Vec<f64> = by_seed.values().copied().collect();
        let above: Vec<f64> = by_seed
            .iter()
            .filter_map(|(s, h)| {
                let v: Vec<f64> = mates.iter().filter_map(|m| m.get(s).copied()).collect();
                (v.len() == mates.len()).then(|| h - v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        out.push(Relevance {
            domain: d.to_string(),
            field: f.clone(),
            help: Paired::from_differences(&help),
            above_mean: Paired::from_differences(&above),
        });
    }
    out
}

/// Spearman's rank correlation (average ranks for ties).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            for k in i..=j {
                r[idx[k]] = (i + j) as f64 / 2.0 + 1.0;
            }
            i = j + 1;
        }
        r
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Gate G5 from replicated runs: the share of a stage's reward variance that is the mixture's,
/// from runs of several fixed mixtures, each over the same seeds (a one-way analysis of
/// variance per stage: σ²_mix = (MS_between − MS_within)/k, share = σ²_mix / (σ²_mix +
/// MS_within), k seeds). Model-free: it is the most any policy's model of the reward can
/// explain, where a regression on the weights ([`explained_by_mixture`]) is a lower bound that
/// also pays for its own fit. The seed's effect counts as noise (a policy cannot choose it).
/// Pooled over stages as Σσ²_mix / Σ(σ²_mix + MS_within). `None` with fewer than 3 mixtures or
/// 2 common seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarianceShare {
    /// Pooled over stages.
    pub pooled: f64,
    /// Per stage.
    pub per_stage: Vec<f64>,
    /// Mixtures compared.
    pub mixtures: usize,
    /// Seeds per mixture.
    pub seeds: usize,
    /// The pooled share when the reward is summed over windows of `k` consecutive stages
    /// (k = 2, 5 and all stages, where they fit): how the signal grows with a longer stage.
    pub by_window: Vec<(usize, f64)>,
}

/// See [`VarianceShare`]: the mixture's share of each stage's reward variance over `rows`.
pub fn mixture_share(rows: &[Row]) -> Option<VarianceShare> {
    let seeds = replicated(rows)?;
    let (m, k) = (rows.len(), seeds.len());
    let stages =
        rows.iter().flat_map(|r| r.outcomes.iter().map(|o| o.rewards.len())).min().unwrap_or(0);
    // Rewards summed over windows of `k` stages: y[window][mixture][seed].
    let windows = |k: usize| -> Vec<Vec<Vec<f64>>> {
        (0..stages / k)
            .map(|w| reward_table(rows, &seeds, w * k..(w + 1) * k).expect("within every run"))
            .collect()
    };
    let (pooled, per_stage) = anova_share(&windows(1), m, k);
    let mut by_window = Vec::new();
    for w in [2, 5, stages] {
        if w > 1 && w <= stages && by_window.iter().all(|(x, _)| *x != w) {
            by_window.push((w, anova_share(&windows(w), m, k).0));
        }
    }
    Some(VarianceShare { pooled, per_stage, mixtures: m, seeds: k, by_window })
}

/// Gate G5, the branch reading: runs that share every stage but one (the same schedule before
/// and after, so with the same seed they reach that stage in the same state) and differ only in
/// that stage's mixture. The seed is a block (two-way analysis of variance without
/// interaction): what a seed's state does to the reward is common to every mixture tried from
/// it, and an agent sees that state, so only the rest counts as noise. σ²_mix = (MS_mix −
/// MS_residual)/k, share = σ²_mix / (σ²_mix + MS_residual), m mixtures × k seeds. This is the
/// quantity a critic fits (the reward of an action from a state); the static reading
/// ([`mixture_share`]) also counts the seeds' diverging states as noise and, once a model has
/// adapted to a fixed mixture, sees little of the mixture in any one stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BranchShare {
    /// The stage the mixtures differ at.
    pub stage: usize,
    /// The mixture's share with the seed as a block.
    pub share: f64,
    /// The one-way share (the seed's state counted as noise), for comparison.
    pub one_way: f64,
    /// SD of the mixture's effect, σ_mix.
    pub sd_mixture: f64,
    /// SD of the residual noise.
    pub sd_noise: f64,
    /// 95% interval of `share` from a bootstrap over seeds (seeds drawn with replacement,
    /// 2,000 draws, fixed stream): how much another set of as many seeds could read.
    pub interval: (f64, f64),
    /// The same reading of each field's half of the reward (the balanced reward is their mean,
    /// so a field whose stage reward is mostly noise can hide another's signal).
    pub by_field: Vec<FieldShare>,
    /// Mixtures compared.
    pub mixtures: usize,
    /// Seeds per mixture.
    pub seeds: usize,
    /// Whether, under every seed, all the runs had the same rewards before `stage` (the shared
    /// state the reading assumes; false if, say, a resumed run changed the thread count).
    pub shared_prefix: bool,
    /// The model the branches ran on (`proxy` or `target`).
    pub model: String,
}

/// One field's part of a [`BranchShare`]: the same analysis of that field's (f − f₀)/|f₀|
/// change over the stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldShare {
    /// The field.
    pub field: String,
    /// The mixture's share with the seed as a block.
    pub share: f64,
    /// SD of the mixture's effect.
    pub sd_mixture: f64,
    /// SD of the residual noise.
    pub sd_noise: f64,
}

/// See [`BranchShare`]: the mixture's share of stage `stage`'s reward over `rows` (each row a
/// schedule that differs from the others only at that stage). `None` with fewer than 3 rows,
/// 2 common seeds, or runs shorter than `stage + 1`.
pub fn branch_share(rows: &[Row], stage: usize, model: &str) -> Option<BranchShare> {
    let seeds = replicated(rows)?;
    let (m, k) = (rows.len(), seeds.len());
    let y = reward_table(rows, &seeds, stage..stage + 1)?;
    let (share, sd_mixture, sd_noise) = blocked_share(&y);
    let interval = bootstrap_share(&y);
    let (_, one_way) = anova_share(&[y], m, k);
    // The same reading of each field's half of the reward.
    let fields: Vec<String> = rows[0].outcomes[0].field_rewards.keys().cloned().collect();
    let by_field = fields
        .into_iter()
        .filter_map(|field| {
            let y = field_reward_table(rows, &seeds, &field, stage)?;
            let (share, sd_mixture, sd_noise) = blocked_share(&y);
            Some(FieldShare { field, share, sd_mixture, sd_noise })
        })
        .collect();
    // Under every seed, every row's rewards before the stage equal the first row's.
    fn prefix(r: &Row, seed: u64, stage: usize) -> Option<&[f64]> {
        r.outcome(seed).map(|o| &o.rewards[..stage])
    }
    let shared_prefix = seeds
        .iter()
        .all(|&s| rows.iter().all(|r| prefix(r, s, stage) == prefix(&rows[0], s, stage)));
    Some(BranchShare {
        stage,
        share,
        one_way: one_way[0],
        sd_mixture,
        sd_noise,
        interval,
        by_field,
        mixtures: m,
        seeds: k,
        shared_prefix,
        model: model.to_string(),
    })
}

/// The 2.5% and 97.5% quantiles of [`blocked_share`] over 2,000 resamples of `y`'s seeds
/// (columns, with replacement; a fixed stream, so the same table gives the same interval).
fn bootstrap_share(y: &[Vec<f64>]) -> (f64, f64) {
    let k = y[0].len();
    let mut shares: Vec<f64> = (0..2000u64)
        .map(|b| {
            let cols: Vec<usize> = (0..k as u64)
                .map(|j| {
                    (mixagent_core::seed::derive(b, "headroom.bootstrap", j) % k as u64) as usize
                })
                .collect();
            let resampled: Vec<Vec<f64>> =
                y.iter().map(|row| cols.iter().map(|&j| row[j]).collect()).collect();
            blocked_share(&resampled).0
        })
        .collect();
    shares.sort_by(f64::total_cmp);
    (shares[49], shares[1949])
}

/// The two-way analysis of variance of `y[mixture][seed]` without interaction, the seed a
/// block: (the mixture's share σ²_mix / (σ²_mix + MS_residual), σ_mix, √MS_residual).
fn blocked_share(y: &[Vec<f64>]) -> (f64, f64, f64) {
    let (m, k) = (y.len(), y[0].len());
    let mix_means: Vec<f64> = y.iter().map(|v| v.iter().sum::<f64>() / k as f64).collect();
    let seed_means: Vec<f64> =
        (0..k).map(|j| y.iter().map(|v| v[j]).sum::<f64>() / m as f64).collect();
    let grand = mix_means.iter().sum::<f64>() / m as f64;
    let ms_mix =
        k as f64 * mix_means.iter().map(|x| (x - grand).powi(2)).sum::<f64>() / (m - 1) as f64;
    let mut residual = 0.0;
    for (i, v) in y.iter().enumerate() {
        for (j, x) in v.iter().enumerate() {
            residual += (x - mix_means[i] - seed_means[j] + grand).powi(2);
        }
    }
    let ms_residual = residual / ((m - 1) * (k - 1)) as f64;
    let mix = ((ms_mix - ms_residual) / k as f64).max(0.0);
    let share = if mix + ms_residual > 0.0 { mix / (mix + ms_residual) } else { 0.0 };
    (share, mix.sqrt(), ms_residual.sqrt())
}

/// The seeds every row ran (in the first row's order), when there are at least 3 rows and 2
/// such seeds: the least an analysis of variance over mixtures × seeds needs.
fn replicated(rows: &[Row]) -> Option<Vec<u64>> {
    let mut seeds: Vec<u64> = rows.first()?.outcomes.iter().map(|o| o.seed).collect();
    seeds.retain(|&s| rows.iter().all(|r| r.outcome(s).is_some()));
    (rows.len() >= 3 && seeds.len() >= 2).then_some(seeds)
}

/// y[row][seed]: each row's reward summed over `stages` under each of `seeds`; `None` when a
/// run is shorter than the range.
fn reward_table(rows: &[Row], seeds: &[u64], stages: Range<usize>) -> Option<Vec<Vec<f64>>> {
    rows.iter()
        .map(|r| {
            seeds
                .iter()
                .map(|&s| Some(r.outcome(s)?.rewards.get(stages.clone())?.iter().sum()))
                .collect()
        })
        .collect()
}

/// y[row][seed]: each row's `field` half of stage `stage`'s reward under each of `seeds`;
/// `None` when some run lacks it.
fn field_reward_table(
    rows: &[Row],
    seeds: &[u64],
    field: &str,
    stage: usize,
) -> Option<Vec<Vec<f64>>> {
    rows.iter()
        .map(|r| {
            seeds
                .iter()
                .map(|&s| r.outcome(s)?.field_rewards.get(field)?.get(stage).copied())
                .collect()
        })
        .collect()
}

/// The pooled and per-window mixture share of `y[window][mixture][seed]`.
fn anova_share(ys: &[Vec<Vec<f64>>], m: usize, k: usize) -> (f64, Vec<f64>) {
    let (mut mix_all, mut total_all) = (0.0, 0.0);
    let mut per_stage = Vec::with_capacity(ys.len());
    for y in ys {
        let means: Vec<f64> = y.iter().map(|v| v.iter().sum::<f64>() / k as f64).collect();
        let grand = means.iter().sum::<f64>() / m as f64;
        let ms_between =
            k as f64 * means.iter().map(|x| (x - grand).powi(2)).sum::<f64>() / (m - 1) as f64;
        let ms_within = y
            .iter()
            .zip(&means)
            .map(|(v, mu)| v.iter().map(|x| (x - mu).powi(2)).sum::<f64>())
            .sum::<f64>()
            / (m * (k - 1)) as f64;
        let mix = ((ms_between - ms_within) / k as f64).max(0.0);
        per_stage.push(mix / (mix + ms_within));
        mix_all += mix;
        total_all += mix + ms_within;
    }
    (mix_all / total_all, per_stage)
}

/// Gate G5, the regression reading: how much of a stage's reward (the change of the balanced score during the stage)
/// the stage's mixture explains, within each stage index: the out-of-fold R² of a ridge
/// regression of reward on weights (`folds`-fold cross-validation, so a regression with many
/// weights and few trajectories is not credited with noise it memorised). Returns the R² of all
/// stages pooled (each stage's reward centred on its own mean first) and the per-stage R².
pub fn explained_by_mixture(trajs: &[Trajectory], folds: usize, ridge: f64) -> (f64, Vec<f64>) {
    let stages = trajs.iter().map(|t| t.stages.len()).min().unwrap_or(0);
    let fields: Vec<&str> = match trajs.first() {
        Some(t) => {
            let mut f: Vec<&str> = t.space.iter().map(|e| e.field.as_str()).collect();
            f.dedup();
            f
        }
        None => return (f64::NAN, Vec::new()),
    };
    let balanced = |o: &mixagent_core::Observation, base: &mixagent_core::Observation| {
        mixagent_core::balanced_score(o, base, &fields).unwrap_or(f64::NAN)
    };
    let (mut sse_all, mut sst_all) = (0.0, 0.0);
    let mut per_stage = Vec::new();
    for s in 0..stages {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for t in trajs {
            let before = if s == 0 { &t.initial } else { &t.stages[s - 1].observation };
            let r = balanced(&t.stages[s].observation, &t.initial) - balanced(before, &t.initial);
            if r.is_finite() {
                x.push(t.stages[s].weights.clone());
                y.push(r);
            }
        }
        let (sse, sst) = cv_ridge(&x, &y, folds, ridge);
        per_stage.push(1.0 - sse / sst);
        sse_all += sse;
        sst_all += sst;
    }
    (1.0 - sse_all / sst_all, per_stage)
}

/// Out-of-fold squared error of ridge regression (intercept unpenalised, by centring) and the
/// total sum of squares around the training folds' means.
fn cv_ridge(x: &[Vec<f64>], y: &[f64], folds: usize, ridge: f64) -> (f64, f64) {
    let n = y.len();
    let folds = folds.clamp(2, n.max(2));
    let (mut sse, mut sst) = (0.0, 0.0);
    for k in 0..folds {
        let train: Vec<usize> = (0..n).filter(|i| i % folds != k).collect();
        let test: Vec<usize> = (0..n).filter(|i| i % folds == k).collect();
        if train.len() < 2 || test.is_empty() {
            continue;
        }
        let p = x[0].len();
        let mean_x: Vec<f64> = (0..p)
            .map(|j| train.iter().map(|&i| x[i][j]).sum::<f64>() / train.len() as f64)
            .collect();
        let mean_y = train.iter().map(|&i| y[i]).sum::<f64>() / train.len() as f64;
        // (XᵀX + λI) β = Xᵀy on centred data, by Cholesky.
        let mut a = vec![0.0; p * p];
        let mut b = vec![0.0; p];
        for &i in &train {
            for j in 0..p {
                let xj = x[i][j] - mean_x[j];
                b[j] += xj * (y[i] - mean_y);
                for l in 0..=j {
                    a[j * p + l] += xj * (x[i][l] - mean_x[l]);
                }
            }
        }
        for j in 0..p {
            a[j * p + j] += ridge;
        }
        // Positive definite for any ridge > 0; without one, a singular fold predicts its mean.
        let beta = cholesky(&a, p).map_or_else(|| vec![0.0; p], |l| cholesky_solve(&l, p, &b));
        for &i in &test {
            let pred = mean_y + (0..p).map(|j| beta[j] * (x[i][j] - mean_x[j])).sum::<f64>();
            sse += (y[i] - pred).powi(2);
            sst += (y[i] - mean_y).powi(2);
        }
    }
    (sse, sst)
}

/// One gate of DESIGN §10: passed, failed, or not measured, with the figure that decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// `G0` … `G5`.
    pub id: String,
    /// What it asks.
    pub asks: String,
    /// `Some(true)` passed, `Some(false)` failed, `None` not measured.
    pub pass: Option<bool>,
    /// The figure, in words.
    pub figure: String,
}

impl Gate {
    fn verdict(&self) -> &'static str {
        match self.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "not measured",
        }
    }
}

/// A policy's outcomes on one model, for the tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The policy's label (`uniform`, `static-07`, `ramp`, …).
    pub label: String,
    /// The policy spec it ran as.
    pub spec: String,
    /// Its outcomes, one per seed.
    pub outcomes: Vec<Outcome>,
}

impl Row {
    /// Its outcome under `seed`, if it ran it.
    pub fn outcome(&self, seed: u64) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.seed == seed)
    }

    /// Mean balanced score over seeds.
    pub fn mean_balanced(&self) -> f64 {
        self.outcomes.iter().map(|o| o.balanced).sum::<f64>() / self.outcomes.len().max(1) as f64
    }
}

/// The whole headroom report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Headroom {
    /// The gates, G0 to G5.
    pub gates: Vec<Gate>,
    /// How the relevance runs were made.
    pub relevance_method: crate::RelevanceMethod,
    /// Per-domain relevance (G1), by field then help.
    pub relevance: Vec<Relevance>,
    /// Static mixtures on the target model, selection seeds (G2's choice), best first.
    pub statics: Vec<Row>,
    /// Static mixtures' mean balanced score on the proxy, same order (G4).
    pub statics_on_proxy: Vec<f64>,
    /// The confirmation rows on fresh seeds: uniform, the best static, the dynamic schedules.
    pub confirm: Vec<Row>,
    /// G5: the mixture's share of a stage's reward variance, over the static mixtures on the
    /// target model.
    pub mixture_share: Option<VarianceShare>,
    /// G5's regression reading on a trajectory collection: pooled out-of-fold R² and per stage.
    pub explained: Option<(f64, Vec<f64>)>,
    /// G5's branch reading: the mixture's share of one stage's reward from a shared state.
    pub branch: Option<BranchShare>,
    /// G2's benchmark half: best static − uniform on the benchmarks, paired over the
    /// confirmation seeds; `None` without a benchmark phase.
    pub benchmark_gain: Option<BenchmarkGain>,
}

/// Best static − uniform on the benchmarks (G2's benchmark half), per seed in points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchmarkGain {
    /// On the overall average (the tasks alive for the base, source and target averaged): the
    /// gate's figure.
    pub overall: Paired,
    /// Per task, averaged or not, in the base report's order: where the average comes from.
    pub tasks: Vec<TaskGain>,
}

/// One benchmark task's paired change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskGain {
    /// Task name.
    pub task: String,
    /// The field it counts for.
    pub field: String,
    /// Counted in the averages (see [`crate::bench::Excluded`]).
    pub averaged: bool,
    /// Per seed, the task's score (points) under one policy minus under the other.
    pub gain: Paired,
}

/// Per seed, `a`'s benchmark scores minus `b`'s (points): the overall average over the tasks the
/// compare table averages (alive for `base`, evaluation-only where a field has such:
/// [`crate::bench::Excluded`]), G2's benchmark half, and every task of `base`'s report. Reports
/// pair by position.
pub fn benchmark_gain(
    base: &crate::TaskReport,
    a: &[crate::TaskReport],
    b: &[crate::TaskReport],
    fields: &[String],
) -> BenchmarkGain {
    let dead = crate::bench::Excluded::of(base).all();
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.averages(fields, &dead).2 - y.averages(fields, &dead).2)
        .collect();
    let score = |r: &crate::TaskReport, task: &str| {
        r.tasks.iter().find(|t| t.task == task).map_or(f64::NAN, |t| t.score)
    };
    let tasks = base
        .tasks
        .iter()
        .map(|t| {
            let d: Vec<f64> =
                a.iter().zip(b).map(|(x, y)| score(x, &t.task) - score(y, &t.task)).collect();
            TaskGain {
                task: t.task.clone(),
                field: t.field.clone(),
                averaged: !dead.contains(&t.task),
                gain: Paired::from_differences(&d),
            }
        })
        .collect();
    BenchmarkGain { overall: Paired::from_differences(&d), tasks }
}

/// Gate G0 from the benchmark reports of the base and of a target-only model: per field, the
/// tasks alive on both (above chance by ≥ 3 Wilson half-widths, constant answers under 50%);
/// passes when every field has at least 3.
pub fn benchmarks_alive(
    base: &crate::TaskReport,
    target_only: &crate::TaskReport,
    fields: &[String],
) -> Gate {
    let alive = |r: &crate::TaskReport, t: &str| {
        r.tasks.iter().any(|x| x.task == t && x.alive == Some(true))
    };
    let mut pass = !fields.is_empty();
    let mut parts = Vec::new();
    // The tasks that would be averaged if alive: a field's evaluation-only ones when it has one
    // alive for the base (the training domains' held-out text is shown, not averaged).
    let shown_only = crate::bench::Excluded::of(base).training_text;
    for f in fields {
        let tasks: Vec<&str> = base
            .tasks
            .iter()
            .filter(|t| &t.field == f && !shown_only.contains(&t.task))
            .map(|t| t.task.as_str())
            .collect();
        let both: Vec<&str> =
            tasks.iter().copied().filter(|t| alive(base, t) && alive(target_only, t)).collect();
        pass &= both.len() >= 3;
        // A task alive for one model only: how far the other fell short, when it is the
        // accuracy (not the constant answers) that failed it.
        let near: Vec<String> = tasks
            .iter()
            .filter(|t| alive(base, t) != alive(target_only, t))
            .filter_map(|t| {
                let (who, r) = if alive(base, t) {
                    ("after target-only CPT", target_only)
                } else {
                    ("for the base", base)
                };
                let x = r.tasks.iter().find(|x| x.task == *t)?;
                let (a, c, w) = (x.accuracy?, x.chance?, x.wilson_half?);
                Some(format!("{t} {who} {a:.3}, needs {:.3}", c + 3.0 * w))
            })
            .collect();
        parts.push(format!(
            "{f}: {} of {} tasks alive for both ({}){}",
            both.len(),
            tasks.len(),
            if both.is_empty() { "none".to_string() } else { both.join(", ") },
            if near.is_empty() { String::new() } else { format!("; {}", near.join(", ")) }
        ));
    }
    Gate {
        id: "G0".into(),
        asks: "benchmarks alive: per field ≥ 3 tasks above chance by ≥ 3 Wilson half-widths for the base and target-only models, constant answers < 50% (only those are averaged)".into(),
        pass: Some(pass),
        figure: parts.join("; "),
    }
}

/// Decides the gates from what `report` has measured (DESIGN §10's table; its own `gates` are
/// not read); `g0` from [`benchmarks_alive`] when the benchmark phase ran.
pub fn gates(g0: Option<Gate>, report: &Headroom) -> Vec<Gate> {
    use std::fmt::Write;
    let (relevance, statics, statics_on_proxy, confirm) =
        (&report.relevance, &report.statics, &report.statics_on_proxy, &report.confirm);
    let (share, explained, branch) = (
        report.mixture_share.as_ref(),
        report.explained.as_ref().map(|e| e.0),
        report.branch.as_ref(),
    );
    let mut g = vec![g0.unwrap_or_else(|| Gate {
        id: "G0".into(),
        asks: "benchmarks alive".into(),
        pass: None,
        figure: "no benchmark phase (not reached yet, or task_items = 0)".into(),
    })];
    // G1, per field.
    let mut fields: Vec<&str> = relevance.iter().map(|r| r.field.as_str()).collect();
    fields.dedup();
    let mut g1_pass = !fields.is_empty();
    let mut parts = Vec::new();
    for f in &fields {
        let mine: Vec<&Relevance> = relevance.iter().filter(|r| r.field == *f).collect();
        let strong = mine.iter().filter(|r| r.strongly_relevant()).count();
        let weak = mine.iter().filter(|r| r.useless_or_harmful()).count();
        let ok = strong >= 3 && weak * 4 >= mine.len();
        g1_pass &= ok;
        parts.push(format!(
            "{f}: {strong} of {} domains ≥ 3σ above the field's mean, {weak} ({:.0}%) useless or harmful",
            mine.len(),
            100.0 * weak as f64 / mine.len().max(1) as f64
        ));
    }
    g.push(Gate {
        id: "G1".into(),
        asks: "relevance differs: per field ≥ 3 domains help its feedback by ≥ 3σ more than the field's mean domain, and ≥ 25% help not at all or hurt".into(),
        pass: (!fields.is_empty()).then_some(g1_pass),
        figure: if parts.is_empty() { "no relevance runs".into() } else { parts.join("; ") },
    });
    // G2 and G3 on the confirmation seeds.
    let find = |label: &str| confirm.iter().find(|r| r.label == label);
    let (uniform, best) = (find("uniform"), find("best-static"));
    match (uniform, best) {
        (Some(u), Some(b)) => {
            let d = Paired::of(&b.outcomes, &u.outcomes, |o| o.balanced);
            let gain = u.mean_balanced();
            let need = (5.0 * d.sd).max(0.15 * gain.abs());
            let feedback_ok = d.mean >= need;
            let mut figure = format!(
                "best static − uniform = {:+.4} (σ {:.4}, {} seeds; needs ≥ {:.4}; uniform's gain {:+.4})",
                d.mean, d.sd, d.n, need, gain
            );
            // The benchmark half, when the confirmation runs were scored on the benchmarks.
            let pass = match report.benchmark_gain.as_ref().map(|b| &b.overall) {
                Some(p) => {
                    let _ = write!(
                        figure,
                        "; benchmark average {:+.1} ± {:.1} points (σ {:.1}; needs ≥ 3)",
                        p.mean, p.half, p.sd
                    );
                    feedback_ok && p.mean >= 3.0
                }
                None => {
                    figure
                        .push_str("; benchmark half not measured (no benchmark phase yet, or task_items = 0): feedback only");
                    feedback_ok
                }
            };
            g.push(Gate {
                id: "G2".into(),
                asks: "static headroom: best static − uniform ≥ max(5σ, 15% of uniform's balanced gain), and ≥ 3 points on the benchmark average".into(),
                pass: Some(pass),
                figure,
            });
            let dynamics: Vec<&Row> = confirm
                .iter()
                .filter(|r| !["uniform", "best-static"].contains(&r.label.as_str()))
                .collect();
            let best_dyn = dynamics
                .iter()
                .map(|r| (r, Paired::of(&r.outcomes, &b.outcomes, |o| o.balanced)))
                .max_by(|a, b| a.1.mean.total_cmp(&b.1.mean));
            g.push(match best_dyn {
                Some((r, d)) => Gate {
                    id: "G3".into(),
                    asks: "dynamic headroom: best dynamic schedule − best static ≥ 2σ".into(),
                    // A schedule that equals the best static mixture (difference 0, σ 0) is
                    // no headroom: the gate needs a positive difference.
                    pass: Some(d.mean > 0.0 && d.mean >= 2.0 * d.sd),
                    figure: if d.mean == 0.0 && d.sd == 0.0 {
                        format!("{} is the best static mixture itself (difference 0 on all {} seeds); no dynamic schedule beats it", r.label, d.n)
                    } else {
                        format!(
                            "{} − best static = {:+.4} (σ {:.4}, {} seeds; {:.1}σ)",
                            r.label,
                            d.mean,
                            d.sd,
                            d.n,
                            d.sigmas()
                        )
                    },
                },
                None => Gate {
                    id: "G3".into(),
                    asks: "dynamic headroom".into(),
                    pass: None,
                    figure: "no dynamic schedule ran".into(),
                },
            });
        }
        _ => {
            for (id, asks) in [("G2", "static headroom"), ("G3", "dynamic headroom")] {
                g.push(Gate {
                    id: id.into(),
                    asks: asks.into(),
                    pass: None,
                    figure: "no confirmation runs".into(),
                });
            }
        }
    }
    // G4.
    let target: Vec<f64> = statics.iter().map(Row::mean_balanced).collect();
    g.push(if statics_on_proxy.len() == target.len() && target.len() >= 2 {
        let rho = spearman(statics_on_proxy, &target);
        Gate {
            id: "G4".into(),
            asks: "proxy fidelity: Spearman ρ ≥ 0.6 between proxy and target rankings of ≥ 16 mixtures".into(),
            pass: Some(rho >= 0.6 && target.len() >= 16),
            figure: format!("ρ = {rho:.2} over {} static mixtures", target.len()),
        }
    } else {
        Gate { id: "G4".into(), asks: "proxy fidelity".into(), pass: None, figure: "no proxy runs of the static mixtures".into() }
    });
    let ridge = explained.map_or(String::new(), |r2| {
        format!("; a 5-fold ridge regression on the weights of a trajectory collection explains R² = {r2:.2}")
    });
    let statics_reading = share.map_or(String::new(), |v| {
        format!(
            "; over replicated static mixtures {:.2} of a stage's reward variance ({} mixtures × {} seeds on the target model{})",
            v.pooled,
            v.mixtures,
            v.seeds,
            v.by_window.last().map_or(String::new(), |w| format!("; over the whole run {:.2}", w.1))
        )
    });
    g.push(match (branch, share, explained) {
        (Some(b), ..) => Gate {
            id: "G5".into(),
            asks: "learnable signal: within a stage, the mixture explains ≥ 30% of the reward's variance (mixtures branched from a shared state, the seed's state as a block)".into(),
            pass: Some(b.share >= 0.30 && b.shared_prefix),
            figure: format!(
                "the mixture's share of stage {}'s reward = {:.2} from a shared state (95% bootstrap interval over seeds {:.2} to {:.2}; σ_mix {:.4}, noise {:.4}; {} mixtures × {} seeds on the {}; {:.2} counting each seed's state as noise){}{}{statics_reading}{ridge}",
                b.stage,
                b.share,
                b.interval.0,
                b.interval.1,
                b.sd_mixture,
                b.sd_noise,
                b.mixtures,
                b.seeds,
                b.model,
                b.one_way,
                if b.by_field.is_empty() {
                    String::new()
                } else {
                    let each: Vec<String> = b
                        .by_field
                        .iter()
                        .map(|f| format!("{} {:.2} (σ_mix {:.4}, noise {:.4})", f.field, f.share, f.sd_mixture, f.sd_noise))
                        .collect();
                    format!("; each field's half alone: {}", each.join(", "))
                },
                if b.shared_prefix { "" } else { "; NOT a shared state: under some seed the runs differ before the branched stage (a resumed run with another thread count?), so this reading does not count" }
            ),
        },
        (None, Some(v), _) => Gate {
            id: "G5".into(),
            asks: "learnable signal: within a stage, the mixture explains ≥ 30% of the reward's variance (its share of the variance over replicated static mixtures)".into(),
            pass: Some(v.pooled >= 0.30),
            figure: format!(
                "the mixture's share of a stage's reward variance = {:.2} (stages pooled; {} mixtures × {} seeds on the target model){ridge}",
                v.pooled, v.mixtures, v.seeds
            ),
        },
        (None, None, Some(r2)) => Gate {
            id: "G5".into(),
            asks: "learnable signal: within a stage, the mixture explains ≥ 30% of the reward's variance (out-of-fold R²)".into(),
            pass: Some(r2 >= 0.30),
            figure: format!("R² = {r2:.2} (stages pooled, 5-fold ridge regression on the weights)"),
        },
        (None, None, None) => Gate { id: "G5".into(), asks: "learnable signal".into(), pass: None, figure: "no branched or replicated static mixtures, and no trajectory collection".into() },
    });
    g
}

impl Headroom {
    /// The report as Markdown: gates, relevance, statics, confirmation rows.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "| gate | verdict | figure | asks |\n|---|---|---|---|");
        for g in &self.gates {
            let _ = writeln!(s, "| {} | **{}** | {} | {} |", g.id, g.verdict(), g.figure, g.asks);
        }
        if !self.relevance.is_empty() {
            let _ = writeln!(
                s,
                "\nPer-domain relevance (G1): {}, mean ± 95% interval over seeds; above the field's mean: the help less the mean help of the field's domains, seed by seed, with σ the SD of those per-seed differences (the σ of the verdict).\n\n| domain | field | help | above the field's mean | in σ | verdict |\n|---|---|---|---|---|---|",
                self.relevance_method.describe()
            );
            for r in &self.relevance {
                let verdict = if r.strongly_relevant() {
                    "strongly relevant"
                } else if r.useless_or_harmful() {
                    if r.help.mean < 0.0 {
                        "harmful"
                    } else {
                        "useless"
                    }
                } else {
                    "helps"
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {:+.4} ± {:.4} | {:+.4} (σ {:.4}) | {} | {verdict} |",
                    r.domain,
                    r.field,
                    r.help.mean,
                    r.help.half,
                    r.above_mean.mean,
                    r.above_mean.sd,
                    r.above_mean.sigmas_label()
                );
            }
        }
        if !self.statics.is_empty() {
            let _ = writeln!(s, "\nStatic mixtures on the target model (selection seeds), best first; the proxy column is the same mixture on the proxy (G4).\n\n| mixture | balanced (target) | balanced (proxy) |\n|---|---|---|");
            for (r, p) in self
                .statics
                .iter()
                .zip(self.statics_on_proxy.iter().map(Some).chain(std::iter::repeat(None)))
            {
                let _ = writeln!(
                    s,
                    "| {} | {:+.4} | {} |",
                    r.label,
                    r.mean_balanced(),
                    p.map_or("—".into(), |p| format!("{p:+.4}"))
                );
            }
        }
        if !self.confirm.is_empty() {
            // Per field too, in σ of its paired differences: where the headroom is, and which
            // field's noise holds a gate back.
            let uniform = self.confirm.iter().find(|r| r.label == "uniform");
            let fields: Vec<String> = uniform
                .and_then(|u| u.outcomes.first())
                .map(|o| o.delta.keys().cloned().collect())
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "\nConfirmation on fresh seeds (paired with uniform; per field: the field's change minus uniform's, and that in σ of its per-seed differences).\n\n| policy | balanced | − uniform (paired) |{}\n|---|---|---|{}",
                fields.iter().map(|f| format!(" {f} − uniform |")).collect::<String>(),
                "---|".repeat(fields.len())
            );
            for r in &self.confirm {
                let d = uniform.map(|u| Paired::of(&r.outcomes, &u.outcomes, |o| o.balanced));
                let per_field: String = fields
                    .iter()
                    .map(|f| match uniform.filter(|_| r.label != "uniform") {
                        Some(u) => {
                            let value = |o: &Outcome| o.delta.get(f).copied().unwrap_or(f64::NAN);
                            let d = Paired::of(&r.outcomes, &u.outcomes, value);
                            format!(" {:+.4} ({}) |", d.mean, d.sigmas_label())
                        }
                        None => " — |".into(),
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {:+.4} | {} |{per_field}",
                    r.label,
                    r.mean_balanced(),
                    d.filter(|_| r.label != "uniform")
                        .map_or("—".into(), |d| format!("{:+.4} ± {:.4}", d.mean, d.half))
                );
            }
        }
        if let Some(b) = &self.benchmark_gain {
            let _ = writeln!(
                s,
                "\nBenchmarks on the confirmation seeds (G2's benchmark half): best static − uniform per task, in points of score ((accuracy − chance) / (1 − chance) × 100), mean ± 95% interval over {} paired seeds; only the averaged tasks count (alive for the base, evaluation-only where the field has such).\n\n| task | field | averaged | best static − uniform | in σ |\n|---|---|---|---|---|",
                b.overall.n
            );
            for t in &b.tasks {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:+.1} ± {:.1} | {} |",
                    t.task,
                    t.field,
                    if t.averaged { "yes" } else { "no" },
                    t.gain.mean,
                    t.gain.half,
                    t.gain.sigmas_label()
                );
            }
            let _ = writeln!(
                s,
                "| **overall average** | | | **{:+.1} ± {:.1}** | {} |",
                b.overall.mean,
                b.overall.half,
                b.overall.sigmas_label()
            );
        }
        if let Some(v) = &self.mixture_share {
            let per: Vec<String> = v.per_stage.iter().map(|x| format!("{x:.2}")).collect();
            let windows: Vec<String> =
                v.by_window.iter().map(|(k, x)| format!("{x:.2} over {k} stages")).collect();
            let _ = writeln!(
                s,
                "\nThe static reading of G5, the mixture's share of each stage's reward variance ({} static mixtures × {} seeds, target model; each seed's state counted as noise): {} (pooled {:.2}); of the reward summed over consecutive stages, as a longer stage would give it: {}.",
                v.mixtures,
                v.seeds,
                per.join(", "),
                v.pooled,
                if windows.is_empty() { "—".to_string() } else { windows.join(", ") }
            );
        }
        if let Some((r2, per)) = &self.explained {
            let per: Vec<String> = per.iter().map(|v| format!("{v:.2}")).collect();
            let _ =
                writeln!(s, "\nG5, out-of-fold R² by stage: {} (pooled {r2:.2}).", per.join(", "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(seed: u64, g: f64, m: f64) -> Outcome {
        Outcome {
            seed,
            delta: [("general".into(), g), ("math".into(), m)].into(),
            balanced: (g + m) / 2.0,
            rewards: Vec::new(),
            field_rewards: BTreeMap::new(),
        }
    }

    #[test]
    fn paired_differences_by_hand() {
        // Differences 1, 2, 3 (seed 9 unpaired): mean 2, sd 1, half 4.303/√3.
        let a = [
            outcome(0, 2.0, 0.0),
            outcome(1, 4.0, 0.0),
            outcome(2, 6.0, 0.0),
            outcome(9, 0.0, 0.0),
        ];
        let b = [outcome(0, 0.0, 0.0), outcome(1, 0.0, 0.0), outcome(2, 0.0, 0.0)];
        let d = Paired::of(&a, &b, |o| o.balanced);
        assert_eq!((d.mean, d.sd, d.n), (2.0, 1.0, 3));
        assert!((d.half - 4.303 / 3f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn spearman_by_hand() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Ranks (1, 2, 3, 4) against (2, 1, 4, 3): Σd² = 4, ρ = 1 − 6·4/(4·15) = 0.6.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 4.0, 3.0]) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn relevance_finds_helpful_and_harmful_domains() {
        // Field math, 4 domains over 3 seeds: the math change of each single-domain run.
        let noise = [0.001, -0.001, 0.0];
        let single: BTreeMap<String, Vec<Outcome>> =
            [("a", 0.30), ("b", 0.05), ("c", 0.0), ("d", -0.10)]
                .iter()
                .map(|(d, m)| {
                    (
                        d.to_string(),
                        (0..3).map(|s| outcome(s, 0.0, m + noise[s as usize])).collect(),
                    )
                })
                .collect();
        let field_of = single.keys().map(|d| (d.clone(), "math".to_string())).collect();
        let r = relevance(&single, &field_of, None);
        let by = |d: &str| r.iter().find(|x| x.domain == d).unwrap();
        // Mean help 0.0625; a is 0.2375 above it with a tiny σ.
        assert!((by("a").above_mean.mean - 0.2375).abs() < 1e-12);
        assert!(by("a").strongly_relevant() && !by("a").useless_or_harmful());
        assert!(by("c").useless_or_harmful() && by("d").useless_or_harmful());
        assert!(!by("b").useless_or_harmful());
        let g = gates(None, &Headroom { relevance: r.to_vec(), ..Default::default() });
        assert_eq!(g[1].pass, Some(false), "only one strongly relevant domain: {}", g[1].figure);
        // The table shows the σ the verdict reads: that of the per-seed differences to the
        // field's mean (0 here: every domain shares the seeds' noise), not that of the help.
        let md = Headroom { relevance: r.to_vec(), ..Default::default() }.to_markdown();
        assert!(
            md.contains(
                "| a | math | +0.3000 ± 0.0025 | +0.2375 (σ 0.0000) | ≥ 100σ | strongly relevant |"
            ),
            "{md}"
        );

        // Against a baseline run (beside-uniform relevance): help is the paired difference to
        // it, seed by seed; a seed the baseline lacks is left out; above-mean is unchanged.
        let baseline: Vec<Outcome> =
            (0..2).map(|s| outcome(s, 0.0, 0.05 + noise[s as usize])).collect();
        let r = relevance(&single, &field_of, Some(&baseline));
        let by = |d: &str| r.iter().find(|x| x.domain == d).unwrap();
        assert_eq!(by("a").help.n, 2);
        assert!((by("a").help.mean - 0.25).abs() < 1e-12);
        assert!(by("b").help.mean.abs() < 1e-12 && by("b").useless_or_harmful());
        assert!((by("a").above_mean.mean - 0.2375).abs() < 1e-12);
    }

    /// A confirmation row over seeds 0-2 whose two fields both change by `b[seed]`.
    fn row(label: &str, b: [f64; 3]) -> Row {
        Row {
            label: label.into(),
            spec: label.into(),
            outcomes: (0..3).map(|s| outcome(s, b[s as usize], b[s as usize])).collect(),
        }
    }

    #[test]
    fn a_schedule_equal_to_the_best_static_is_no_dynamic_headroom() {
        let confirm = [
            row("uniform", [0.0, 0.01, 0.02]),
            row("best-static", [0.05, 0.06, 0.07]),
            row("anneal", [0.05, 0.06, 0.07]),
        ];
        let g = gates(None, &Headroom { confirm: confirm.to_vec(), ..Default::default() });
        assert_eq!(g[3].pass, Some(false), "{}", g[3].figure);
        assert!(g[3].figure.contains("is the best static mixture itself"), "{}", g[3].figure);
    }

    #[test]
    fn g2_needs_the_benchmark_half_when_it_was_measured() {
        // The feedback half passes: +0.05 with σ 0 (≥ 15% of uniform's 0.01).
        let confirm =
            vec![row("uniform", [0.0, 0.01, 0.02]), row("best-static", [0.05, 0.06, 0.07])];
        let report = |bench: Option<Vec<(f64, f64)>>| {
            let task = |field: &str, name: &str, score: f64, alive: bool| crate::TaskResult {
                task: name.into(),
                field: field.into(),
                items: 400,
                score,
                alive: Some(alive),
                accuracy: None,
                chance: None,
                wilson_half: None,
                training_text: false,
            };
            // Per seed (static, uniform) scores of the one alive task per field; `dead` moves
            // wildly and must not count.
            let tasks = |g: f64, dead: f64| crate::TaskReport {
                tasks: vec![
                    task("general", "cloze", g, true),
                    task("general", "dead", dead, false),
                    task("math", "m_cloze", g, true),
                ],
            };
            let benchmark_gain = bench.map(|pairs| {
                let base = tasks(0.0, 0.0);
                let a: Vec<_> = pairs.iter().map(|p| tasks(p.0, 90.0)).collect();
                let b: Vec<_> = pairs.iter().map(|p| tasks(p.1, -90.0)).collect();
                benchmark_gain(&base, &a, &b, &["general".to_string(), "math".to_string()])
            });
            Headroom { confirm: confirm.clone(), benchmark_gain, ..Default::default() }
        };
        let g2 = |bench| gates(None, &report(bench))[2].clone();
        let unmeasured = g2(None);
        assert_eq!(unmeasured.pass, Some(true));
        assert!(unmeasured.figure.contains("benchmark half not measured"), "{}", unmeasured.figure);
        let small = g2(Some(vec![(12.0, 10.0), (11.0, 9.0), (13.0, 11.0)]));
        assert_eq!(small.pass, Some(false), "+2 points is short of 3: {}", small.figure);
        assert!(small.figure.contains("benchmark average +2.0"), "{}", small.figure);
        let large = g2(Some(vec![(14.0, 10.0), (13.0, 9.0), (15.0, 11.0)]));
        assert_eq!(large.pass, Some(true), "{}", large.figure);
        // The per-task table says where the average comes from, the dead task shown, not counted.
        let md = report(Some(vec![(12.0, 10.0), (11.0, 9.0), (13.0, 11.0)])).to_markdown();
        assert!(md.contains("| m_cloze | math | yes | +2.0 ± 0.0 |"), "{md}");
        assert!(md.contains("| dead | general | no | +180.0 ± 0.0 |"), "{md}");
        assert!(md.contains("| **overall average** | | | **+2.0 ± 0.0** |"), "{md}");
        // The confirmation table shows each field's paired difference (here +0.05 in both
        // fields on every seed: σ about 0, shown as at least 100σ).
        let md = report(None).to_markdown();
        assert!(md.contains("| general − uniform | math − uniform |"), "{md}");
        assert!(
            md.contains(
                "| best-static | +0.0600 | +0.0500 ± 0.0000 | +0.0500 (≥ 100σ) | +0.0500 (≥ 100σ) |"
            ),
            "{md}"
        );
    }

    #[test]
    fn g0_counts_tasks_alive_for_both_models_and_says_how_far_a_near_miss_fell() {
        let task = |name: &str, field: &str, acc: f64, alive: bool| crate::TaskResult {
            task: name.into(),
            field: field.into(),
            items: 400,
            score: 0.0,
            alive: Some(alive),
            accuracy: Some(acc),
            chance: Some(0.5),
            wilson_half: Some(0.047),
            training_text: false,
        };
        let base = crate::TaskReport {
            tasks: vec![
                task("agreement", "general", 0.735, true),
                task("cloze", "general", 0.713, true),
                task("word_order", "general", 0.792, true),
                task("m1", "math", 0.9, true),
                task("m2", "math", 0.9, true),
                task("m3", "math", 0.9, true),
            ],
        };
        let mut only = base.clone();
        only.tasks[0] = task("agreement", "general", 0.640, false);
        let fields = ["general".to_string(), "math".to_string()];
        let g = benchmarks_alive(&base, &only, &fields);
        assert_eq!(g.pass, Some(false), "{}", g.figure);
        assert!(
            g.figure.contains(
                "general: 2 of 3 tasks alive for both (cloze, word_order); agreement after target-only CPT 0.640, needs 0.641"
            ),
            "{}",
            g.figure
        );
        assert!(
            g.figure.contains("math: 3 of 3 tasks alive for both (m1, m2, m3)"),
            "{}",
            g.figure
        );
        assert_eq!(benchmarks_alive(&base, &base, &fields).pass, Some(true));
        // Tasks on the training domains' held-out text do not count where the field has an
        // evaluation-only task alive: they are not averaged.
        let mut mixed = base.clone();
        mixed.tasks[0].training_text = true;
        mixed.tasks.push(task("genre_cloze", "general", 0.7, true));
        let g = benchmarks_alive(&mixed, &mixed, &fields);
        assert!(
            g.figure
                .contains("general: 3 of 3 tasks alive for both (cloze, word_order, genre_cloze)"),
            "{}",
            g.figure
        );
    }

    #[test]
    fn branch_share_by_hand() {
        // 3 mixtures × 2 seeds at stage 1 (stage 0 is shared). Seed 1 adds 10 to everything
        // (its state), so one-way the seed is most of the variance; blocked, it is removed.
        // y = a: (1, 11), b: (3, 15), c: (8, 18). Mixture means 6, 9, 13 around 28/3; seed
        // means 4, 44/3 around 28/3. Residuals e_ij = y − row − col + grand: a (1/3, −1/3),
        // b (−2/3, 2/3), c (1/3, −1/3): SS 12/9 over 2 df. One-way, the seed's 10 is noise
        // larger than the mixtures' spread: share 0. Field by field: general's half is the
        // reward itself, math's moves with the seed and a little noise, never the mixture.
        let row = |label: &str, r: [f64; 2], noise: [f64; 2]| Row {
            label: label.into(),
            spec: label.into(),
            outcomes: (0..2)
                .map(|s| {
                    let s_ = s as usize;
                    Outcome {
                        rewards: vec![0.5, r[s_]],
                        field_rewards: [
                            ("general".to_string(), vec![0.5, r[s_]]),
                            ("math".to_string(), vec![0.5, 10.0 * s as f64 + noise[s_]]),
                        ]
                        .into(),
                        ..outcome(s, 0.0, 0.0)
                    }
                })
                .collect(),
        };
        let rows = [
            row("a", [1.0, 11.0], [0.1, -0.1]),
            row("b", [3.0, 15.0], [-0.1, 0.1]),
            row("c", [8.0, 18.0], [0.0, 0.0]),
        ];
        let b = branch_share(&rows, 1, "proxy").unwrap();
        let field = |f: &str| b.by_field.iter().find(|x| x.field == f).unwrap();
        assert!((field("general").share - b.share).abs() < 1e-12, "{:?}", b.by_field);
        assert_eq!(field("math").share, 0.0, "{:?}", b.by_field);
        assert!(field("math").sd_noise > 0.0, "{:?}", b.by_field);
        let ms_mix = 2.0
            * ((6.0f64 - 28.0 / 3.0).powi(2)
                + (9.0f64 - 28.0 / 3.0).powi(2)
                + (13.0f64 - 28.0 / 3.0).powi(2))
            / 2.0;
        let ms_res = 12.0 / 9.0 / 2.0;
        let mix = (ms_mix - ms_res) / 2.0;
        assert!((b.share - mix / (mix + ms_res)).abs() < 1e-12, "{}", b.share);
        assert!(b.share > 0.9 && b.one_way == 0.0, "blocking removes the seed: {b:?}");
        // Resampling two seeds: a draw of one seed twice has no residual, share 1 or 0.
        assert!(b.interval.0 <= b.share && b.share <= b.interval.1, "{:?}", b.interval);
        assert_eq!(b.interval, branch_share(&rows, 1, "proxy").unwrap().interval);
        assert_eq!((b.stage, b.mixtures, b.seeds), (1, 3, 2));
        assert!(b.shared_prefix);
        // Runs that differ before the branched stage are no shared state: the gate fails.
        let mut drifted = rows.clone();
        drifted[2].outcomes[1].rewards[0] = 0.6;
        let d = branch_share(&drifted, 1, "proxy").unwrap();
        assert!(!d.shared_prefix);
        let g = gates(None, &Headroom { branch: Some(d), ..Default::default() });
        assert_eq!(g[5].pass, Some(false), "{}", g[5].figure);
        // The shared stage has no mixture effect at all.
        assert_eq!(branch_share(&rows, 0, "proxy").unwrap().share, 0.0);
        assert!(branch_share(&rows, 2, "proxy").is_none(), "runs end before stage 2");
        assert!(branch_share(&rows[..2], 1, "proxy").is_none(), "two mixtures are too few");
        // The gate reads it before the static reading.
        let g = gates(None, &Headroom { branch: Some(b.clone()), ..Default::default() });
        assert_eq!(g[5].pass, Some(true), "{}", g[5].figure);
        assert!(g[5].figure.contains("stage 1"), "{}", g[5].figure);
        assert!(g[5].figure.contains("alone: general 0.9"), "{}", g[5].figure);
        assert!(g[5].figure.contains("math 0.00"), "{}", g[5].figure);
    }

    #[test]
    fn mixture_share_by_hand() {
        // 3 mixtures × 2 seeds, one stage: rewards (1, 3), (5, 7), (9, 11). Means 2, 6, 10
        // around 6: MS_between = 2·(16 + 0 + 16)/2 = 32; MS_within = 3·(1 + 1)/3 = 2;
        // σ²_mix = (32 − 2)/2 = 15; share = 15/(15 + 2).
        let row = |label: &str, r: [f64; 2]| Row {
            label: label.into(),
            spec: label.into(),
            outcomes: (0..2)
                .map(|s| Outcome { rewards: vec![r[s as usize]], ..outcome(s, 0.0, 0.0) })
                .collect(),
        };
        let rows = [row("a", [1.0, 3.0]), row("b", [5.0, 7.0]), row("c", [9.0, 11.0])];
        let v = mixture_share(&rows).unwrap();
        assert!((v.pooled - 15.0 / 17.0).abs() < 1e-12, "{}", v.pooled);
        assert_eq!((v.mixtures, v.seeds), (3, 2));
        assert!(v.by_window.is_empty(), "one stage has no longer window");
        // Pure noise (every mixture the same on average): the share is 0.
        let flat = [row("a", [1.0, 3.0]), row("b", [3.0, 1.0]), row("c", [1.0, 3.0])];
        assert_eq!(mixture_share(&flat).unwrap().pooled, 0.0);
        // Two stages whose noise cancels over the pair: each stage alone is noise around a
        // common mean, their sum is the mixture's (3, 7, 11) exactly.
        let two = |label: &str, base: f64| Row {
            label: label.into(),
            spec: label.into(),
            outcomes: (0..2)
                .map(|s| {
                    let e = if s == 0 { 1.0 } else { -1.0 };
                    Outcome {
                        rewards: vec![base / 2.0 + e, base / 2.0 - e],
                        ..outcome(s, 0.0, 0.0)
                    }
                })
                .collect(),
        };
        let w = mixture_share(&[two("a", 3.0), two("b", 7.0), two("c", 11.0)]).unwrap();
        assert_eq!(w.by_window, [(2, 1.0)], "the pair's sum is all mixture");
        assert!(w.pooled < 1.0);
        let g = gates(
            None,
            &Headroom {
                mixture_share: Some(v.clone()),
                explained: Some((-0.5, Vec::new())),
                ..Default::default()
            },
        );
        assert_eq!(g[5].pass, Some(true), "{}", g[5].figure);
        assert!(mixture_share(&rows[..2]).is_none(), "two mixtures are too few");
    }

    #[test]
    fn ridge_cv_explains_a_linear_signal_and_not_noise() {
        // y = 2·w0 − w1 exactly: out-of-fold R² near 1; y unrelated to w: R² ≤ ~0.
        let x: Vec<Vec<f64>> = (0..40)
            .map(|i| vec![(i % 7) as f64 / 7.0, (i % 5) as f64 / 5.0, (i % 3) as f64 / 3.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|w| 2.0 * w[0] - w[1]).collect();
        let (sse, sst) = cv_ridge(&x, &y, 5, 1e-6);
        assert!(1.0 - sse / sst > 0.99, "{}", 1.0 - sse / sst);
        let noise: Vec<f64> = (0..40).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        let (sse, sst) = cv_ridge(&x, &noise, 5, 1e-3);
        assert!(1.0 - sse / sst < 0.2, "{}", 1.0 - sse / sst);
    }
}
