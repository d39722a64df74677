//! Named mixture schedules run as one `mixagent compare` child per phase: the instrument of
//! `headroom` (ablations, static draws, dynamic schedules, branches) and `mixmin` (one proxy
//! per entry). Finished runs are kept, so a rerun resumes.
//!
//! Plans that share their first stages run as branches instead (G5's reading): under each
//! seed, the first plan up to the fork, then every plan from its checkpoint for two stages,
//! one job of `cpt` children per seed.
//!
//! ```text
//! <out>/schedules/<label>-<hash>.json            every plan, by name and content
//! <out>/<phase>/compare.toml, runs/<spec>/seed-N/   the compare child's config and runs
//! <out>/<phase>/prefix/seed-N/, runs/<spec>/seed-N/, logs/   a branch phase's runs
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;
use mixagent_report::headroom::Outcome;
use mixagent_report::policy_slug;
use mixagent_shard::write_atomic;
use mixagent_trajectory::{CollectConfig, SteeredRun};

use crate::children::{run_jobs, Job, Progress};
use crate::commands::compare::{cpt_args, read_scored, refuse_stale, Run};
use crate::flags::Pool;

/// A named mixture schedule: per stage, weight by entry name (the last stage repeats). No
/// stages: the token-proportional mixture (`fixed:0.5`).
pub struct Plan {
    pub label: String,
    pub stages: Vec<BTreeMap<String, f64>>,
}

impl Plan {
    /// Whether `other` trains the same mixture at every stage: the same weights once each
    /// stage is normalised (an entry absent from a stage has weight 0). The token-proportional
    /// plan (no stages) is the same only as itself.
    pub fn same_mixture(&self, other: &Plan) -> bool {
        fn normalised(stage: &BTreeMap<String, f64>) -> BTreeMap<&str, f64> {
            let total: f64 = stage.values().sum();
            stage.iter().filter(|(_, &w)| w > 0.0).map(|(d, &w)| (d.as_str(), w / total)).collect()
        }
        self.stages.len() == other.stages.len()
            && self.stages.iter().zip(&other.stages).all(|(a, b)| {
                let (a, b) = (normalised(a), normalised(b));
                a.len() == b.len()
                    && a.iter()
                        .zip(&b)
                        .all(|((da, wa), (db, wb))| da == db && (wa - wb).abs() < 1e-12)
            })
    }
}

/// The spec a plan runs as: `fixed:0.5` for the token-proportional mixture, else its schedule
/// file, named by label and content, so a plan whose weights changed (a rerun whose relevance
/// ablation chose other domains) runs anew instead of reusing, or clashing with, old runs.
pub fn spec_of(out: &Path, p: &Plan) -> String {
    if p.stages.is_empty() {
        "fixed:0.5".into()
    } else {
        format!("schedule:{}", schedule_file(out, p).display())
    }
}

fn schedule_file(out: &Path, p: &Plan) -> PathBuf {
    let json = serde_json::to_string(&p.stages).expect("weights serialise");
    let hash = mixagent_core::fnv64_hex(json.as_bytes());
    out.join("schedules").join(format!("{}-{}.json", p.label, &hash[..8]))
}

/// Where phases run: the command they belong to (for titles), the run config they all share,
/// the output folder and the pool.
pub struct Phases<'a> {
    pub command: &'a str,
    pub run: &'a Path,
    pub out: &'a Path,
    pub pool: &'a Pool,
    /// Feedback items a field the final scores are read on (`compare`'s `final_items`).
    pub final_items: usize,
    /// `compare`'s `equivalent_bases`.
    pub equivalent_bases: &'a [String],
}

