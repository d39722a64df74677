//! reST inline markup → plain text, as Sphinx would render it (used for the Python docs).

/// Inline markup → text: ``` ``code`` ``` → `code`, `:func:`~os.path.join`` → `join`,
/// `:pep:`8`` → `PEP 8`, `` `text <url>`_ `` → `text`, `**bold**` → `bold`, footnote
/// references (`[#]_`) dropped.
pub(crate) fn clean_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("``") {
            if let Some(end) = after.find("``") {
                out.push_str(&after[..end]);
                rest = &after[end + 2..];
                continue;
            }
        } else if let Some((name, content, after)) = role(rest) {
            let shown = interpreted(content);
            match name.rsplit(':').next() {
                Some("pep") if !content.contains('<') => out.push_str(&format!("PEP {shown}")),
                Some("rfc") if !content.contains('<') => out.push_str(&format!("RFC {shown}")),
                Some("issue") => out.push_str(&format!("bpo-{shown}")),
                Some("gh") => out.push_str(&format!("gh-{shown}")),
                _ => out.push_str(&shown),
            }
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
        } else if let Some(after) = footnote_ref(rest) {
            out.truncate(out.trim_end_matches(' ').len());
            rest = if out.ends_with('\n') { after.trim_start_matches(' ') } else { after };
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `[#]_`, `[1]_` or `[#name]_` at the start of `s` → the rest after it.
fn footnote_ref(s: &str) -> Option<&str> {
    let body = s.strip_prefix('[')?;
    let end = body.find("]_")?;
    let label = &body[..end];
    let ok = end <= 24 && label.chars().all(|c| c.is_ascii_alphanumeric() || "#-_".contains(c));
    ok.then(|| &body[end + 2..])
}

/// `:role:`content`` at the start of `s` → `(role, content, rest after the closing backtick)`.
fn role(s: &str) -> Option<(&str, &str, &str)> {
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
    Some((name, &after[..end], &after[end + 1..]))
}

/// The text Sphinx would show for interpreted content: `title <target>` → `title`,
/// `~a.b.c` → `c`, `!name` → `name`.
fn interpreted(content: &str) -> String {
    let content = content.trim();
    if let Some(open) = content.strip_suffix('>').and_then(|c| c.rfind('<')) {
        let title = &content[..open];
        if title.ends_with(char::is_whitespace) && !title.trim().is_empty() {
            return title.trim().to_string();
        }
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
    fn renders_pep_rfc_issue_and_drops_footnote_refs() {
        assert_eq!(
            clean_inline("See :pep:`8`, :rfc:`1521` and :issue:`4285` [#]_."),
            "See PEP 8, RFC 1521 and bpo-4285."
        );
        assert_eq!(clean_inline("end.\n[1]_  Next"), "end.\nNext");
    }
}
