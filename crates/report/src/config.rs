//! `experiments/compare-*.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bad configs and run folders; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A config file that cannot be read or parsed.
    #[error(transparent)]
    Load(#[from] mixagent_core::FileError),
    /// A config or run file that cannot be used.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A run file.
    #[error(transparent)]
    Trajectory(#[from] mixagent_trajectory::TrajectoryError),
    /// A report file that cannot be written (the cause keeps its io error).
    #[error(transparent)]
    Write(mixagent_shard::ShardError),
}

/// A comparison: every policy steers the same run config once per seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    /// The run config (`experiments/collect-*.toml` format): corpus, base, space, stages.
    pub run: PathBuf,
    /// Overrides of the run config (`key=value`).
    #[serde(default)]
    pub set: Vec<String>,
    /// Seeds (each sets the run config's `seed`: data order and the policies' draws).
    pub seeds: Vec<u64>,
    /// Policy specs, as `cpt --policy` takes them.
    pub policies: Vec<String>,
    /// Title of the report [default: the config's file name].
    #[serde(default)]
    pub title: String,
    /// Evaluate the base and every final model on the benchmark suite (`eval --suite full`).
    #[serde(default = "yes")]
    pub benchmarks: bool,
    /// Items per benchmark task.
    #[serde(default = "default_task_items")]
    pub task_items: usize,
    /// Feedback items per field the final score is read on: the base and every final model are
    /// scored on this many (`eval --items`), so the table does not carry the sampling noise of
    /// the runs' small per-stage observations (`observe.items_per_field`). 0: the runs' own
    /// last observation.
    #[serde(default)]
    pub final_items: usize,
    /// Observation items a field for the runs of policies that do not read feedback (uniform,
    /// fixed ratios, static and scheduled mixtures, RegMix, MixMin, the oracle): nothing reads
    /// their per-stage observation, and training does not depend on it, so they can observe
    /// fewer items than the run config's and cost less; only their scores-over-stages curve is
    /// noisier. 0: the run config's for every policy.
    #[serde(default)]
    pub static_observe_items: usize,
    /// Fingerprints of bases that count as the run config's base: the same `pretrain` command
    /// run again on another machine, whose float32 rounding differs (an AMD and an Intel CPU
    /// give bases whose final losses agree to four decimals but whose files differ). A finished
    /// run trained from one of them is kept instead of refused as stale; the report lists them.
    /// Only for a base made by the same command on the same corpus: a run from a listed base
    /// must record the same base folder and model size, or it is refused.
    #[serde(default)]
    pub equivalent_bases: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_task_items() -> usize {
    100
}

impl CompareConfig {
    /// Reads and checks a compare config.
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let bad = |m: String| ReportError::File { path: path.to_path_buf(), message: m };
        let cfg: CompareConfig = mixagent_core::load_config(path, &[])?;
        if cfg.benchmarks && cfg.task_items == 0 {
            return Err(bad("task_items must be at least 1 (or set benchmarks = false)".into()));
        }
        if cfg.seeds.is_empty() || cfg.policies.is_empty() {
            return Err(bad("needs at least one seed and one policy".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &cfg.policies {
            if !seen.insert(policy_slug(p)) {
                return Err(bad(format!("policy `{p}` is listed twice")));
            }
        }
        Ok(cfg)
    }
}

/// What `mixagent headroom` measures (DESIGN §10's gates), and on which models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadroomConfig {
    /// The run config (`experiments/collect-*.toml` format): corpus, space, stages, training.
    pub run: PathBuf,
    /// Overrides that make it the target model's run (`base=…`).
    #[serde(default)]
    pub set: Vec<String>,
    /// Further overrides that make it the proxy's run (`base=…`): the relevance ablation (G1)
    /// and the proxy column of the static mixtures (G4) run there. Empty: no proxy runs; the
    /// relevance ablation then runs on the target model.
    #[serde(default)]
    pub proxy_set: Vec<String>,
    /// Further overrides for the branch phase (G5) only, after `set` and `proxy_set`. G5 reads
    /// each stage's observation; no other phase's policies do (their verdicts come from the
    /// final scores), so those phases can observe fewer items (`set`) and the branches the
    /// agent's full observation (`branch_set = ["observe.items_per_field=256"]`).
    #[serde(default)]
    pub branch_set: Vec<String>,
    /// Seeds of the relevance ablation (unless `relevance_seeds` is given) and of choosing the
    /// best static mixture.
    pub selection_seeds: Vec<u64>,
    /// Seeds of the relevance ablation, which decides G1 (DESIGN §10 asks ≥ 5 seeds on the rows
    /// that decide a gate; it runs on the cheap proxy) [default: `selection_seeds`].
    #[serde(default)]
    pub relevance_seeds: Vec<u64>,
    /// Fresh seeds on which uniform, the chosen static mixture and the dynamic schedules are
    /// compared, paired (G2, G3): never the seeds the choice was made on.
    pub confirm_seeds: Vec<u64>,
    /// Random static mixtures drawn (Dirichlet over the space's entries).
    #[serde(default = "default_statics")]
    pub statics: usize,
    /// Their Dirichlet concentration (small: sparse mixtures).
    #[serde(default = "default_concentration")]
    pub concentration: f64,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: u64,
    /// A trajectory collection on this corpus, for G5's regression reading (optional).
    #[serde(default)]
    pub trajectories: Option<PathBuf>,
    /// G5's branch reading: this many mixtures (uniform and the first static draws, so at most
    /// `statics` + 1) each run for one stage from a shared state (uniform before and after
    /// it), on the confirmation seeds, on the proxy when there is one; 0 (or fewer than 3
    /// available) skips it.
    #[serde(default = "default_branches")]
    pub branches: usize,
    /// The stage the branches differ at [default: the middle stage].
    #[serde(default)]
    pub branch_stage: Option<usize>,
    /// Which mixtures the branches try at that stage [default: `statics`].
    #[serde(default)]
    pub branch_mixtures: BranchMixtures,
    /// Run the branches on the target model even when there is a proxy (DESIGN §10 measures
    /// the gates on the target; the proxy is cheaper, and is what the agent is trained on).
    #[serde(default)]
    pub branch_on_target: bool,
    /// Seeds of the branch reading [default: `confirm_seeds`]. The share is an estimate over
    /// mixtures × seeds: at the study scale five seeds read 0.42 and five others 0.00 of the
    /// same mixtures (0.17 over the ten; `docs/results/g5-seeds-probe-v5/`), so G5 wants more
    /// seeds than the paired gates. Branch runs are proxy runs of one changed stage, cheap.
    #[serde(default)]
    pub branch_seeds: Vec<u64>,
    /// Items per benchmark task for G0 (the base and a target-only model are scored on the
    /// benchmark suite); 0 skips G0.
    #[serde(default = "default_headroom_task_items")]
    pub task_items: usize,
    /// Feedback items per field every phase's final score is read on (`compare`'s
    /// `final_items`); 0: the runs' own last observation.
    #[serde(default)]
    pub final_items: usize,
    /// How the relevance ablation (G1) measures a domain [default: `alone`].
    #[serde(default)]
    pub relevance: RelevanceMethod,
    /// Fingerprints of bases that count as the target's or the proxy's base: the same `pretrain` command
    /// run again on another machine, whose float32 rounding differs (an AMD and an Intel CPU
    /// give bases whose final losses agree to four decimals but whose files differ). A finished
    /// run trained from one of them is kept instead of refused as stale; every phase's report lists them.
    /// Only for a base made by the same command on the same corpus: a run from a listed base
    /// must record the same base folder and model size, or it is refused.
    #[serde(default)]
    pub equivalent_bases: Vec<String>,

    /// Title of the report [default: the config's file name].
    #[serde(default)]
    pub title: String,
}

/// Which mixtures G5's branch reading tries at the branched stage, beside uniform. The share
/// of a stage's reward the mixture explains depends on how far apart the mixtures tried are;
/// the reading that tells whether an agent can learn from the stage reward tries the mixtures
/// it learns from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BranchMixtures {
    /// The first static draws (Dirichlet over all entries at `concentration`): they keep the
    /// field split near the fields' domain counts.
    #[default]
    Statics,
    /// The branched stage of the first trajectories a collection with the run config (and the
    /// branch phase's overrides, `families.*` included) would plan: the families' target
    /// shares and within-field draws, the state–action pairs an agent is trained on.
    Collection,
}

impl BranchMixtures {
    /// What the branches try beside uniform, for progress lines.
    pub fn describe(self) -> &'static str {
        match self {
            BranchMixtures::Statics => "uniform and the first static draws",
            BranchMixtures::Collection => "uniform and the collection's first trajectories",
        }
    }
}

