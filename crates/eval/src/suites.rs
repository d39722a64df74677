//! Feedback suites: per field, a fixed set of (prompt, gold answer) items built from the
//! corpus's held-out documents (`<domain>/heldout.jsonl`), which no model ever trains on.
//!
//! Item kinds, chosen per held-out line shape:
//! - **question → answer**: `Question: … / Answer: …` pairs (mathematics_dataset, unit
//!   conversion): prompt `Question: q\nAnswer:`, answer ` a`;
//! - **term → definition**: `term: gloss` lines (WordNet, encyclopedic `Title: sentence`):
//!   prompt `term:`, answer ` gloss`;
//! - **signature → body**: a Python `def`/Rust `fn` line with its docstring or doc comment;
//!   answer: the next lines of the body;
//! - **continuation** (every other domain): the next line or sentence given up to 300
//!   characters before it.
//!
//! Items are spread evenly over a field's domains and picked by a seeded shuffle, so a suite is
//! a pure function of (corpus, field, size, seed); its fingerprint is recorded with its scores.

use std::path::Path;

use mixagent_core::seed::derive;
use mixagent_shard::Manifest;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::EvalError;

/// One scored item: the model reads `prompt` and is scored on `answer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The corpus domain the item was built from.
    pub domain: String,
    /// Context.
    pub prompt: String,
    /// Gold continuation.
    pub answer: String,
}

/// A field's feedback suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    /// The field (`general`, `math`, …).
    pub field: String,
    /// The items.
    pub items: Vec<Item>,
}

impl Suite {
    /// SHA-256 of the items (first 8 bytes, hex): recorded wherever the suite's scores are.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for it in &self.items {
            for part in [&it.domain, &it.prompt, &it.answer] {
                h.update(part.as_bytes());
                h.update([0u8]);
            }
        }
        let d = h.finalize();
        format!("{:016x}", u64::from_be_bytes(d[..8].try_into().expect("8 bytes")))
    }
}

/// Longest prompt context kept, in characters (items are short so the suite is cheap).
const MAX_PROMPT_CHARS: usize = 300;
/// Longest answer, in characters.
const MAX_ANSWER_CHARS: usize = 160;

/// Builds the feedback suite of `field` with `size` items from the corpus at `dir`.
pub fn build_suite(
    dir: &Path,
    manifest: &Manifest,
    field: &str,
    size: usize,
    seed: u64,
) -> Result<Suite, EvalError> {
    let domains: Vec<&str> = manifest
        .domains
        .iter()
        .filter(|d| d.field.as_str() == field)
        .map(|d| d.name.as_str())
        .collect();
    if domains.is_empty() {
        return Err(EvalError::Empty {
            what: format!("feedback suite `{field}`"),
            hint: format!("the corpus at {} has no domain of field `{field}`", dir.display()),
        });
    }
    let mut pools: Vec<Vec<Item>> = Vec::new();
    for (i, domain) in domains.iter().enumerate() {
        let path = dir.join(domain).join("heldout.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| EvalError::io(&path, e))?;
        let mut items = Vec::new();
        for (n, line) in text.lines().enumerate() {
            #[derive(Deserialize)]
            struct Doc {
                text: String,
            }
            let doc: Doc = serde_json::from_str(line).map_err(|e| {
                EvalError::malformed(
                    &path,
                    format!("line {}: {e}; re-run `mixagent prepare`", n + 1),
                )
            })?;
            items.extend(items_of(domain, &doc.text));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.suite", i as u64));
        items.shuffle(&mut rng);
        pools.push(items);
    }
    // Round-robin over domains so each contributes equally while it has items.
    let mut out = Vec::with_capacity(size);
    let mut cursor = vec![0usize; pools.len()];
    while out.len() < size {
        let before = out.len();
        for (pool, c) in pools.iter().zip(cursor.iter_mut()) {
            if out.len() == size {
                break;
            }
            if let Some(item) = pool.get(*c) {
                out.push(item.clone());
                *c += 1;
            }
        }
        if out.len() == before {
            break;
        }
    }
    if out.is_empty() {
        return Err(EvalError::Empty {
            what: format!("feedback suite `{field}`"),
            hint: "the held-out documents of its domains yielded no items; prepare with a larger heldout_fraction".into(),
        });
    }
    Ok(Suite { field: field.to_string(), items: out })
}

/// Every item one held-out document yields.
fn items_of(domain: &str, text: &str) -> Vec<Item> {
    let qa = question_answer(domain, text);
    if !qa.is_empty() {
        return qa;
    }
    let code = signature_body(domain, text);
    if !code.is_empty() {
        return code;
    }
    let defs = term_definition(domain, text);
    if defs.len() >= 3 {
        return defs;
    }
    continuation(domain, text)
}

fn item(domain: &str, prompt: &str, answer: &str) -> Option<Item> {
    let answer = answer.trim_end();
    if answer.trim().is_empty() || prompt.trim().is_empty() {
        return None;
    }
    let prompt = tail_chars(prompt, MAX_PROMPT_CHARS);
    let answer: String = answer.chars().take(MAX_ANSWER_CHARS).collect();
    Some(Item { domain: domain.into(), prompt, answer })
}

/// The last `n` characters of `s`.
fn tail_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

fn question_answer(domain: &str, text: &str) -> Vec<Item> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        if let (Some(q), Some(a)) = (block.strip_prefix("Question: "), block.find("\nAnswer: ")) {
            let question = &q[..a - "Question: ".len()];
            let answer = &block[a + "\nAnswer: ".len()..];
            out.extend(item(
                domain,
                &format!("Question: {question}\nAnswer:"),
                &format!(" {}", answer.trim()),
            ));
        }
    }
    out
}

