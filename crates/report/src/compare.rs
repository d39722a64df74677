//! The files a comparison ends with: `table.md` and `table.json` (the feedback table over seeds
//! and, when the final models were evaluated, the benchmark table), `mixture.svg` and
//! `scores.svg`, and the self-contained `report.html`. `mixagent compare` runs the jobs; this
//! writes what they produced.

use std::path::Path;

use mixagent_shard::write_atomic;
use mixagent_trajectory::SteeredRun;

use crate::{
    mixture_svg, scores_svg, summarise, BenchTable, HtmlReport, ReportError, Tabular, TaskReport,
};

/// Each policy spec with one benchmark report per seed.
pub type PolicyReports = [(String, Vec<TaskReport>)];

/// What a comparison's report is made of.
pub struct CompareReport<'a> {
    /// Each policy spec with its runs, one per seed, in the config's order.
    pub groups: &'a [(String, Vec<SteeredRun>)],
    /// The base model's benchmark report and each policy's final models' reports, when the
    /// comparison ran the benchmarks.
    pub benchmarks: Option<(&'a TaskReport, &'a PolicyReports)>,
    /// The page title.
    pub title: &'a str,
    /// What was run: `(label, value)` pairs for the top of the page.
    pub facts: &'a [(String, String)],
    /// The corpus's path and fingerprint, for the table's footnote.
    pub corpus: &'a str,
}

impl CompareReport<'_> {
    /// Writes the report's files into `out` (each atomically) and returns the tables as
    /// Markdown.
    pub fn write(&self, out: &Path) -> Result<String, ReportError> {
        let table = summarise(self.groups);
        // Benchmark rows in the feedback table's order (best balanced first).
        let bench = self.benchmarks.map(|(base, evals)| {
            let ordered: Vec<(String, Vec<TaskReport>)> = table
                .rows
                .iter()
                .filter_map(|row| evals.iter().find(|(p, _)| p == &row.policy).cloned())
                .collect();
            BenchTable::new(&table.fields, Some(base), &ordered)
        });
        let mut md = table.to_markdown();
        if let Some(b) = &bench {
            md.push_str("\nBenchmarks of the final models (score = (accuracy − chance)/(1 − chance) × 100):\n\n");
            md.push_str(&b.to_markdown());
        }
        md.push_str(&format!("\nCorpus: {}.\n", self.corpus));
        write(&out.join("table.md"), md.as_bytes())?;
        let json = serde_json::json!({ "feedback": &table, "benchmarks": &bench });
        write(&out.join("table.json"), &serde_json::to_vec_pretty(&json).expect("json"))?;

        let shown = self
            .groups
            .iter()
            .find(|(p, _)| p.starts_with("agent"))
            .or(self.groups.first())
            .map(|(p, r)| (p.clone(), mixture_svg(p, r)));
        let scores = scores_svg(self.groups);
        let mut figures = Vec::new();
        if let Some((p, svg)) = shown {
            write(&out.join("mixture.svg"), svg.as_bytes())?;
            figures.push((
                format!("The mixture {p} chose at each stage, per domain (source field in blues, target in warm colours), mean over seeds."),
                svg,
            ));
        }
        write(&out.join("scores.svg"), scores.as_bytes())?;
        figures.push((
            "Each field's feedback change relative to the base after every stage, the balanced score, and the share of target data in each stage; mean over seeds, one line per policy (the agent in bold black).".into(),
            scores,
        ));
        let html = HtmlReport {
            title: self.title,
            facts: self.facts,
            table: &table,
            bench: bench.as_ref(),
            figures: &figures,
        }
        .render();
        write(&out.join("report.html"), html.as_bytes())?;
        Ok(md)
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, bytes).map_err(ReportError::Write)
}