/// How `headroom` measures a domain's relevance (G1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelevanceMethod {
    /// The whole CPT budget on the domain; its help is its field's feedback change from the
    /// base. Reads what the domain teaches on its own, and at a small proxy also how much of
    /// the field's other skills training on one domain erases.
    #[default]
    Alone,
    /// A uniform mixture with half of the domain's field's share moved onto the domain (the
    /// field split unchanged); its help is its field's feedback change minus a uniform run's
    /// under the same seed: what giving the domain a large share of a realistic mixture adds,
    /// closer to what a mixer decides.
    BesideUniform,
}

impl RelevanceMethod {
    /// What one relevance run is, and what its help means, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            RelevanceMethod::Alone => "the whole CPT budget on the domain; change of the domain's own field's feedback from the base",
            RelevanceMethod::BesideUniform => "a uniform mixture with half of the domain's field's share moved onto the domain (the field split unchanged); change of the domain's own field's feedback minus a uniform run's under the same seed",
        }
    }
}

fn default_statics() -> usize {
    16
}

fn default_branches() -> usize {
    8
}

fn default_concentration() -> f64 {
    0.5
}

fn default_headroom_task_items() -> usize {
    400
}

impl HeadroomConfig {
    /// The relevance ablation's seeds: `relevance_seeds`, or the selection seeds.
    pub fn relevance_seeds(&self) -> &[u64] {
        if self.relevance_seeds.is_empty() {
            &self.selection_seeds
        } else {
            &self.relevance_seeds
        }
    }

