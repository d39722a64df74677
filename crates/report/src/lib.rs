//! Comparisons (DESIGN §1 point 6, issue 8): what a `compare` config asks for (a run config,
//! policies, seeds), and the paper-style summary of the finished steered runs: per policy the
//! mean over seeds, with 95% intervals, of the final feedback change of each field, of the
//! source and target averages and of the balanced score, and the tokens used per field; the
//! per-task benchmark scores of the final models; the mixture and scores over stages as SVG;
//! and one self-contained HTML page with all of it.
//!
//! Pure Rust: it reads `run.json` files (`mixagent_trajectory::SteeredRun`) and the JSON
//! reports of `mixagent eval`.

mod bench;
mod compare;
mod config;
mod corpus;
mod figures;
mod final_score;
pub mod headroom;
mod html;
mod plot;
mod render;
mod stats;
mod table;

pub use bench::{bench_row, BenchRow, BenchTable, Excluded, TaskReport, TaskResult};
pub use compare::CompareReport;
pub use config::{
    policy_slug, BranchMixtures, CompareConfig, HeadroomConfig, RelevanceMethod, ReportError,
};
pub use corpus::corpus_table;
pub use figures::{mixture_bands, mixture_svg, scores_svg};
pub use final_score::{final_eval, FeedbackReport, FieldFeedback};
pub use html::HtmlReport;
pub use plot::{line_panels_svg, stacked_area_svg, Band, Line};
pub use render::{html_table, markdown, Tabular};
pub use stats::{mean_interval, median, student_t95};
pub use table::{is_reference, summarise, PolicyRow, Table};
