//! Python documentation sources (Debian `python3.11-doc`, the Sphinx `_sources` tree).
//!
//! Layout: `raw/python-doc/**/*.rst.txt`. One document per file (domain `python_docs`),
//! with light reST cleaning: the text and code are kept, markup that an LM should not learn
//! as English (roles, directive names and options, section rules, index entries) is removed.

use std::path::Path;

use super::common::{list_files, read_text, source_dir, squeeze_blank_lines};
use super::RawDoc;
use crate::CorpusError;

/// Reads `raw_root/python-doc`.
pub(crate) fn read(raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    let dir = source_dir(raw_root, "python-doc", "python-doc")?;
    let mut docs = Vec::new();
    for path in list_files(&dir, |name| name.ends_with(".rst.txt"))? {
        let text = clean_rst(&read_text(&path)?);
        if !text.is_empty() {
            docs.push(RawDoc { domain: "python_docs".to_string(), text });
        }
    }
    Ok(docs)
}

/// What to do with a directive (`.. name:: args`).
enum Directive {
    /// Drop it with its whole indented block (index entries, toctrees, metadata).
    Drop,
    /// Keep the block; write this label instead of the directive line.
    Label(&'static str),
    /// Keep the block; the directive line says nothing (`code-block:: python`, `only:: html`).
    Silent,
    /// Keep the block, and the block is literal text (code).
    Literal,
    /// Keep the arguments as text (function signatures, rubric titles).
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
        "deprecated" => Directive::Label("Deprecated since version"),
        "deprecated-removed" => Directive::Label("Deprecated since version"),
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
        // `glossary`: its body is the terms and definitions, keep them.
        "only" | "ifconfig" | "container" | "compound" | "centered" | "topic" | "sidebar"
        | "list-table" | "csv-table" | "table" | "hlist" | "glossary" => Directive::Silent,
        _ => Directive::Args,
    }
}

/// `.. name:: args` → `(name, args)`; `None` for comments, targets (`.. _label:`) and
/// substitution definitions (`.. |x| replace:: y`).
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

/// A line made of one repeated punctuation character: a section under/overline or transition.
fn is_rule(trimmed: &str) -> bool {
    let mut chars = trimmed.chars();
    let Some(first) = chars.next() else { return false };
    trimmed.len() >= 3 && "=-~^\"'`#*+<>_:.".contains(first) && chars.all(|c| c == first)
}

/// Light reST → text cleaning, line by line.
fn clean_rst(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut skip_deeper_than: Option<usize> = None; // dropping a block indented below this
    let mut options_deeper_than: Option<usize> = None; // directive options may follow
    let mut literal_deeper_than: Option<usize> = None; // inside a literal (code) block
    let mut pending_literal: Option<usize> = None; // last paragraph ended with `::`

    for line in text.lines() {
        let trimmed = line.trim();
        let indent = indent_of(line);
        if trimmed.is_empty() {
            if skip_deeper_than.is_none() {
                out.push(String::new());
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
                out.push(line.trim_end().to_string()); // code: verbatim
                continue;
            }
            literal_deeper_than = None;
        }

        if trimmed.starts_with("..") && (trimmed == ".." || trimmed.starts_with(".. ")) {
            let Some((name, args)) = parse_directive(trimmed) else {
                skip_deeper_than = Some(indent); // comment, target or substitution
                continue;
            };
            let pad = &line[..indent];
            match classify(name) {
                Directive::Drop => {
                    skip_deeper_than = Some(indent);
                    continue;
                }
                Directive::Label(label) => {
                    let args = clean_inline(args);
                    out.push(if args.is_empty() {
                        format!("{pad}{label}")
                    } else {
                        format!("{pad}{label} {args}")
                    });
                }
                Directive::Literal => pending_literal = Some(indent),
                Directive::Silent => {}
                Directive::Args => {
                    if !args.is_empty() {
                        out.push(format!("{pad}{}", clean_inline(args)));
                    }
                }
            }
            options_deeper_than = Some(indent);
            continue;
        }
        if is_rule(trimmed) {
            continue;
        }
        // Interactive sessions are code even without a `::` introduction.
        if trimmed.starts_with(">>>") {
            out.push(line.trim_end().to_string());
            continue;
        }
        let cleaned = clean_inline(line.trim_end());
        let Some(before) = cleaned.strip_suffix("::") else {
            out.push(cleaned);
            continue;
        };
        // A paragraph ending in `::` introduces a literal block; reST renders `Example::` as
        // `Example:`, `text ::` as `text` and a lone `::` as nothing.
        pending_literal = Some(indent);
        if before.trim().is_empty() {
            continue;
        }
        out.push(if before.ends_with(char::is_whitespace) {
            before.trim_end().to_string()
        } else {
            format!("{before}:")
        });
    }
    squeeze_blank_lines(&out.join("\n"))
}

