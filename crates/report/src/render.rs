//! One set of cells, two renderings: Markdown (`table.md`, RESULTS.md) and HTML (the report).
//! A cell's `**bold**` becomes `<b>` in HTML.

use std::fmt::Write;

/// A table as cells: a header and rows of the same length.
pub trait Tabular {
    /// Header and rows.
    fn cells(&self) -> (Vec<String>, Vec<Vec<String>>);

    /// The table in Markdown.
    fn to_markdown(&self) -> String {
        let (header, rows) = self.cells();
        markdown(&header, &rows)
    }

    /// The table in HTML.
    fn to_html(&self) -> String {
        let (header, rows) = self.cells();
        html_table(&header, &rows)
    }
}

/// A Markdown table.
pub fn markdown(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html_cell(c: &str) -> String {
    match c.strip_prefix("**").and_then(|c| c.strip_suffix("**")) {
        Some(inner) => format!("<b>{}</b>", escape(inner)),
        None => escape(c),
    }
}

/// An HTML table.
pub fn html_table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", html_cell(c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}
