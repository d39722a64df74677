//! The distractor domains of the version-2 corpus (DESIGN §10): real text from registry
//! packages that a web crawl would also contain, of comparable size to the useful domains, and
//! useless or harmful for the fields' feedback. Which one hurts how much is what a mixer has to
//! find out; nothing in a domain's name or size says it.
//!
//! | domain | package | raw layout |
//! |---|---|---|
//! | `licenses` | npm `spdx-license-list` | `raw/licenses/spdx-full.json` |
//! | `unicode_tables` | Debian `unicode-data` | `raw/unicode-data/*.txt` |
//! | `hardware_ids` | Debian `pci.ids`, `usb.ids` | `raw/hardware-ids/*.ids` |
//! | `id_lists` | Debian `iso-codes` | `raw/iso-codes/*.json` |
//! | `manpages_de`, `manpages_fr` | Debian `manpages-de`, `manpages-fr` | `raw/manpages-{de,fr}/**/*.gz` |
//! | `html_pages` | Debian `python3.11-doc` (the HTML build) | `raw/python-html/**/*.html` |
//! | `math_code` | Debian `python3-sympy`, `python3-mpmath` | `raw/math-code/**/*.py` |
//! | `numeric_tables` | PyPI `vega_datasets` | `raw/numeric-tables/*.{csv,json}` |
//! | `code_generated` | PyPI `kubernetes` (the OpenAPI-generated client: models and API classes) | `raw/code-generated/**/*.py` |
//! | `code_config` | PyPI `botocore` (the JSON service descriptions: paginators, waiters, examples) | `raw/code-config/**/*.json` |

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde_json::Value;

use super::common::{list_files, push_grouped, read_text, source_dir, source_file};
use super::{BuiltinSource as S, RawDoc};
use crate::CorpusError;

/// Lines of a machine table per document.
const LINES_PER_DOC: usize = 60;

/// Where a distractor source lies under the raw root and the domain it fills; `None` for a
/// source that is not a distractor.
pub(crate) fn layout(which: S) -> Option<(&'static str, &'static str)> {
    Some(match which {
        S::Licenses => ("licenses", "licenses"),
        S::UnicodeTables => ("unicode-data", "unicode_tables"),
        S::HardwareIds => ("hardware-ids", "hardware_ids"),
        S::IdLists => ("iso-codes", "id_lists"),
        S::ManpagesDe => ("manpages-de", "manpages_de"),
        S::ManpagesFr => ("manpages-fr", "manpages_fr"),
        S::HtmlPages => ("python-html", "html_pages"),
        S::MathCode => ("math-code", "math_code"),
        S::NumericTables => ("numeric-tables", "numeric_tables"),
        S::GeneratedCode => ("code-generated", "code_generated"),
        S::ConfigFiles => ("code-config", "code_config"),
        _ => return None,
    })
}