fn term_definition(domain: &str, text: &str) -> Vec<Item> {
    text.lines()
        .filter_map(|line| {
            let (term, gloss) = line.split_once(": ")?;
            let ok =
                !term.is_empty() && term.len() <= 80 && gloss.len() >= 8 && !term.contains(". ");
            ok.then(|| item(domain, &format!("{term}:"), &format!(" {gloss}"))).flatten()
        })
        .collect()
}

fn signature_body(domain: &str, text: &str) -> Vec<Item> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let is_sig = (t.starts_with("def ") && t.ends_with(':'))
            || (t.starts_with("pub fn ") || t.starts_with("fn ")) && t.ends_with('{');
        if !is_sig {
            continue;
        }
        // Python: the docstring belongs to the prompt; Rust: the doc comment above it does.
        let mut start = i;
        while start > 0 && lines[start - 1].trim_start().starts_with("///") {
            start -= 1;
        }
        let mut end = i + 1;
        if t.starts_with("def ")
            && lines.get(end).is_some_and(|l| l.trim_start().starts_with("\"\"\""))
        {
            let opener = lines[end].trim();
            if !(opener.len() > 3 && opener.ends_with("\"\"\"")) {
                end += 1;
                while end < lines.len() && !lines[end].contains("\"\"\"") {
                    end += 1;
                }
            }
            end += 1;
        }
        let body: Vec<&str> = lines.iter().skip(end).take(4).copied().collect();
        if end > lines.len() || body.iter().all(|l| l.trim().is_empty()) {
            continue;
        }
        let prompt = lines[start..end.min(lines.len())].join("\n") + "\n";
        out.extend(item(domain, &prompt, &body.join("\n")));
    }
    out
}

fn continuation(domain: &str, text: &str) -> Vec<Item> {
    // Split after sentence ends or newlines; each unit after the first is an answer.
    let mut units: Vec<(usize, usize)> = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let end_of_sentence = matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1) == Some(&b' ');
        if b == b'\n' || end_of_sentence {
            let end = i + 1;
            if end - start > 1 {
                units.push((start, end));
            }
            start = end;
        }
    }
    units
        .windows(2)
        .step_by(3)
        .filter_map(|w| {
            let (prev_start, _) = w[0];
            let (s, e) = w[1];
            let ctx_start = prev_start.saturating_sub(MAX_PROMPT_CHARS);
            let ctx_start =
                (ctx_start..=prev_start).find(|&k| text.is_char_boundary(k)).unwrap_or(prev_start);
            let answer = &text[s..e];
            (answer.trim().len() >= 12).then(|| item(domain, &text[ctx_start..s], answer)).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_gives_an_empty_suite_error() {
        let m: Manifest = serde_json::from_value(serde_json::json!({
            "format_version": 1, "created_by": "t", "seed": 0, "heldout_fraction": 0.1,
            "tokenizer": {"file": "tokenizer.json", "fingerprint": "0000000000000000", "vocab_size": 300, "eos_id": 0},
            "domains": []
        }))
        .unwrap();
        let e = build_suite(Path::new("/nowhere"), &m, "poetry", 10, 0).unwrap_err().to_string();
        assert!(e.contains("`poetry`") && e.contains("no domain"), "{e}");
    }

    #[test]
    fn question_answer_items() {
        let items = items_of(
            "m",
            "Question: What is 2 + 3?\nAnswer: 5\n\nQuestion: Solve x = 1.\nAnswer: 1",
        );
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].prompt, "Question: What is 2 + 3?\nAnswer:");
        assert_eq!(items[0].answer, " 5");
    }

    #[test]
    fn definitions_signatures_and_continuations() {
        let defs = items_of("w", "dog: a domesticated canine animal\ncat: a small feline animal kept as a pet\nhen: a female bird of the fowl");
        assert_eq!(defs.len(), 3);
        assert_eq!(
            (defs[1].prompt.as_str(), defs[1].answer.as_str()),
            ("cat:", " a small feline animal kept as a pet")
        );

        let py = "import os\n\ndef area(r):\n    \"\"\"Area of a circle.\"\"\"\n    import math\n    return math.pi * r * r\n";
        let items = items_of("py", py);
        assert_eq!(items.len(), 1);
        assert!(
            items[0].prompt.ends_with("\"\"\"Area of a circle.\"\"\"\n"),
            "{:?}",
            items[0].prompt
        );
        assert!(items[0].answer.starts_with("    import math\n    return math.pi"));

        let rs = "/// Adds one.\npub fn inc(x: u32) -> u32 {\n    x + 1\n}\n";
        let items = items_of("rs", rs);
        assert_eq!(items[0].prompt, "/// Adds one.\npub fn inc(x: u32) -> u32 {\n");

        let prose = "The jury met at noon. It said the election was fair. The mayor thanked the jury for its work. Nobody objected to the result at all.";
        let items = items_of("news", prose);
        assert!(!items.is_empty());
        assert!(prose.contains(&(items[0].prompt.clone() + &items[0].answer)));
    }
}