    /// The seeds of G5's branch reading: `branch_seeds`, else `confirm_seeds`.
    pub fn branch_seeds(&self) -> &[u64] {
        if self.branch_seeds.is_empty() {
            &self.confirm_seeds
        } else {
            &self.branch_seeds
        }
    }

    /// Reads and checks a headroom config; relative paths are resolved against the working
    /// folder, as `compare` does.
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let bad = |m: String| ReportError::File { path: path.to_path_buf(), message: m };
        let cfg: HeadroomConfig = mixagent_core::load_config(path, &[])?;
        if cfg.selection_seeds.is_empty() || cfg.confirm_seeds.len() < 2 {
            return Err(bad("needs selection_seeds and at least 2 confirm_seeds (DESIGN §10 asks ≥ 5 on the rows that decide a gate)".into()));
        }
        for (seeds, what) in
            [(&cfg.selection_seeds, "selection"), (&cfg.relevance_seeds, "relevance")]
        {
            if let Some(s) = cfg.confirm_seeds.iter().find(|s| seeds.contains(s)) {
                return Err(bad(format!(
                    "seed {s} is both a {what} and a confirmation seed: confirm on fresh seeds"
                )));
            }
        }
        if !(cfg.concentration > 0.0 && cfg.concentration.is_finite()) {
            return Err(bad(format!("concentration = {}: must be positive", cfg.concentration)));
        }
        if cfg.branch_seeds.len() == 1 {
            return Err(bad(
                "branch_seeds has one seed: G5's branch reading needs at least 2 (the seed is a block of its analysis), or leave it out to use confirm_seeds".into(),
            ));
        }
        if (1..3).contains(&cfg.branches) {
            return Err(bad(format!(
                "branches = {}: G5's branch reading needs at least 3 mixtures, or 0 to skip it",
                cfg.branches
            )));
        }
        Ok(cfg)
    }
}