/// Reads one distractor source. An empty extraction is an error naming the folder, since a
/// silently empty domain would change the environment without a word.
pub(crate) fn read(raw_root: &Path, which: S) -> Result<Vec<RawDoc>, CorpusError> {
    let (sub, domain) = layout(which).expect("read_builtin passes distractors only");
    let dir = source_dir(raw_root, sub, domain)?;
    let mut docs = Vec::new();
    match which {
        S::Licenses => {
            let path = source_file(&dir, "spdx-full.json", domain)?;
            let all: serde_json::Map<String, Value> = serde_json::from_str(&read_text(&path)?)
                .map_err(|e| malformed(&path, &e.to_string()))?;
            for (_id, license) in all {
                if let Some(text) = license.get("licenseText").and_then(Value::as_str) {
                    if !text.trim().is_empty() {
                        docs.push(RawDoc::new(domain, text.trim()));
                    }
                }
            }
        }
        S::UnicodeTables | S::HardwareIds => {
            let ext = if which == S::UnicodeTables { ".txt" } else { ".ids" };
            for path in list_files(&dir, |n| n.ends_with(ext))? {
                let text = read_text(&path)?;
                let lines: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with('@'))
                    .map(str::to_string)
                    .collect();
                push_grouped(&mut docs, domain, &lines, LINES_PER_DOC, "\n");
            }
        }
        S::IdLists => {
            for path in list_files(&dir, |n| n.ends_with(".json"))? {
                let lines = id_list_lines(&read_text(&path)?).map_err(|m| malformed(&path, &m))?;
                push_grouped(&mut docs, domain, &lines, LINES_PER_DOC, "\n");
            }
        }
        S::ManpagesDe | S::ManpagesFr => {
            for path in list_files(&dir, |n| n.ends_with(".gz"))? {
                let mut raw = Vec::new();
                std::fs::File::open(&path)
                    .and_then(|f| MultiGzDecoder::new(f).read_to_end(&mut raw))
                    .map_err(|e| CorpusError::io(&path, e))?;
                let text = troff_to_text(&String::from_utf8_lossy(&raw));
                if !text.trim().is_empty() {
                    docs.push(RawDoc::new(domain, text));
                }
            }
        }
        S::HtmlPages => {
            // The pages as served: navigation, scripts and markup included. That is the point.
            for path in list_files(&dir, |n| n.ends_with(".html"))? {
                docs.push(RawDoc::new(domain, read_text(&path)?));
            }
        }
        S::MathCode => {
            for path in list_files(&dir, |n| n.ends_with(".py"))? {
                let rel = path.strip_prefix(&dir).unwrap_or(&path);
                if rel.components().any(|c| c.as_os_str() == "tests") {
                    continue; // code about code, as for the standard library
                }
                let text = read_text(&path)?;
                if !text.trim().is_empty() {
                    docs.push(RawDoc::new(domain, text));
                }
            }
        }
        S::GeneratedCode | S::ConfigFiles => {
            // One document a file, as generated: every model class is the same template, every
            // service description the same schema with other names.
            let ext = if which == S::GeneratedCode { ".py" } else { ".json" };
            for path in list_files(&dir, |n| n.ends_with(ext))? {
                let text = read_text(&path)?;
                if !text.trim().is_empty() {
                    docs.push(RawDoc::new(domain, text));
                }
            }
        }
        S::NumericTables => {
            for path in list_files(&dir, |n| n.ends_with(".csv") || n.ends_with(".json"))? {
                let text = read_text(&path)?;
                let rows = if path.extension().is_some_and(|e| e == "csv") {
                    text.lines().map(str::to_string).collect()
                } else {
                    match json_records_as_csv(&text) {
                        Some(rows) => rows,
                        None => continue, // not a table of records (e.g. a nested document)
                    }
                };
                let Some((header, body)) = rows.split_first() else { continue };
                for chunk in body.chunks(LINES_PER_DOC) {
                    let mut doc = header.clone();
                    for row in chunk {
                        doc.push('\n');
                        doc.push_str(row);
                    }
                    docs.push(RawDoc::new(domain, doc));
                }
            }
        }
        other => unreachable!("{other:?} has a layout, so it is a distractor"),
    }
    if docs.is_empty() {
        return Err(CorpusError::malformed(
            &dir,
            format!(
                "no {domain} documents found in {}: delete the folder and re-run scripts/setup.sh",
                dir.display()
            ),
        ));
    }
    Ok(docs)
}

fn malformed(path: &Path, msg: &str) -> CorpusError {
    CorpusError::malformed(path, format!("{msg}: delete its folder and re-run scripts/setup.sh"))
}

