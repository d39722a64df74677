//! The benchmark half of the paper's table: per-task scores of each policy's final model
//! (`mixagent eval --suite full`, read from its JSON report without libtorch), the source and
//! target averages and their mean.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{mean_interval, ReportError};

/// One task of an `eval-full.json` report (the fields the table needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// Task name.
    pub task: String,
    /// The field it counts for.
    pub field: String,
    /// Items scored.
    pub items: usize,
    /// (accuracy − chance) / (1 − chance), ×100.
    pub score: f64,
    /// Above chance by ≥ 3 Wilson half-widths with constant answers under 50% (absent in
    /// reports written before it existed: counted as alive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alive: Option<bool>,
    /// Accuracy, chance and the 95% Wilson half-width (absent in older reports), so that a
    /// task that misses G0 can say by how much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Chance accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance: Option<f64>,
    /// Half-width of the 95% Wilson interval of the accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wilson_half: Option<f64>,
    /// Built from the training domains' own held-out documents (absent in older reports:
    /// counted as evaluation-only, so their averages read as before).
    #[serde(default)]
    pub training_text: bool,
}

/// The tasks a comparison leaves out of its averages, judged on the base model's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Excluded {
    /// Not alive for the base (gate G0).
    pub dead: BTreeSet<String>,
    /// On the training domains' held-out text, in a field that has an evaluation-only task
    /// alive for the base: DESIGN §10 principle 1 asks benchmarks of text no training domain
    /// contains; a task on the domains' own held-out documents rewards their uniform mixture by
    /// construction (RESULTS.md, "G2 probe at the study scale"). A field with no such
    /// evaluation-only task (a user's fields with only their held-out text) keeps them.
    pub training_text: BTreeSet<String>,
}

impl Excluded {
    /// What `base`'s report leaves out.
    pub fn of(base: &TaskReport) -> Self {
        let dead: BTreeSet<String> =
            base.tasks.iter().filter(|t| t.alive == Some(false)).map(|t| t.task.clone()).collect();
        let has_own = |f: &str| {
            base.tasks.iter().any(|t| t.field == f && !t.training_text && !dead.contains(&t.task))
        };
        let training_text = base
            .tasks
            .iter()
            .filter(|t| t.training_text && has_own(&t.field))
            .map(|t| t.task.clone())
            .collect();
        Excluded { dead, training_text }
    }

    /// Every task left out.
    pub fn all(&self) -> BTreeSet<String> {
        self.dead.union(&self.training_text).cloned().collect()
    }
}

/// Reads a `mixagent eval` JSON report (checking its layout version) as `T`, a part of it.
pub(crate) fn read_eval_report<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<T, ReportError> {
    let bad = |m: String| ReportError::File { path: path.to_path_buf(), message: m };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!("{e}: not a `mixagent eval` report, or truncated; delete it to rerun"))
    })?;
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(mixagent_core::EVAL_REPORT_VERSION)) {
        return Err(bad(format!(
            "eval report format {}, expected {}: written by another mixagent; delete it to rerun",
            version.map_or("missing".to_string(), |v| v.to_string()),
            mixagent_core::EVAL_REPORT_VERSION
        )));
    }
    serde_json::from_value(value).map_err(|e| {
        bad(format!("{e}: not a `mixagent eval` report, or truncated; delete it to rerun"))
    })
}

/// The benchmark part of a `mixagent eval --suite full` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Per-task results.
    pub tasks: Vec<TaskResult>,
}

impl TaskReport {
    /// Reads the `tasks` of an eval report.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let bad = |m: String| ReportError::File { path: path.to_path_buf(), message: m };
        let report: TaskReport = read_eval_report(path)?;
        if report.tasks.is_empty() {
            return Err(bad("no benchmark tasks: it was written by `--suite feedback`".into()));
        }
        Ok(report)
    }

    /// Mean task score of each field over the tasks not in `dead`, in `fields` order (NaN
    /// for a field without such tasks).
    pub fn field_averages(&self, fields: &[String], dead: &BTreeSet<String>) -> Vec<f64> {
        fields
            .iter()
            .map(|f| {
                let s: Vec<f64> = self
                    .tasks
                    .iter()
                    .filter(|t| &t.field == f && !dead.contains(&t.task))
                    .map(|t| t.score)
                    .collect();
                if s.is_empty() {
                    f64::NAN
                } else {
                    s.iter().sum::<f64>() / s.len() as f64
                }
            })
            .collect()
    }

    /// Source average, target average (mean over the target fields that have tasks) and
    /// their mean, the overall average.
    pub fn averages(&self, fields: &[String], dead: &BTreeSet<String>) -> (f64, f64, f64) {
        let per_field = self.field_averages(fields, dead);
        let source = per_field.first().copied().unwrap_or(f64::NAN);
        let targets: Vec<f64> = per_field.iter().skip(1).copied().filter(|v| !v.is_nan()).collect();
        let target = if targets.is_empty() {
            f64::NAN
        } else {
            targets.iter().sum::<f64>() / targets.len() as f64
        };
        let overall = if target.is_nan() { source } else { (source + target) / 2.0 };
        (source, target, overall)
    }
}