impl Phases<'_> {
    /// Writes the plans' schedule files, runs them as one `compare` child in `<out>/<name>`
    /// (with `set` overriding the run config, and the benchmark suite at `task_items` items a
    /// task; 0: none), and returns each plan's outcomes by label, in the order of `seeds`.
    pub fn run(
        &self,
        name: &str,
        set: &[String],
        seeds: &[u64],
        plans: &[Plan],
        task_items: usize,
    ) -> anyhow::Result<BTreeMap<String, Vec<Outcome>>> {
        self.write_schedules(plans)?;
        let specs: Vec<String> = plans.iter().map(|p| spec_of(self.out, p)).collect();
        let dir = self.out.join(name);
        std::fs::create_dir_all(&dir)?;
        let compare = serde_json::json!({
            "run": std::fs::canonicalize(self.run)?,
            "set": set,
            "seeds": seeds,
            "policies": specs,
            "benchmarks": task_items > 0,
            "task_items": task_items.max(1),
            "final_items": self.final_items,
            "equivalent_bases": self.equivalent_bases,
            "title": format!("{} phase {name}", self.command),
        });
        let toml_text = toml::to_string(&compare)?;
        let cfg_path = dir.join("compare.toml");
        write_atomic(&cfg_path, toml_text.as_bytes())?;
        let mut args: Vec<OsString> = vec!["compare".into(), "--config".into(), cfg_path.into()];
        args.extend([
            "--out".into(),
            dir.clone().into(),
            "--workers".into(),
            self.pool.workers().to_string().into(),
            "--threads".into(),
            self.pool.threads().to_string().into(),
        ]);
        let status = Command::new(std::env::current_exe()?).args(&args).status()?;
        if !status.success() {
            bail!(
                "{} phase `{name}` failed ({status}); its logs are in {}; rerun to resume",
                self.command,
                dir.join("logs").display()
            );
        }
        let mut rows = BTreeMap::new();
        for p in plans {
            let mut outcomes = Vec::new();
            for &s in seeds {
                let run = read_scored(&self.run_dir(name, p, s), &dir, self.final_items)?;
                outcomes.push(Outcome::of(&run));
            }
            rows.insert(p.label.clone(), outcomes);
        }
        Ok(rows)
    }

    /// Runs `plans`, which must share their first `at` stages, as branches under each seed:
    /// the first plan until stage `at` (the prefix, once per seed), then each plan from the
    /// prefix's checkpoint until stage `at + 2` (the branched stage and one after it, within
    /// the run's `stages`), with `set` overriding the run config. A branch is bit for bit the
    /// first `at + 2` stages of its plan's whole run, so a finished whole run in the same folder
    /// (an older reading) counts as the branch. Checkpoints are removed once every branch is
    /// finished. Returns each plan's outcomes (no final evaluation) by label, in the order of
    /// `seeds`.
    pub fn branches(
        &self,
        name: &str,
        set: &[String],
        seeds: &[u64],
        plans: &[Plan],
        at: usize,
        stages: usize,
    ) -> anyhow::Result<BTreeMap<String, Vec<Outcome>>> {
        let Some(first) = plans.first() else { bail!("no plans to branch") };
        if let Some(p) =
            plans.iter().find(|p| p.stages.len() < at || p.stages[..at] != first.stages[..at])
        {
            bail!(
                "plan `{}` does not share the first {at} stages of `{}`: it is not a branch of it",
                p.label,
                first.label
            );
        }
        self.write_schedules(plans)?;
        let dir = self.out.join(name);
        std::fs::create_dir_all(dir.join("logs"))?;
        self.refuse_other_branches(name, set, seeds, plans)?;
        let stop = (at + 2).min(stages);
        let finished = |run: &Path| {
            SteeredRun::read(&run.join("run.json")).is_ok_and(|r| r.stages.len() >= stop)
        };
        let cpt = |spec: &str, seed: u64, out: &Path| {
            cpt_args(spec, self.run, set, seed, out, self.pool.threads())
        };
        let mut jobs = Vec::new();
        for &seed in seeds {
            let prefix = dir.join("prefix").join(format!("seed-{seed}"));
            let mut commands = Vec::new();
            for p in plans {
                let run = self.run_dir(name, p, seed);
                if !finished(&run) {
                    let mut c = cpt(&spec_of(self.out, p), seed, &run);
                    c.extend(["--from".into(), prefix.clone().into()]);
                    c.extend(["--until".into(), stop.to_string().into()]);
                    commands.push(c);
                }
            }
            if !commands.is_empty() {
                let mut c = cpt(&spec_of(self.out, first), seed, &prefix);
                c.extend(["--until".into(), at.to_string().into()]);
                commands.insert(0, c);
                jobs.push(Job {
                    label: format!("seed {seed}"),
                    log: dir.join("logs").join(format!("seed-{seed}.log")),
                    commands,
                });
            }
        }
        eprintln!(
            "{} phase {name}: {} plans branched at stage {at} x {} seeds ({} seeds to do), {} at a time x {} thread(s) -> {}",
            self.command,
            plans.len(),
            seeds.len(),
            jobs.len(),
            self.pool.workers(),
            self.pool.threads(),
            dir.display()
        );
        run_jobs(jobs, self.pool.workers(), |p| {
            if let Progress::Done { label, done, total, secs } = p {
                let eta = secs / done as f64 * (total - done) as f64;
                eprintln!("  [{done}/{total}] {label} done ({secs:.0} s, about {eta:.0} s to go)");
            }
        })
        .map_err(|e| anyhow::anyhow!("{} phase `{name}`: {e:#}; rerun to resume", self.command))?;
        let mut rows = BTreeMap::new();
        for p in plans {
            let mut outcomes = Vec::new();
            for &s in seeds {
                let run = self.run_dir(name, p, s);
                outcomes.push(Outcome::of(&SteeredRun::read(&run.join("run.json"))?));
                let _ = std::fs::remove_dir_all(run.join("checkpoints"));
            }
            rows.insert(p.label.clone(), outcomes);
        }
        let _ = std::fs::remove_dir_all(dir.join("prefix"));
        Ok(rows)
    }

    /// Writes each plan's schedule file (the token-proportional plan has none), unless there.
    fn write_schedules(&self, plans: &[Plan]) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.out.join("schedules"))?;
        for p in plans.iter().filter(|p| !p.stages.is_empty()) {
            let path = schedule_file(self.out, p);
            if !path.exists() {
                let json = serde_json::json!({ "name": p.label, "stages": p.stages });
                write_atomic(&path, &serde_json::to_vec_pretty(&json)?)?;
            }
        }
        Ok(())
    }

    /// A finished branch is kept only if it is this phase's run: the same base, corpus and
    /// policy files (`compare` refuses the same for its runs) and the same run config.
    fn refuse_other_branches(
        &self,
        name: &str,
        set: &[String],
        seeds: &[u64],
        plans: &[Plan],
    ) -> anyhow::Result<()> {
        let mut runs = Vec::new();
        for &seed in seeds {
            let log = self.out.join(name).join("logs").join(format!("seed-{seed}.log"));
            for p in plans {
                let dir = self.run_dir(name, p, seed);
                runs.push(Run { policy: spec_of(self.out, p), seed, dir, log: log.clone() });
            }
        }
        refuse_stale(&runs, &CollectConfig::load(self.run, set)?, self.equivalent_bases)?;
        let mut other = Vec::new();
        for &seed in seeds {
            let mut seeded = set.to_vec();
            seeded.push(format!("seed={seed}"));
            let config = CollectConfig::load(self.run, &seeded)?;
            for r in runs.iter().filter(|r| r.seed == seed) {
                let run = SteeredRun::read(&r.dir.join("run.json"));
                if run.is_ok_and(|run| run.config != config) {
                    other.push(r.dir.display().to_string());
                }
            }
        }
        if !other.is_empty() {
            bail!(
                "these branch runs were run with other settings (the run config or `set` changed since); delete them to rerun:\n  {}",
                other.join("\n  ")
            );
        }
        Ok(())
    }

    /// The run folder of `plan` under `seed` in phase `name`.
    pub fn run_dir(&self, name: &str, plan: &Plan, seed: u64) -> PathBuf {
        let spec = spec_of(self.out, plan);
        self.out.join(name).join("runs").join(policy_slug(&spec)).join(format!("seed-{seed}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(stages: &[&[(&str, f64)]]) -> Plan {
        Plan {
            label: "p".into(),
            stages: stages
                .iter()
                .map(|s| s.iter().map(|&(d, w)| (d.to_string(), w)).collect())
                .collect(),
        }
    }

    #[test]
    fn same_mixture_compares_normalised_stages() {
        let uniform = plan(&[&[("a", 1.0), ("b", 1.0)]]);
        assert!(uniform.same_mixture(&plan(&[&[("a", 0.5), ("b", 0.5)]])));
        assert!(!uniform.same_mixture(&plan(&[&[("a", 0.6), ("b", 0.4)]])));
        // A zero weight is an absent entry; another entry is another mixture.
        assert!(plan(&[&[("a", 1.0)]]).same_mixture(&plan(&[&[("a", 2.0), ("b", 0.0)]])));
        assert!(!plan(&[&[("a", 1.0)]]).same_mixture(&plan(&[&[("b", 1.0)]])));
        // Stage by stage, and the proportional plan only as itself.
        assert!(!uniform.same_mixture(&plan(&[&[("a", 1.0), ("b", 1.0)], &[("a", 1.0)]])));
        assert!(plan(&[]).same_mixture(&plan(&[])));
        assert!(!plan(&[]).same_mixture(&uniform));
    }
}