/// An iso-codes JSON file (`{"3166-1": [{"alpha_2": "AD", "name": "Andorra", …}, …]}`) as one
/// `key=value; …` line per entry, keys in the file's order.
fn id_list_lines(text: &str) -> Result<Vec<String>, String> {
    let root: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| format!("not an iso-codes JSON file ({e})"))?;
    let mut lines = Vec::new();
    for (_standard, entries) in root {
        for entry in entries.as_array().into_iter().flatten() {
            let Some(obj) = entry.as_object() else { continue };
            let fields: Vec<String> =
                obj.iter().filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))).collect();
            if !fields.is_empty() {
                lines.push(fields.join("; "));
            }
        }
    }
    Ok(lines)
}

/// A JSON array of flat records as CSV rows (header first), or `None` for anything else.
fn json_records_as_csv(text: &str) -> Option<Vec<String>> {
    let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_str(text).ok()?;
    let keys: Vec<String> = rows.first()?.keys().cloned().collect();
    let cell = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    };
    let mut out = vec![keys.join(",")];
    out.extend(
        rows.iter().map(|r| keys.iter().map(|k| cell(r.get(k))).collect::<Vec<_>>().join(",")),
    );
    Some(out)
}

/// A man page's troff source as plain text: comments and layout requests dropped, section
/// headings and font requests kept as their text, inline escapes resolved or removed.
pub(crate) fn troff_to_text(src: &str) -> String {
    let mut out = String::new();
    for line in src.lines() {
        if line.starts_with(".\\\"") || line.starts_with("'\\\"") || line == "." {
            continue;
        }
        if let Some(request) = line.strip_prefix('.') {
            let (name, args) = request.split_once(char::is_whitespace).unwrap_or((request, ""));
            match name {
                "SH" | "SS" => {
                    out.push_str("\n\n");
                    out.push_str(&unescape(&unquote(args)));
                    out.push('\n');
                }
                "B" | "I" | "BR" | "IR" | "RB" | "RI" | "BI" | "IB" | "SM" | "SB" => {
                    out.push_str(&unescape(&unquote(args)));
                    out.push('\n');
                }
                "PP" | "P" | "LP" | "TP" | "IP" | "sp" | "br" | "TQ" => {
                    if !out.ends_with("\n\n") {
                        out.push('\n');
                    }
                    if name == "IP" && !args.is_empty() {
                        out.push_str(&unescape(&unquote(args)));
                        out.push(' ');
                    }
                }
                _ => {} // .TH, .RS, .RE, .nf, .fi, .in, .ad, .de … : layout only
            }
            continue;
        }
        out.push_str(&unescape(line));
        out.push('\n');
    }
    super::common::squeeze_blank_lines(&out)
}

/// Macro arguments without their double quotes.
fn unquote(args: &str) -> String {
    args.replace('"', "")
}

