//! `experiments/compare-*.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bad configs and run folders; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
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
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let cfg: CompareConfig = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
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

/// A folder name for a policy spec (`agent:runs/agent-demo` → `agent_runs_agent-demo`).
pub fn policy_slug(spec: &str) -> String {
    spec.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect()
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
    fn defaults_and_refusals_name_the_file_and_the_fix() {
        let base = "run = \"r.toml\"\nseeds = [0]\npolicies = [\"uniform\"]\n";
        let cfg = load(base).unwrap();
        assert!(cfg.benchmarks && cfg.task_items == 100 && cfg.title.is_empty());
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
}
