//! Python documentation sources (Debian `python3.11-doc`, the Sphinx `_sources` tree).
//!
//! Layout: `raw/python-doc/**/*.rst.txt`. One document per file (domain `python_docs`),
//! with light reST cleaning: the text and code are kept, markup that an LM should not learn
//! as English (roles, directive names and options, section rules, index entries) is removed.

use std::path::Path;

use super::common::{list_files, read_text, source_dir, squeeze_blank_lines};
use super::rst_inline::clean_inline;
use super::RawDoc;
use crate::CorpusError;

/// Reads `raw_root/python-doc`.
pub(crate) fn read(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = source_dir(raw_root, "python-doc", "python-doc")?;
    let mut docs = Vec::new();
    for path in list_files(&dir, |name| name.ends_with(".rst.txt"))? {
        let text = clean_rst(&read_text(&path)?);
        if !text.is_empty() {
            docs.push(RawDoc::new("python_docs".to_string(), text));
        }
    }
    Ok(docs)
}

/// What to do with a directive (`.. name:: args`).
enum Directive {
    /// Drop it with its whole indented block (index entries, toctrees, metadata).
    Drop,
    /// Keep the block; write this label (then the arguments) instead of the directive line.
    Label(&'static str),
    /// Keep the block; the directive line says nothing (`only:: html`, `glossary::`).
    Silent,
    /// Keep the block, and the block is literal text (code).
    Literal,
    /// Keep the arguments as text (function signatures, titles).
    Args,
}

fn classify(name: &str) -> Directive {
    let name = name.rsplit(':').next().unwrap_or(name); // `c:function` → `function`
    match name {
        "index" | "toctree" | "highlight" | "sectionauthor" | "moduleauthor" | "codeauthor"
        | "currentmodule" | "module" | "testsetup" | "testcleanup" | "include"
        | "literalinclude" | "raw" | "image" | "figure" | "tabularcolumns" | "audit-event"
        | "audit-event-table" | "program" => Directive::Drop,
        "versionadded" => Directive::Label("New in version"),
        "versionchanged" => Directive::Label("Changed in version"),
        "deprecated" | "deprecated-removed" => Directive::Label("Deprecated since version"),
        "note" => Directive::Label("Note:"),
        "warning" => Directive::Label("Warning:"),
        "seealso" => Directive::Label("See also:"),
        "important" => Directive::Label("Important:"),
        "tip" | "hint" => Directive::Label("Tip:"),
        "caution" | "attention" | "danger" | "error" => Directive::Label("Caution:"),
        "impl-detail" => Directive::Label("CPython implementation detail:"),
        "availability" => Directive::Label("Availability:"),
        "code-block" | "code" | "sourcecode" | "doctest" | "testcode" | "testoutput"
        | "productionlist" | "parsed-literal" => Directive::Literal,
        // `glossary`: its body is the terms and their definitions, keep them.
        "only" | "ifconfig" | "container" | "compound" | "hlist" | "glossary" => Directive::Silent,
        _ => Directive::Args,
    }
}

/// The text that replaces a `Label` directive line, as Sphinx renders it.
fn label_line(label: &str, name: &str, args: &str) -> String {
    match (name, args.split_once(' ')) {
        ("deprecated-removed", Some((since, removed))) => {
            format!("{label} {since}, will be removed in version {}:", removed.trim())
        }
        ("versionadded", _) => format!("{label} {args}."),
        (_, _) if name.starts_with("version") || name.starts_with("deprecated") => {
            format!("{label} {args}:")
        }
        _ if args.is_empty() => label.to_string(),
        _ => format!("{label} {args}"),
    }
}

/// `.. name:: args` → `(name, args)`; `None` for comments, targets (`.. _label:`),
/// footnotes (`.. [#] text`) and substitution definitions (`.. |x| replace:: y`).
fn parse_directive(trimmed: &str) -> Option<(&str, &str)> {
    let rest = trimmed.strip_prefix(".. ")?;
    let (name, args) = rest.split_once("::")?;
    let is_name = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'));
    is_name.then(|| (name, args.trim()))
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Where a line's text starts: after the marker on a list item's first line (`* `, `#. `,
/// `12. `), since a literal block inside the item is indented relative to that.
fn text_indent(line: &str) -> usize {
    let trimmed = line.trim_start();
    let marker = if ["* ", "- ", "+ "].iter().any(|m| trimmed.starts_with(m)) {
        2
    } else {
        let digits = trimmed.bytes().take_while(|b| b.is_ascii_digit() || *b == b'#').count();
        if digits > 0 && trimmed[digits..].starts_with(". ") {
            digits + 2
        } else {
            0
        }
    };
    indent_of(line) + marker
}

/// A line made of one repeated punctuation character: a section under/overline or transition.
fn is_rule(trimmed: &str) -> bool {
    let mut chars = trimmed.chars();
    let Some(first) = chars.next() else { return false };
    trimmed.len() >= 3 && "=-~^\"'`#*+<>_:.".contains(first) && chars.all(|c| c == first)
}

/// A directive option line such as `:synopsis: ...` or `:noindex:`.
fn is_option(trimmed: &str) -> bool {
    trimmed
        .strip_prefix(':')
        .and_then(|r| r.split_once(':'))
        .is_some_and(|(name, _)| !name.is_empty() && !name.contains(' ') && !name.contains('`'))
}

/// One output line. Prose gets inline cleaning a paragraph at a time, because roles such as
/// ``:term:`binary file objects <file object>` `` often wrap across lines; code is verbatim.
enum Out {
    Prose(String),
    Code(String),
    Blank,
}

/// Light reST → text cleaning.
fn clean_rst(text: &str) -> String {
    let mut out: Vec<Out> = Vec::new();
    let mut skip_deeper_than: Option<usize> = None; // dropping a block indented below this
    let mut options_deeper_than: Option<usize> = None; // directive options may follow
    let mut literal_deeper_than: Option<usize> = None; // inside a literal (code) block
    let mut pending_literal: Option<usize> = None; // a literal block may start next

    for line in text.lines() {
        let line = line.trim_end();
        let trimmed = line.trim_start();
        let indent = indent_of(line);
        if trimmed.is_empty() {
            if skip_deeper_than.is_none() {
                out.push(Out::Blank);
            }
            continue;
        }
        if let Some(level) = skip_deeper_than {
            if indent > level {
                continue;
            }
            skip_deeper_than = None;
        }
        if let Some(level) = options_deeper_than.take() {
            if indent > level && is_option(trimmed) {
                options_deeper_than = Some(level);
                continue;
            }
        }
        if let Some(level) = pending_literal.take() {
            if indent > level {
                literal_deeper_than = Some(level);
            }
        }
        if let Some(level) = literal_deeper_than {
            if indent > level {
                out.push(Out::Code(line.to_string()));
                continue;
            }
            literal_deeper_than = None;
        }

        if trimmed == ".." || trimmed.starts_with(".. ") {
            let Some((name, args)) = parse_directive(trimmed) else {
                skip_deeper_than = Some(indent); // comment, target, footnote or substitution
                continue;
            };
            let pad = &line[..indent];
            match classify(name) {
                Directive::Drop => {
                    skip_deeper_than = Some(indent);
                    continue;
                }
                Directive::Label(label) => {
                    out.push(Out::Prose(format!("{pad}{}", label_line(label, name, args))));
                }
                Directive::Literal => pending_literal = Some(indent),
                Directive::Silent => {}
                Directive::Args if args.is_empty() => {}
                Directive::Args => out.push(Out::Prose(format!("{pad}{args}"))),
            }
            options_deeper_than = Some(indent);
            continue;
        }
        if is_rule(trimmed) {
            continue;
        }
        // Interactive sessions are code even without a `::` introduction.
        if trimmed.starts_with(">>>") {
            out.push(Out::Code(line.to_string()));
            continue;
        }
        let Some(before) = line.strip_suffix("::") else {
            out.push(Out::Prose(line.to_string()));
            continue;
        };
        // A paragraph ending in `::` introduces a literal block; reST renders `Example::` as
        // `Example:`, `text ::` as `text` and a lone `::` as nothing.
        pending_literal = Some(text_indent(line));
        if before.trim().is_empty() {
            continue;
        }
        out.push(Out::Prose(if before.ends_with(char::is_whitespace) {
            before.trim_end().to_string()
        } else {
            format!("{before}:")
        }));
    }
    squeeze_blank_lines(&render(out))
}

/// Joins the output lines, cleaning the inline markup of each prose paragraph as a whole.
fn render(lines: Vec<Out>) -> String {
    let mut text = String::new();
    let mut paragraph: Vec<String> = Vec::new();
    let flush = |paragraph: &mut Vec<String>, text: &mut String| {
        if !paragraph.is_empty() {
            text.push_str(&clean_inline(&paragraph.join("\n")));
            text.push('\n');
            paragraph.clear();
        }
    };
    for line in lines {
        match line {
            Out::Prose(line) => paragraph.push(line),
            Out::Code(line) => {
                flush(&mut paragraph, &mut text);
                text.push_str(&line);
                text.push('\n');
            }
            Out::Blank => {
                flush(&mut paragraph, &mut text);
                text.push('\n');
            }
        }
    }
    flush(&mut paragraph, &mut text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_directives_and_keeps_code() {
        let rst = "\
:mod:`os.path` --- Pathnames
============================

.. module:: os.path
   :synopsis: Operations on pathnames.

.. index:: single: path; operations

.. _label:

Some *text* follows::

   x = {'a': 1}  # **not** markup

.. function:: abspath(path)

   Return a path.

   .. versionchanged:: 3.6
      Accepts a :term:`path-like
      object <path-like>`.

   .. deprecated-removed:: 3.11 3.13

.. note::

   Be careful.

.. code-block:: python

   print(:func:`x`)

>>> 1 + 1
2
";
        let expected = "\
os.path --- Pathnames

Some *text* follows:

   x = {'a': 1}  # **not** markup

abspath(path)

   Return a path.

   Changed in version 3.6:
      Accepts a path-like
      object.

   Deprecated since version 3.11, will be removed in version 3.13:

Note:

   Be careful.

   print(:func:`x`)

>>> 1 + 1
2";
        assert_eq!(clean_rst(rst), expected);
    }

    #[test]
    fn literal_blocks_in_list_items() {
        let rst =
            "* Use :func:`getattr`::\n\n     getattr(foo, 'bar')()\n\n  Note :func:`getattr`.\n";
        assert_eq!(
            clean_rst(rst),
            "* Use getattr:\n\n     getattr(foo, 'bar')()\n\n  Note getattr."
        );
    }

    #[test]
    fn double_colon_forms() {
        assert_eq!(clean_rst("Text ::\n\n   code\n"), "Text\n\n   code");
        assert_eq!(clean_rst("Para.\n\n::\n\n   code\n"), "Para.\n\n   code");
    }

    #[test]
    fn reads_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("python-doc/library");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("os.rst.txt"), "Title\n=====\n\nBody.\n").unwrap();
        std::fs::write(dir.join("os.html"), "<p>no</p>").unwrap();
        let docs = read(tmp.path()).unwrap();
        assert_eq!(docs, [RawDoc::new("python_docs", "Title\n\nBody.")]);
    }

    #[test]
    fn missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(read(tmp.path()), Err(CorpusError::MissingSource { .. })));
    }
}