/// One policy's benchmark scores over its seeds, `(mean, 95% half-width)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    /// The policy spec (or `base`).
    pub policy: String,
    /// Seeds summarised.
    pub seeds: usize,
    /// Per task.
    pub tasks: BTreeMap<String, (f64, f64)>,
    /// Mean over the source field's tasks.
    pub source: (f64, f64),
    /// Mean over the target fields' tasks.
    pub target: (f64, f64),
    /// Mean of the two.
    pub overall: (f64, f64),
}

/// The benchmark table: tasks in report order (source field first), the base model's row,
/// then one row per policy in the order of the feedback table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchTable {
    /// `(task, field)`.
    pub tasks: Vec<(String, String)>,
    /// Items per task.
    pub items: BTreeMap<String, usize>,
    /// The base model before CPT.
    pub base: Option<BenchRow>,
    /// One row per policy.
    pub rows: Vec<BenchRow>,
    /// Tasks shown but left out of the averages: not alive for the base model (gate G0), or
    /// on the training domains' held-out text ([`Excluded`]).
    pub excluded: Excluded,
}

/// Summarises one group of reports (one per seed) into a row.
/// Tasks in `dead` are shown but left out of the averages.
pub fn bench_row(
    policy: &str,
    reports: &[TaskReport],
    fields: &[String],
    dead: &BTreeSet<String>,
) -> BenchRow {
    let mut tasks: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in reports {
        for t in &r.tasks {
            tasks.entry(t.task.clone()).or_default().push(t.score);
        }
    }
    let avgs: Vec<(f64, f64, f64)> = reports.iter().map(|r| r.averages(fields, dead)).collect();
    let pick = |f: fn(&(f64, f64, f64)) -> f64| -> Vec<f64> { avgs.iter().map(f).collect() };
    BenchRow {
        policy: policy.to_string(),
        seeds: reports.len(),
        tasks: tasks.into_iter().map(|(k, v)| (k, mean_interval(&v))).collect(),
        source: mean_interval(&pick(|a| a.0)),
        target: mean_interval(&pick(|a| a.1)),
        overall: mean_interval(&pick(|a| a.2)),
    }
}

impl BenchTable {
    /// Builds the table from the base's report and each policy's reports.
    pub fn new(
        fields: &[String],
        base: Option<&TaskReport>,
        groups: &[(String, Vec<TaskReport>)],
    ) -> Self {
        let first = base.or_else(|| groups.iter().flat_map(|(_, r)| r.first()).next());
        let mut tasks: Vec<(String, String)> = first
            .map(|r| r.tasks.iter().map(|t| (t.task.clone(), t.field.clone())).collect())
            .unwrap_or_default();
        // Source field's tasks first, then the target fields' in the order given.
        tasks.sort_by_key(|(_, f)| fields.iter().position(|g| g == f).unwrap_or(usize::MAX));
        let items = first
            .map(|r| r.tasks.iter().map(|t| (t.task.clone(), t.items)).collect())
            .unwrap_or_default();
        let excluded = base.map(Excluded::of).unwrap_or_default();
        let dead = excluded.all();
        BenchTable {
            tasks,
            items,
            base: base
                .map(|b| bench_row("base (before CPT)", std::slice::from_ref(b), fields, &dead)),
            rows: groups
                .iter()
                .filter(|(_, r)| !r.is_empty())
                .map(|(p, r)| bench_row(p, r, fields, &dead))
                .collect(),
            excluded,
        }
    }
}

