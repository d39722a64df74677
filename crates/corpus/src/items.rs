//! Scored items, (prompt, gold answer) pairs, read from documents. The v1 feedback suites
//! (`mixagent-eval`) build them from each domain's held-out documents; the v2 feedback sets
//! (`[[feedback]]` in the corpus config) from evaluation-only parts of a source.
//!
//! Item kinds, chosen per document shape:
//! - **question → answer**: `Question: … / Answer: …` pairs (mathematics_dataset, unit
//!   conversion): prompt `Question: q\nAnswer:`, answer ` a`;
//! - **term → definition**: `term: gloss` lines (WordNet, encyclopedic `Title: sentence`):
//!   prompt `term:`, answer ` gloss`;
//! - **signature → body**: a Python `def`/Rust `fn` line with its docstring or doc comment;
//!   answer: the next lines of the body;
//! - **continuation** (every other document): the next line or sentence given up to 300
//!   characters before it.

use serde::{Deserialize, Serialize};

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

/// Longest prompt context kept, in characters (items are short so the suite is cheap).
const MAX_PROMPT_CHARS: usize = 300;
/// Longest answer, in characters.
const MAX_ANSWER_CHARS: usize = 160;

/// Every item one held-out document yields.
pub fn items_of(domain: &str, text: &str) -> Vec<Item> {
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
