//! The final score read from a separate evaluation (`compare`'s `final_items`): the base and
//! every final model scored on the same, larger feedback set than the runs observe per stage.
//! A run's per-stage observation is the agent's view and may be small (48 items a field at the
//! study scale); the score a comparison or a gate is decided on should not carry that
//! sampling noise (RESULTS.md, "Final score on more items").

use std::path::Path;

use mixagent_core::Observation;
use mixagent_trajectory::FinalEval;
use serde::Deserialize;

use crate::bench::read_eval_report;
use crate::ReportError;

/// One field's feedback in a `mixagent eval` report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FieldFeedback {
    /// The field.
    pub field: String,
    /// Items scored.
    pub items: usize,
    /// The suite's fingerprint (which items, how scored).
    pub fingerprint: String,
    /// The score.
    pub feedback: f64,
}

/// The feedback part of a `mixagent eval` report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FeedbackReport {
    /// Per field.
    pub feedback: Vec<FieldFeedback>,
}

impl FeedbackReport {
    /// Reads the feedback of an eval report.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        read_eval_report(path)
    }

    fn observation(&self) -> Observation {
        Observation {
            feedback: self.feedback.iter().map(|f| (f.field.clone(), f.feedback)).collect(),
            domain_loss: Default::default(),
        }
    }
}

/// The final evaluation of a run over `fields` from the base's report and the final model's:
/// both must have scored every field on the same suite (same items, same scoring), else the
/// change between them would mix two measurements.
pub fn final_eval(
    base: (&Path, &FeedbackReport),
    last: (&Path, &FeedbackReport),
    fields: &[String],
) -> Result<FinalEval, ReportError> {
    fn find<'a>(
        (path, r): (&Path, &'a FeedbackReport),
        f: &str,
    ) -> Result<&'a FieldFeedback, ReportError> {
        r.feedback.iter().find(|x| x.field == f).ok_or_else(|| ReportError::File {
            path: path.to_path_buf(),
            message: format!("no feedback for field `{f}`: delete it to rerun"),
        })
    }
    let mut items = 0;
    for f in fields {
        let (b, l) = (find(base, f)?, find(last, f)?);
        if b.fingerprint != l.fingerprint || b.items != l.items {
            return Err(ReportError::File {
                path: last.0.to_path_buf(),
                message: format!(
                    "field `{f}` was scored on another feedback suite ({} items, suite {}) than the base's in {} ({} items, suite {}): delete both to rescore",
                    l.items,
                    l.fingerprint,
                    base.0.display(),
                    b.items,
                    b.fingerprint
                ),
            });
        }
        items = items.max(l.items);
    }
    Ok(FinalEval { items, base: base.1.observation(), last: last.1.observation() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(math: f64, fingerprint: &str) -> FeedbackReport {
        let f = |field: &str, feedback: f64| FieldFeedback {
            field: field.into(),
            items: 512,
            fingerprint: fingerprint.into(),
            feedback,
        };
        FeedbackReport { feedback: vec![f("general", -4.0), f("math", math)] }
    }

    #[test]
    fn the_final_evaluation_pairs_the_base_and_the_final_model_on_one_suite() {
        let fields = ["general".to_string(), "math".to_string()];
        let (b, l) = (Path::new("base.json"), Path::new("run.json"));
        let e = final_eval((b, &report(-0.6, "aa")), (l, &report(-0.45, "aa")), &fields).unwrap();
        assert_eq!(e.items, 512);
        let change = e.last.relative_change(&e.base, "math").unwrap();
        assert!((change - 0.25).abs() < 1e-12, "{change}");
        // Another suite (other items, another scoring) is refused, naming both files.
        let err = final_eval((b, &report(-0.6, "aa")), (l, &report(-0.45, "bb")), &fields)
            .unwrap_err()
            .to_string();
        assert!(err.contains("run.json") && err.contains("base.json"), "{err}");
        // A field the report lacks is named.
        let err = final_eval((b, &report(-0.6, "aa")), (l, &report(-0.45, "aa")), &["code".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`code`"), "{err}");
    }
}
