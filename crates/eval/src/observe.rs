//! The per-stage observation for rollouts and policy-steered CPT: the feedback suites and the
//! held-out tokens are loaded once and laid out in batches on the first observation (the
//! layout depends on the model's context), then every stage costs only forward passes: the
//! suites' items in length-sorted batches with the output projection at the answer tokens
//! only, every domain's held-out windows in shared batches.

use std::path::Path;

use mixagent_core::{Observation, ObserveConfig};
use mixagent_corpus::CorpusTokenizer;
use mixagent_lm::Llama;
use mixagent_shard::{Manifest, Split};

use crate::report::feedback_score;
use crate::score::{HeldoutBatches, Prepared, Scorer};
use crate::{build_suite, EvalError, Suite};

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
    /// The batches, for the model context they were laid out for.
    layout: std::sync::OnceLock<Layout>,
}

/// The observer's layout, or one made for a model of another context.
enum LayoutRef<'a> {
    Kept(&'a Layout),
    Fresh(Layout),
}

impl std::ops::Deref for LayoutRef<'_> {
    type Target = Layout;
    fn deref(&self) -> &Layout {
        match self {
            LayoutRef::Kept(l) => l,
            LayoutRef::Fresh(l) => l,
        }
    }
}

/// The suites and held-out windows in batches for a model of context `max_len`.
struct Layout {
    max_len: usize,
    suites: Vec<Prepared>,
    heldout: HeldoutBatches,
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
        Ok(Observer { tokenizer, suites, heldout, cfg, layout: Default::default() })
    }

    /// The precision the observation's products run in on `device` (`auto` resolved).
    pub fn precision(&self, device: tch::Device) -> Result<mixagent_core::Precision, EvalError> {
        Ok(mixagent_lm::resolved_precision(self.cfg.precision, device)?)
    }

    /// Fingerprint of each field's suite (field, fingerprint), to record with the results.
    pub fn suite_fingerprints(&self) -> Vec<(String, String)> {
        self.suites.iter().map(|s| (s.field.clone(), s.fingerprint())).collect()
    }

    /// Scores `model`.
    pub fn observe(&self, model: &Llama, device: tch::Device) -> Result<Observation, EvalError> {
        let layout = self.layout_for(model)?;
        let matmul = mixagent_lm::matmul_kind(self.cfg.precision, device)?;
        let scorer =
            Scorer::new(model, &self.tokenizer, self.cfg.batch_size, device).with_matmul(matmul);
        let mut feedback = std::collections::BTreeMap::new();
        for (suite, prepared) in self.suites.iter().zip(layout.suites.iter()) {
            let score = feedback_score(suite, &scorer.score_prepared(prepared)?);
            feedback.insert(score.field, score.feedback);
        }
        let losses = layout.heldout.mean_losses(model, device, matmul)?;
        let domain_loss =
            self.heldout.iter().zip(losses).map(|(h, l)| (h.domain.clone(), l)).collect();
        Ok(Observation { feedback, domain_loss })
    }

    /// The log-probability of every answer token of every feedback item under `model`, by
    /// field (an item's likelihood feedback is the mean of its tokens'; a field's, the mean
    /// over its items). After its own prompt only: a pairing suite's other-prompt pairs are
    /// left out.
    pub fn token_logprobs(
        &self,
        model: &Llama,
        device: tch::Device,
    ) -> Result<std::collections::BTreeMap<String, Vec<Vec<f64>>>, EvalError> {
        let layout = self.layout_for(model)?;
        let matmul = mixagent_lm::matmul_kind(self.cfg.precision, device)?;
        let scorer =
            Scorer::new(model, &self.tokenizer, self.cfg.batch_size, device).with_matmul(matmul);
        self.suites
            .iter()
            .zip(layout.suites.iter())
            .map(|(suite, prepared)| {
                let mut items = scorer.token_logprobs(prepared)?;
                items.truncate(suite.items.len());
                Ok((suite.field.clone(), items))
            })
            .collect()
    }

    /// The batches for `model`'s context: laid out on the first call, again (not kept) for
    /// a model of another context.
    fn layout_for(&self, model: &Llama) -> Result<LayoutRef<'_>, EvalError> {
        let max_len = model.config().max_seq_len;
        Ok(match self.layout.get() {
            Some(l) if l.max_len == max_len => LayoutRef::Kept(l),
            Some(_) => LayoutRef::Fresh(self.lay_out(max_len)?),
            None => {
                let l = self.lay_out(max_len)?;
                LayoutRef::Kept(self.layout.get_or_init(|| l))
            }
        })
    }

    fn lay_out(&self, max_len: usize) -> Result<Layout, EvalError> {
        let batch = self.cfg.batch_size;
        let suites = self
            .suites
            .iter()
            .map(|s| Prepared::new(&self.tokenizer, max_len, &s.pairs(), batch))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens: Vec<&[u32]> = self.heldout.iter().map(|h| h.tokens.as_slice()).collect();
        let seq_len = self.cfg.heldout_seq_len.min(max_len);
        let heldout = HeldoutBatches::new(&tokens, seq_len, self.cfg.heldout_windows, batch);
        Ok(Layout { max_len, suites, heldout })
    }
}