/// A folder name for a policy spec (`agent:runs/agent-demo` → `agent_runs_agent-demo`).
///
/// A long spec (a `static:` mixture over many domains) keeps its first 60 characters and adds
/// a hash of the whole, so file names stay far below the file system's limit and still differ.
pub fn policy_slug(spec: &str) -> String {
    let slug: String = spec
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    if slug.len() <= 80 {
        return slug;
    }
    format!("{}-{}", &slug[..60], mixagent_core::fnv64_hex(spec.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<CompareConfig, ReportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        CompareConfig::load(&path)
    }

    #[test]
    fn the_shipped_compare_and_headroom_configs_load_with_their_run_configs() {
        // Paths in the configs are relative to the repository root, as `compare` reads them.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["experiments", "experiments/env2"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let compare = name.starts_with("compare-") || dir.ends_with("env2");
                if name.ends_with(".toml") && (compare || name.starts_with("headroom-")) {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 10, "{files:?}");
        for path in files {
            let (run, set) = if path.file_name().unwrap().to_string_lossy().starts_with("headroom-")
            {
                let c = HeadroomConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
                let mut set = c.set.clone();
                set.extend(c.proxy_set.iter().chain(&c.branch_set).cloned());
                (c.run, set)
            } else {
                let c = CompareConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
                (c.run, c.set)
            };
            mixagent_trajectory::CollectConfig::load(&root.join(&run), &set)
                .unwrap_or_else(|e| panic!("{}: its run config: {e}", path.display()));
        }
    }

    #[test]
    fn long_specs_get_short_distinct_slugs() {
        assert_eq!(policy_slug("fixed:0.5"), "fixed_0.5");
        let mixture =
            |w: f64| (0..31).map(|i| format!("domain_{i}={w:.6}")).collect::<Vec<_>>().join(",");
        let (a, b) = (
            policy_slug(&format!("static:{}", mixture(0.1))),
            policy_slug(&format!("static:{}", mixture(0.2))),
        );
        assert!(a.len() <= 80 && b.len() <= 80, "{a}");
        assert_ne!(a, b);
        assert!(a.starts_with("static_domain_0_0.100000"));
    }

    #[test]
    fn defaults_and_refusals_name_the_file_and_the_fix() {
        let base = "run = \"r.toml\"\nseeds = [0]\npolicies = [\"uniform\"]\n";
        let cfg = load(base).unwrap();
        assert!(cfg.benchmarks && cfg.task_items == 100 && cfg.title.is_empty());
        assert_eq!(cfg.final_items, 0, "the runs' own observation unless asked");
        let err = |extra: &str| load(&format!("{base}{extra}")).unwrap_err().to_string();
        assert!(err("task_items = 0\n").contains("task_items must be at least 1"));
        assert!(load("run = \"r.toml\"\nseeds = [0]\npolicies = [\"a\", \"a\"]\n")
            .unwrap_err()
            .to_string()
            .contains("listed twice"));
        let e = err("sedes = [1]\n");
        assert!(e.contains("c.toml") && e.contains("sedes"), "{e}");
        assert!(load(&format!("{base}task_items = 0\nbenchmarks = false\n")).is_ok());
    }

    #[test]
    fn branch_seeds_default_to_the_confirmation_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.toml");
        let load = |extra: &str| {
            let base = "run = \"r.toml\"\nselection_seeds = [0]\nconfirm_seeds = [5, 6]\n";
            std::fs::write(&path, format!("{base}{extra}")).unwrap();
            HeadroomConfig::load(&path)
        };
        assert_eq!(load("").unwrap().branch_seeds(), [5, 6]);
        assert_eq!(load("branch_seeds = [5, 6, 7]\n").unwrap().branch_seeds(), [5, 6, 7]);
        let e = load("branch_seeds = [7]\n").unwrap_err().to_string();
        assert!(e.contains("h.toml") && e.contains("at least 2"), "{e}");
        assert_eq!(load("").unwrap().branch_mixtures, BranchMixtures::Statics);
        assert!(!load("").unwrap().branch_on_target);
        assert!(load("branch_on_target = true\n").unwrap().branch_on_target);
        let c = load("branch_mixtures = \"collection\"\n").unwrap();
        assert_eq!(c.branch_mixtures, BranchMixtures::Collection);
        let e = load("branch_mixtures = \"trajectories\"\n").unwrap_err().to_string();
        assert!(e.contains("branch_mixtures") || e.contains("unknown variant"), "{e}");
    }
}
