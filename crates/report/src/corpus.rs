//! The corpus's per-domain table, as `prepare` and `corpus stats` print it.

use std::fmt::Write as _;

use mixagent_shard::Manifest;

/// The per-domain table, with per-field and overall totals.
pub fn corpus_table(m: &Manifest) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<24} {:<8} {:>9} {:>12} {:>10} {:>8} {:>10}",
        "domain", "field", "docs", "tokens", "MB", "B/tok", "heldout"
    );
    let row =
        |s: &mut String, name: &str, field: &str, docs: u64, tokens: u64, bytes: u64, held: u64| {
            let bpt = if tokens > 0 { bytes as f64 / tokens as f64 } else { 0.0 };
            let _ = writeln!(
                s,
                "{name:<24} {field:<8} {docs:>9} {tokens:>12} {:>10.2} {bpt:>8.2} {held:>10}",
                bytes as f64 / 1e6
            );
        };
    let mut fields: Vec<&str> = Vec::new();
    for d in &m.domains {
        row(
            &mut s,
            &d.name,
            d.field.as_str(),
            d.train.docs,
            d.train.tokens,
            d.train.bytes,
            d.heldout.tokens,
        );
        if !fields.contains(&d.field.as_str()) {
            fields.push(d.field.as_str());
        }
    }
    let _ = writeln!(s, "{}", "-".repeat(87));
    let sum = |f: Option<&str>| {
        m.domains.iter().filter(|d| f.is_none_or(|f| d.field.as_str() == f)).fold(
            (0, 0, 0, 0),
            |a, d| {
                (
                    a.0 + d.train.docs,
                    a.1 + d.train.tokens,
                    a.2 + d.train.bytes,
                    a.3 + d.heldout.tokens,
                )
            },
        )
    };
    for f in &fields {
        let (docs, tokens, bytes, held) = sum(Some(f));
        row(&mut s, &format!("[{f}]"), f, docs, tokens, bytes, held);
    }
    let (docs, tokens, bytes, held) = sum(None);
    row(&mut s, "[all]", "", docs, tokens, bytes, held);
    let _ = writeln!(
        s,
        "{} domains in {} fields; tokenizer {} (vocab {}); train columns, heldout = held-out tokens",
        m.domains.len(),
        fields.len(),
        m.tokenizer.fingerprint,
        m.tokenizer.vocab_size
    );
    let _ = writeln!(s, "corpus fingerprint {}", m.fingerprint_label());
    s
}