/// A directive option line such as `:synopsis: ...` or `:noindex:`.
fn is_option(trimmed: &str) -> bool {
    trimmed
        .strip_prefix(':')
        .and_then(|r| r.split_once(':'))
        .is_some_and(|(name, _)| !name.is_empty() && !name.contains(' ') && !name.contains('`'))
}

/// Inline markup → text: ``` ``code`` ``` → `code`, `:func:`~os.path.join`` → `join`,
/// `` `text <url>`_ `` → `text`, `**bold**` → `bold`.
fn clean_inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("``") {
            if let Some(end) = after.find("``") {
                out.push_str(&after[..end]);
                rest = &after[end + 2..];
                continue;
            }
        } else if let Some((content, after)) = role(rest) {
            out.push_str(&interpreted(content));
            rest = after;
            continue;
        } else if let Some(after) = rest.strip_prefix('`') {
            if let Some(end) = after.find('`') {
                out.push_str(&interpreted(&after[..end]));
                rest = after[end + 1..].trim_start_matches('_');
                continue;
            }
        } else if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = after.find("**").filter(|&e| e > 0 && !after.starts_with(' ')) {
                out.push_str(&after[..end]);
                rest = &after[end + 2..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `:role:`content`` at the start of `s` → `(content, rest after the closing backtick)`.
fn role(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix(':')?;
    let tick = body.find(":`")?;
    let name = &body[..tick];
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '+' | '.'));
    if !is_name {
        return None;
    }
    let after = &body[tick + 2..];
    let end = after.find('`')?;
    Some((&after[..end], &after[end + 1..]))
}

/// The text Sphinx would show for interpreted content: `title <target>` → `title`,
/// `~a.b.c` → `c`, `!name` → `name`.
fn interpreted(content: &str) -> String {
    let content = content.trim();
    if let Some(title) = content.strip_suffix('>').and_then(|c| c.rsplit_once(" <")).map(|(t, _)| t)
    {
        return title.trim().to_string();
    }
    if let Some(path) = content.strip_prefix('~') {
        return path.rsplit('.').next().unwrap_or(path).to_string();
    }
    content.trim_start_matches('!').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_inline_markup() {
        assert_eq!(
            clean_inline("See :func:`open` and :mod:`os`, ``x = 1``, :func:`~os.path.join`."),
            "See open and os, x = 1, join."
        );
        assert_eq!(
            clean_inline(":ref:`the tutorial <tut-intro>` and `PEP 8 <https://x>`_"),
            "the tutorial and PEP 8"
        );
        assert_eq!(clean_inline("**Source code:** :source:`Lib/os.py`"), "Source code: Lib/os.py");
        assert_eq!(
            clean_inline("a ratio 3:4 and f(*args, **kw)"),
            "a ratio 3:4 and f(*args, **kw)"
        );
    }

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
      Accepts a :term:`path-like object`.

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

   Changed in version 3.6
      Accepts a path-like object.

Note:

   Be careful.

   print(:func:`x`)

>>> 1 + 1
2";
        assert_eq!(clean_rst(rst), expected);
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
        assert_eq!(docs, [RawDoc { domain: "python_docs".into(), text: "Title\n\nBody.".into() }]);
    }

    #[test]
    fn missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(read(tmp.path()), Err(CorpusError::MissingSource { .. })));
    }
}