/// Resolves the common troff escapes: fonts dropped, `\-` `\(aq` `\(em` … to characters,
/// zero-width ones removed.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => {
                // \fB, \fI, \fP, \fR, \f(CW, \f[B]
                match chars.next() {
                    Some('(') => {
                        chars.next();
                        chars.next();
                    }
                    Some('[') => {
                        for c in chars.by_ref() {
                            if c == ']' {
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Some('(') => {
                let name: String = chars.by_ref().take(2).collect();
                out.push_str(match name.as_str() {
                    "aq" => "'",
                    "dq" => "\"",
                    "em" => "—",
                    "en" => "–",
                    "bu" => "•",
                    "co" => "©",
                    "lq" => "“",
                    "rq" => "”",
                    "Fo" => "«",
                    "Fc" => "»",
                    _ => "",
                });
            }
            // \*(xx strings are dropped (a plain \*x drops its one character below).
            Some('*') if chars.next() == Some('(') => {
                chars.next();
                chars.next();
            }
            Some('*') => {}
            Some('-') => out.push('-'),
            Some(' ') | Some('~') => out.push(' '),
            Some('e') | Some('\\') => out.push('\\'),
            Some('.') => out.push('.'),
            Some('&' | ',' | '/' | ':' | '%' | '|' | '^' | 'c') => {}
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn troff_becomes_text() {
        let src = ".\\\" comment\n.TH LS 1 \"Septembre 2022\"\n.SH NOM\nls \\- Afficher le contenu\n\
                   .PP\n\\fBls\\fP [\\fI\\,OPTION\\/\\fP]... inclure «\\ .\\ »\n.TP \n\\fB\\-a\\fP, \\fB\\-\\-all\\fP\n\
                   .B \"gras ici\"\nl\\(aqarbre\n";
        assert_eq!(
            troff_to_text(src),
            "NOM\nls - Afficher le contenu\n\nls [OPTION]... inclure « . »\n\n-a, --all\ngras ici\nl'arbre"
        );
    }

    #[test]
    fn iso_codes_become_lines() {
        let json = r#"{"3166-1": [{"alpha_2": "AD", "alpha_3": "AND", "name": "Andorra", "numeric": "020"}]}"#;
        assert_eq!(
            id_list_lines(json).unwrap(),
            ["alpha_2=AD; alpha_3=AND; name=Andorra; numeric=020"]
        );
        assert!(id_list_lines("[1, 2]").is_err());
    }

    #[test]
    fn json_records_become_csv() {
        let rows = json_records_as_csv(r#"[{"a": 1, "b": "x"}, {"a": 2.5, "b": null}]"#).unwrap();
        assert_eq!(rows, ["a,b", "1,x", "2.5,"]);
        assert!(json_records_as_csv(r#"{"not": "records"}"#).is_none());
    }

    #[test]
    fn tables_are_chunked_with_their_header() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("numeric-tables");
        std::fs::create_dir(&dir).unwrap();
        let csv: String = std::iter::once("x,y\n".to_string())
            .chain((0..100).map(|i| format!("{i},{}\n", i * i)))
            .collect();
        std::fs::write(dir.join("squares.csv"), csv).unwrap();
        let docs = read(tmp.path(), S::NumericTables).unwrap();
        assert_eq!(docs.len(), 2);
        assert!(docs.iter().all(|d| d.text.starts_with("x,y\n") && d.domain == "numeric_tables"));
    }

    #[test]
    fn the_code_distractors_read_the_real_packages() {
        // The packages `scripts/setup.sh` fetched (skipped where it has not run).
        let raw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.deps/raw");
        if !raw.join("code-generated/SOURCE").exists() || !raw.join("code-config/SOURCE").exists() {
            eprintln!("skipped: run scripts/setup.sh for the code distractors");
            return;
        }
        let generated = read(&raw, S::GeneratedCode).unwrap();
        assert!(generated.len() > 500, "{} generated modules", generated.len());
        assert!(generated.iter().any(|d| d.text.contains("class V1Pod(object):")));
        assert!(generated.iter().all(|d| d.domain == "code_generated"));
        let config = read(&raw, S::ConfigFiles).unwrap();
        assert!(config.len() > 500, "{} service descriptions", config.len());
        assert!(config.iter().any(|d| d.text.contains("\"pagination\"")));
        let bytes: usize = config.iter().map(|d| d.text.len()).sum();
        assert!(bytes > 2_000_000, "{bytes} bytes of configuration");
    }

    #[test]
    fn missing_and_empty_sources_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(read(tmp.path(), S::Licenses), Err(CorpusError::MissingSource { .. })));
        std::fs::create_dir(tmp.path().join("python-html")).unwrap();
        let err = read(tmp.path(), S::HtmlPages).unwrap_err().to_string();
        assert!(err.contains("no html_pages documents") && err.contains("setup.sh"), "{err}");
        std::fs::create_dir_all(tmp.path().join("code-generated/kubernetes")).unwrap();
        let err = read(tmp.path(), S::GeneratedCode).unwrap_err().to_string();
        assert!(err.contains("no code_generated documents"), "{err}");
        assert!(matches!(read(tmp.path(), S::ConfigFiles), Err(CorpusError::MissingSource { .. })));
    }
}
