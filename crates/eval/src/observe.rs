//! The per-stage observation for rollouts and policy-steered CPT: the feedback suites and the
//! held-out tokens are loaded once, then every stage costs only forward passes.

use std::path::Path;

use mixagent_core::{Observation, ObserveConfig};
use mixagent_corpus::CorpusTokenizer;
use mixagent_lm::Llama;
use mixagent_shard::{Manifest, Split};

use crate::score::{mean_loss, Scorer};
use crate::{build_suite, feedback, EvalError, Suite};

struct Heldout {
    domain: String,
    tokens: Vec<u32>,
}

/// Measures a model's feedback per field and held-out loss per domain of `fields`.
pub struct Observer {
    tokenizer: CorpusTokenizer,
    suites: Vec<Suite>,
    heldout: Vec<Heldout>,
    cfg: ObserveConfig,
}

impl Observer {
    /// Loads the suites of `fields` and the held-out tokens of their domains from the corpus.
    pub fn new(corpus: &Path, fields: &[String], cfg: ObserveConfig) -> Result<Self, EvalError> {
        let manifest = Manifest::load(corpus)?;
        let tokenizer = CorpusTokenizer::load(&corpus.join(&manifest.tokenizer.file))?;
        let suites = fields
            .iter()
            .map(|f| build_suite(corpus, &manifest, f, cfg.items_per_field, cfg.seed))
            .collect::<Result<Vec<_>, _>>()?;
        let mut heldout = Vec::new();
        if cfg.heldout_windows > 0 {
            for d in
                manifest.domains.iter().filter(|d| fields.iter().any(|f| f == d.field.as_str()))
            {
                let shards = manifest.open_shards(corpus, d, Split::Heldout)?;
                let tokens: Vec<u32> = shards.iter().flat_map(|s| s.to_vec()).collect();
                if tokens.len() < 2 {
                    // Too small a held-out split to measure; the domain gets no loss entry.
                    continue;
                }
                heldout.push(Heldout { domain: d.name.clone(), tokens });
            }
        }
        Ok(Observer { tokenizer, suites, heldout, cfg })
    }

    /// Fingerprint of each field's suite (field, fingerprint), to record with the results.
    pub fn suite_fingerprints(&self) -> Vec<(String, String)> {
        self.suites.iter().map(|s| (s.field.clone(), s.fingerprint())).collect()
    }

    /// Scores `model`.
    pub fn observe(&self, model: &Llama, device: tch::Device) -> Result<Observation, EvalError> {
        let scorer = Scorer::new(model, &self.tokenizer, self.cfg.batch_size, device);
        let feedback = feedback(&scorer, &self.suites)?;
        let seq_len = self.cfg.heldout_seq_len.min(model.config().max_seq_len);
        let mut domain_loss = std::collections::BTreeMap::new();
        for h in &self.heldout {
            let nats = mean_loss(
                model,
                &h.tokens,
                seq_len,
                self.cfg.heldout_windows,
                self.cfg.batch_size,
                device,
            )?;
            domain_loss.insert(h.domain.clone(), nats);
        }
        Ok(Observation {
            feedback: feedback.into_iter().map(|f| (f.field, f.feedback)).collect(),
            domain_loss,
        })
    }
}
