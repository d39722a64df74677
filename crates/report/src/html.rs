//! The self-contained HTML report of a comparison: what was run, both tables and the figures
//! inlined as SVG. No script, no external file: it opens anywhere and prints as it looks.

use std::fmt::Write;

use crate::render::escape;
use crate::{BenchTable, Table, Tabular};

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1500px;color:#222}\
table{border-collapse:collapse;margin:8px 0 20px;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}\
th{background:#f2f2f2;white-space:normal;min-width:60px;max-width:130px;vertical-align:bottom;overflow-wrap:anywhere}td:first-child,th:first-child{text-align:left}\
tbody tr:nth-child(even){background:#fafafa}dl{display:grid;grid-template-columns:max-content auto;\
gap:2px 14px;font-size:14px}dt{font-weight:bold}figure{margin:12px 0 28px}svg{max-width:100%;height:auto}\
figcaption{font-size:13px;color:#555;max-width:1100px}.note{font-size:13px;color:#555;max-width:1100px}";

/// Everything the page shows.
pub struct HtmlReport<'a> {
    /// Page title.
    pub title: &'a str,
    /// What was run: `(label, value)` pairs.
    pub facts: &'a [(String, String)],
    /// The feedback table.
    pub table: &'a Table,
    /// The benchmark table, when the final models were evaluated.
    pub bench: Option<&'a BenchTable>,
    /// `(caption, svg)`.
    pub figures: &'a [(String, String)],
}

impl HtmlReport<'_> {
    /// The page.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n<dl>",
            t = escape(self.title)
        );
        for (k, v) in self.facts {
            let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
        }
        s.push_str("</dl>\n<h2>Feedback after continual pre-training</h2>\n");
        s.push_str(
            "<p class=\"note\">Each field's feedback is the mean per-token log-probability of gold \
             answers on held-out items; Δ is its change relative to the base model, (f − f₀)/|f₀|, \
             after the last stage. Balanced = mean Δ over the fields. Mean ± 95% interval \
             (Student's t) over seeds; best balanced score first.</p>\n",
        );
        s.push_str(&self.table.to_html());
        if let Some(b) = self.bench {
            s.push_str("<h2>Benchmarks of the final models</h2>\n");
            let items: Vec<String> = b.items.iter().map(|(t, n)| format!("{t} {n}")).collect();
            let _ = writeln!(
                s,
                "<p class=\"note\">Score = (accuracy − chance)/(1 − chance) × 100 per task (items: {}). \
                 Overall = mean of the source and target averages. Models this small score near \
                 chance on most tasks; read these beside the feedback table.</p>",
                escape(&items.join(", "))
            );
            s.push_str(&b.to_html());
        }
        for (caption, svg) in self.figures {
            let _ =
                writeln!(s, "<figure>{svg}<figcaption>{}</figcaption></figure>", escape(caption));
        }
        s.push_str("</body></html>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyRow;

    #[test]
    fn the_page_escapes_text_bolds_the_balanced_score_and_inlines_figures() {
        let row = PolicyRow {
            policy: "agent:<runs>".into(),
            seeds: 3,
            fields: [("general".into(), (-0.01, 0.002)), ("math".into(), (0.4, 0.01))].into(),
            source: (-0.01, 0.002),
            target: (0.4, 0.01),
            balanced: (0.195, 0.005),
            target_share: 0.6,
            tokens: [("general".into(), 10.0), ("math".into(), 15.0)].into(),
            paired: None,
        };
        let table = Table {
            fields: vec!["general".into(), "math".into()],
            rows: vec![row],
            paired_against: None,
        };
        let facts = vec![("config".to_string(), "a & b".to_string())];
        let figures = vec![("mixture".to_string(), "<svg id=\"f\"></svg>".to_string())];
        let page =
            HtmlReport { title: "T", facts: &facts, table: &table, bench: None, figures: &figures }
                .render();
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("agent:&lt;runs&gt;") && page.contains("a &amp; b"));
        assert!(page.contains("<b>+0.1950 ± 0.0050</b>"), "{page}");
        assert!(page.contains("<svg id=\"f\"></svg><figcaption>mixture</figcaption>"));
        assert!(!page.contains("Benchmarks of the final models"));
    }
}