impl crate::Tabular for BenchTable {
    /// Header and rows: per task the score (mean ± 95% half-width over seeds), then the
    /// source average, the target average and their mean; the base model first.
    fn cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header: Vec<String> = vec!["policy".into(), "seeds".into()];
        header.extend(self.tasks.iter().map(|(t, f)| {
            if self.excluded.dead.contains(t) {
                format!("{t} ({f}; at chance for the base, not averaged)")
            } else if self.excluded.training_text.contains(t) {
                format!("{t} ({f}; training domains' held-out text, not averaged)")
            } else {
                format!("{t} ({f})")
            }
        }));
        header.extend(["source avg", "target avg", "overall avg"].map(String::from));
        let rows = self
            .base
            .iter()
            .chain(&self.rows)
            .map(|r| {
                let mut row = vec![r.policy.clone(), r.seeds.to_string()];
                row.extend(self.tasks.iter().map(|(t, _)| {
                    r.tasks.get(t).map_or("–".into(), |v| crate::table::cell(*v, 1))
                }));
                row.push(crate::table::cell(r.source, 1));
                row.push(crate::table::cell(r.target, 1));
                row.push(format!("**{}**", crate::table::cell(r.overall, 1)));
                row
            })
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eval_report_of_another_version_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eval-full.json");
        let task = r#"{"task": "t", "field": "general", "items": 4, "score": 50.0}"#;
        for (version, says) in [("", "format missing"), (r#""format_version": 7,"#, "format 7")] {
            std::fs::write(&path, format!(r#"{{{version} "tasks": [{task}]}}"#)).unwrap();
            let e = TaskReport::read(&path).map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("delete it to rerun"), "{e}");
        }
        std::fs::write(&path, format!(r#"{{"format_version": 1, "tasks": [{task}]}}"#)).unwrap();
        assert_eq!(TaskReport::read(&path).unwrap().tasks[0].score, 50.0);
    }

    fn report(scores: &[(&str, &str, f64)]) -> TaskReport {
        TaskReport {
            tasks: scores
                .iter()
                .map(|(t, f, s)| TaskResult {
                    task: t.to_string(),
                    field: f.to_string(),
                    items: 10,
                    score: *s,
                    alive: None,
                    accuracy: None,
                    chance: None,
                    wilson_half: None,
                    training_text: false,
                })
                .collect(),
        }
    }

    #[test]
    fn averages_by_hand() {
        let fields = vec!["general".to_string(), "math".to_string()];
        // general: (10 + 20) / 2 = 15; math: 4; overall (15 + 4) / 2 = 9.5.
        let r = report(&[("a", "general", 10.0), ("m", "math", 4.0), ("b", "general", 20.0)]);
        let none = BTreeSet::new();
        assert_eq!(r.averages(&fields, &none), (15.0, 4.0, 9.5));
        // A target field without tasks (code): the overall average is the source's.
        let code = vec!["general".to_string(), "code".to_string()];
        let (s, t, o) = r.averages(&code, &none);
        assert_eq!(s, 15.0);
        assert!(t.is_nan());
        assert_eq!(o, 15.0);
        // Two seeds: task a at 10 and 30, mean 20; source averages 15 and 25, mean 20.
        let r2 = report(&[("a", "general", 30.0), ("m", "math", 4.0), ("b", "general", 20.0)]);
        let table = BenchTable::new(&fields, Some(&r), &[("p".into(), vec![r.clone(), r2])]);
        assert_eq!(table.tasks[0].1, "general");
        assert_eq!(table.tasks[2], ("m".to_string(), "math".to_string()));
        let row = &table.rows[0];
        assert_eq!(row.seeds, 2);
        assert_eq!(row.tasks["a"].0, 20.0);
        assert_eq!(row.source.0, 20.0);
        assert_eq!(row.overall.0, 12.0);
        assert!(table.base.as_ref().unwrap().source.1.is_nan());
    }

    #[test]
    fn tasks_dead_for_the_base_are_shown_but_not_averaged() {
        let fields = vec!["general".to_string(), "math".to_string()];
        let mut base = report(&[("a", "general", 10.0), ("b", "general", 0.5), ("m", "math", 4.0)]);
        base.tasks[1].alive = Some(false);
        let table = BenchTable::new(&fields, Some(&base), &[("p".into(), vec![base.clone()])]);
        assert_eq!(table.rows[0].source.0, 10.0, "b is left out");
        assert_eq!(table.rows[0].tasks["b"].0, 0.5, "and still shown");
        let (header, _) = crate::Tabular::cells(&table);
        assert!(header.iter().any(|h| h.starts_with("b (general; at chance for the base")));
    }

    #[test]
    fn training_domain_text_is_shown_but_not_averaged_where_a_field_has_its_own_tasks() {
        let fields = vec!["general".to_string(), "math".to_string()];
        // general: an evaluation-only task (g, 10) and a held-out-document one (h, 90): only g
        // counts. math: only a held-out-document task (m, 4), which therefore counts.
        let mut base =
            report(&[("g", "general", 10.0), ("h", "general", 90.0), ("m", "math", 4.0)]);
        base.tasks[1].training_text = true;
        base.tasks[2].training_text = true;
        let excluded = Excluded::of(&base);
        assert_eq!(excluded.training_text, ["h".to_string()].into());
        let table = BenchTable::new(&fields, Some(&base), &[("p".into(), vec![base.clone()])]);
        assert_eq!(table.rows[0].source.0, 10.0, "h is left out");
        assert_eq!(table.rows[0].target.0, 4.0, "m stays: math has no evaluation-only task");
        assert_eq!(table.rows[0].tasks["h"].0, 90.0, "and still shown");
        let (header, _) = crate::Tabular::cells(&table);
        assert!(header
            .iter()
            .any(|h| h == "h (general; training domains' held-out text, not averaged)"));
        // When the field's evaluation-only task is dead for the base, its held-out-document
        // task is averaged again.
        base.tasks[0].alive = Some(false);
        let excluded = Excluded::of(&base);
        assert!(excluded.training_text.is_empty() && excluded.dead.contains("g"));
    }
}
