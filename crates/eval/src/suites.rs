//! Feedback suites: per field, a fixed set of (prompt, gold answer) items that no model ever
//! trains on. A v2 corpus carries feedback sets apart from training (`feedback.jsonl`, built by
//! `prepare` from `[[feedback]]` tables, DESIGN §10); a v1 corpus has none, and items are read
//! from each domain's held-out documents (`<domain>/heldout.jsonl`) with the item kinds of
//! `mixagent_corpus::items`.
//!
//! v1 items are spread evenly over a field's domains and picked by a seeded shuffle, so a suite is
//! a pure function of (corpus, field, size, seed); its fingerprint is recorded with its scores.

use std::path::Path;

use mixagent_core::seed::derive;
use mixagent_shard::{FeedbackScoring, Manifest};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use mixagent_corpus::items::items_of;
pub use mixagent_corpus::items::Item;
use mixagent_corpus::{load_items, FEEDBACK_FILE};

use crate::EvalError;

/// A field's feedback suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    /// The field (`general`, `math`, …).
    pub field: String,
    /// The items.
    pub items: Vec<Item>,
    /// How its score is computed from the items' log-probabilities (the corpus's choice).
    #[serde(default)]
    pub scoring: FeedbackScoring,
}

impl Suite {
    /// SHA-256 of the items and of a scoring other than likelihood (first 8 bytes, hex):
    /// recorded wherever the suite's scores are.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for it in &self.items {
            for part in [&it.domain, &it.prompt, &it.answer] {
                h.update(part.as_bytes());
                h.update([0u8]);
            }
        }
        if self.scoring != FeedbackScoring::Likelihood {
            h.update(format!("scoring {}", self.scoring.name()).as_bytes());
        }
        let d = h.finalize();
        format!("{:016x}", u64::from_be_bytes(d[..8].try_into().expect("8 bytes")))
    }

    /// The (prompt, answer) pairs to score: each item's, then under [`FeedbackScoring::Pairing`]
    /// each answer again after the next item's prompt (the last after the first's: the items
    /// are in seeded random order, so this is a random derangement). A suite of one item has
    /// no other prompt and is scored by likelihood.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        let own = self.items.iter().map(|i| (i.prompt.as_str(), i.answer.as_str()));
        let n = self.items.len();
        if self.scoring == FeedbackScoring::Likelihood || n < 2 {
            return own.collect();
        }
        let control = (0..n)
            .map(|i| (self.items[(i + 1) % n].prompt.as_str(), self.items[i].answer.as_str()));
        own.chain(control).collect()
    }
}

/// Builds the feedback suite of `field` with `size` items from the corpus at `dir`: from its
/// feedback sets apart from training (`feedback.jsonl`) when it has them, otherwise (a v1
/// corpus) round-robin from every domain's held-out documents.
pub fn build_suite(
    dir: &Path,
    manifest: &Manifest,
    field: &str,
    size: usize,
    seed: u64,
) -> Result<Suite, EvalError> {
    if manifest.feedback.is_empty() {
        return HeldOut { dir, manifest }.round_robin(field, size, seed);
    }
    let path = dir.join(FEEDBACK_FILE);
    if !manifest.feedback.contains_key(field) {
        return Err(EvalError::Empty {
            what: format!("feedback suite `{field}`"),
            hint: format!(
                "the corpus at {} has feedback sets for {} only: add a [[feedback]] table for `{field}` to its config and re-run `mixagent prepare`",
                dir.display(),
                manifest.feedback.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let mut items: Vec<Item> = load_items(dir, FEEDBACK_FILE, Some(field))?
        .into_iter()
        .map(|it| Item { domain: it.set, prompt: it.prompt, answer: it.answer })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "eval.feedback", 0));
    items.shuffle(&mut rng);
    items.truncate(size);
    if items.is_empty() {
        return Err(EvalError::malformed(&path, format!("no items of field `{field}`, though the manifest lists some; re-run `mixagent prepare`")));
    }
    Ok(Suite { field: field.to_string(), items, scoring: manifest.scoring_of(field) })
}

/// A corpus's held-out documents as a source of items: the v1 feedback suites, and the
/// benchmarks of either version.
pub(crate) struct HeldOut<'a> {
    pub dir: &'a Path,
    pub manifest: &'a Manifest,
}

impl HeldOut<'_> {
    /// `size` items spread round-robin over the field's domains' held-out documents. In a v2
    /// corpus these are disjoint from the feedback sets (which come from parts held out of
    /// every domain), so the benchmarks draw on them.
    pub fn round_robin(&self, field: &str, size: usize, seed: u64) -> Result<Suite, EvalError> {
        let (dir, manifest) = (self.dir, self.manifest);
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
        Ok(Suite { field: field.to_string(), items: out, scoring: FeedbackScoring::Likelihood })
    }
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
}
