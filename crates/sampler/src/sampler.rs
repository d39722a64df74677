//! The sampler proper: row allocation by systematic sampling, window copy into a reused buffer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mixagent_core::seed::derive;
use mixagent_core::{DomainSpace, Mixture};
use mixagent_shard::{Manifest, Split, TokenOut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::windows::DomainWindows;
use crate::{DomainCursor, SamplerError, SamplerState, SAMPLER_STATE_VERSION};

/// Batch geometry, seed and the repeat-warning threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplerConfig {
    /// Rows per batch (B).
    pub batch_size: usize,
    /// Training tokens per row (T); each row holds T + 1 tokens.
    pub seq_len: usize,
    /// Root seed of the sampler's random streams.
    pub seed: u64,
    /// Warn when a domain starts a pass beyond this many epochs.
    pub max_epochs: u32,
    /// Per corpus domain, the most training tokens it is read from (its first ones, in shard
    /// order); a domain not named is read whole.
    pub token_caps: BTreeMap<String, u64>,
}

/// A prepared corpus folder and its manifest.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The corpus folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Corpus {
    /// Loads `dir/manifest.json`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, SamplerError> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::load(&dir)?;
        Ok(Corpus { dir, manifest })
    }
}

/// Draws `(B, T+1)` token windows from a corpus under a mixture over `space`, whose entries are
/// corpus domains (K-D) or whole fields (field-level: a field's domains are drawn in proportion
/// to their training tokens).
pub struct Sampler {
    cfg: SamplerConfig,
    space: Arc<DomainSpace>,
    fingerprint: String,
    domains: Vec<DomainWindows>,
    /// For each space entry, its corpus domains (indices into `domains`) and inner weights.
    members: Vec<Vec<(usize, f64)>>,
    cursors: Vec<DomainCursor>,
    step: u64,
    /// Reused per-step buffers: effective corpus-domain weights and each row's domain.
    effective: Vec<f64>,
    rows: Vec<u16>,
    plan: Vec<(usize, usize, usize)>,
}

impl Sampler {
    /// Opens the shards the space needs and starts at step 0.
    pub fn new(
        corpus: &Corpus,
        space: Arc<DomainSpace>,
        cfg: SamplerConfig,
    ) -> Result<Self, SamplerError> {
        if cfg.batch_size == 0 || cfg.seq_len == 0 {
            return Err(SamplerError::Config("batch_size and seq_len must be ≥ 1".into()));
        }
        let m = &corpus.manifest;
        if let Some(name) = cfg.token_caps.keys().find(|n| !m.domains.iter().any(|d| &d.name == *n))
        {
            return Err(SamplerError::UnknownCap {
                name: name.clone(),
                corpus: corpus.dir.display().to_string(),
                known: m.domains.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
        let mut domains: Vec<DomainWindows> = Vec::new();
        let mut members = Vec::with_capacity(space.len());
        for entry in space.domains() {
            let corpus_domains = m.entry_members(&entry.name).unwrap_or_default();
            if corpus_domains.is_empty() || corpus_domains.iter().any(|d| d.field != entry.field) {
                return Err(SamplerError::UnknownDomain {
                    name: entry.name.clone(),
                    corpus: corpus.dir.display().to_string(),
                    known: m.domains.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
                });
            }
            // The tokens a domain is read from: all of them, or its cap.
            let tokens = |d: &mixagent_shard::DomainEntry| {
                cfg.token_caps.get(&d.name).map_or(d.train.tokens, |&c| c.min(d.train.tokens))
                    as f64
            };
            let total: f64 = corpus_domains.iter().map(|d| tokens(d)).sum();
            let mut group = Vec::new();
            for d in corpus_domains {
                let idx = match domains.iter().position(|w| w.name == d.name) {
                    Some(i) => i,
                    None => {
                        let shards = m.open_shards(&corpus.dir, d, Split::Train)?;
                        let corpus_index =
                            m.domains.iter().position(|x| x.name == d.name).unwrap_or(0) as u64;
                        let cap = cfg.token_caps.get(&d.name).copied();
                        let w = DomainWindows::new(d.name.clone(), shards, corpus_index, cap);
                        if w.windows_at_offset_zero(cfg.seq_len + 1) == 0 {
                            return Err(SamplerError::EmptyDomain {
                                domain: d.name.clone(),
                                tokens: tokens(d) as u64,
                                window: cfg.seq_len + 1,
                            });
                        }
                        domains.push(w);
                        domains.len() - 1
                    }
                };
                group.push((idx, tokens(d) / total.max(1.0)));
            }
            members.push(group);
        }
        let cursors = domains
            .iter()
            .map(|d| DomainCursor {
                domain: d.name.clone(),
                epoch: 0,
                position: 0,
                windows: 0,
                tokens: 0,
            })
            .collect();
        Ok(Sampler {
            effective: vec![0.0; domains.len()],
            rows: vec![0; cfg.batch_size],
            plan: Vec::with_capacity(cfg.batch_size),
            fingerprint: m.tokenizer.fingerprint.clone(),
            cfg,
            space,
            domains,
            members,
            cursors,
            step: 0,
        })
    }

    /// Tokens in one batch buffer: `batch_size × (seq_len + 1)`.
    pub fn buffer_len(&self) -> usize {
        self.cfg.batch_size * (self.cfg.seq_len + 1)
    }

    /// The next step to be sampled.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The space mixtures must be over.
    pub fn space(&self) -> &Arc<DomainSpace> {
        &self.space
    }

    /// Names of the corpus domains drawn from, indexed by the ids in [`Sampler::row_domains`].
    pub fn corpus_domains(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().map(|d| d.name.as_str())
    }

    /// The corpus domain (index into [`Sampler::corpus_domains`]) of each row of the last batch.
    pub fn row_domains(&self) -> &[u16] {
        &self.rows
    }

    /// Per corpus domain accounting: epoch, position and tokens consumed.
    pub fn cursors(&self) -> &[DomainCursor] {
        &self.cursors
    }

    /// Corpus domains that have started a pass beyond `max_epochs` (the ones warned about).
    pub fn over_repeated(&self) -> impl Iterator<Item = &str> {
        self.cursors.iter().filter(|c| c.epoch >= self.cfg.max_epochs).map(|c| c.domain.as_str())
    }

    /// Fills `out` (row-major `(B, T+1)`) with the batch of the current step under `mixture`,
    /// then advances the step and the cursors of the domains drawn from.
    pub fn fill<T: TokenOut>(
        &mut self,
        mixture: &Mixture,
        out: &mut [T],
    ) -> Result<(), SamplerError> {
        mixture.check_space(&self.space)?;
        if out.len() != self.buffer_len() {
            return Err(SamplerError::BufferSize { expected: self.buffer_len(), got: out.len() });
        }
        self.allocate_rows(mixture);
        let (seq_len, window) = (self.cfg.seq_len, self.cfg.seq_len + 1);
        // Pass 1: advance the cursors and plan every row's (domain, shard, start).
        self.plan.clear();
        for &d in &self.rows {
            let d = d as usize;
            let cursor = &mut self.cursors[d];
            let windows = &mut self.domains[d];
            windows.ensure_epoch(self.cfg.seed, cursor.epoch, seq_len);
            if cursor.position >= windows.len() {
                cursor.epoch += 1;
                cursor.position = 0;
                windows.ensure_epoch(self.cfg.seed, cursor.epoch, seq_len);
                if cursor.epoch >= self.cfg.max_epochs {
                    tracing::warn!(
                        domain = %cursor.domain,
                        epoch = cursor.epoch + 1,
                        max_epochs = self.cfg.max_epochs,
                        "domain is being repeated beyond max_epochs; add data or lower its weight"
                    );
                }
            }
            let (shard, start) = windows.locate(cursor.position, seq_len);
            self.plan.push((d, shard, start));
            cursor.position += 1;
            cursor.windows += 1;
            cursor.tokens += seq_len as u64;
        }
        // Pass 2: copy, prefetching the next row's window (the only cache misses on this path).
        for (row, chunk) in out.chunks_exact_mut(window).enumerate() {
            if let Some(&(d, shard, start)) = self.plan.get(row + 1) {
                self.domains[d].shards[shard].prefetch(start, window);
            }
            let (d, shard, start) = self.plan[row];
            self.domains[d].shards[shard].copy_to(start, chunk);
        }
        self.step += 1;
        Ok(())
    }

    /// Systematic sampling of `batch_size` rows over the effective corpus-domain weights, then a
    /// seeded shuffle so rows of one domain are not contiguous (micro-batches stay mixed).
    fn allocate_rows(&mut self, mixture: &Mixture) {
        self.effective.iter_mut().for_each(|w| *w = 0.0);
        for (group, &w) in self.members.iter().zip(mixture.weights()) {
            for &(d, inner) in group {
                self.effective[d] += w * inner;
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(derive(self.cfg.seed, "sampler.rows", self.step));
        let b = self.cfg.batch_size as f64;
        let u: f64 = rng.gen();
        let (mut d, mut cum) = (0usize, self.effective[0]);
        for r in 0..self.cfg.batch_size {
            let point = (u + r as f64) / b;
            while point >= cum && d + 1 < self.effective.len() {
                d += 1;
                cum += self.effective[d];
            }
            self.rows[r] = d as u16;
        }
        // A domain of weight 0 can still be reached at the end of the scan only through
        // rounding; skip forward over zero-weight domains so it never is.
        for r in 0..self.cfg.batch_size {
            let mut d = self.rows[r] as usize;
            while self.effective[d] == 0.0 && d > 0 {
                d -= 1;
            }
            self.rows[r] = d as u16;
        }
        for i in (1..self.rows.len()).rev() {
            let j = rng.gen_range(0..=i);
            self.rows.swap(i, j);
        }
    }

    /// The state to save beside a checkpoint.
    pub fn state(&self) -> SamplerState {
        SamplerState {
            version: SAMPLER_STATE_VERSION,
            seed: self.cfg.seed,
            seq_len: self.cfg.seq_len,
            batch_size: self.cfg.batch_size,
            tokenizer_fingerprint: self.fingerprint.clone(),
            step: self.step,
            cursors: self.cursors.clone(),
        }
    }

    /// Continues from a saved state; it must come from a sampler with the same seed, geometry,
    /// corpus and domains.
    pub fn restore(&mut self, state: &SamplerState) -> Result<(), SamplerError> {
        let mismatch = |what: String| Err(SamplerError::StateMismatch(what));
        if state.version != SAMPLER_STATE_VERSION {
            return mismatch(format!(
                "state version {}, expected {SAMPLER_STATE_VERSION}",
                state.version
            ));
        }
        if state.seed != self.cfg.seed {
            return mismatch(format!(
                "seed {} in the state, {} in this run",
                state.seed, self.cfg.seed
            ));
        }
        if (state.seq_len, state.batch_size) != (self.cfg.seq_len, self.cfg.batch_size) {
            return mismatch(format!(
                "batch {}×{} in the state, {}×{} in this run",
                state.batch_size, state.seq_len, self.cfg.batch_size, self.cfg.seq_len
            ));
        }
        if state.tokenizer_fingerprint != self.fingerprint {
            return mismatch(format!(
                "tokenizer {} in the state, {} in this corpus: the corpus was re-prepared",
                state.tokenizer_fingerprint, self.fingerprint
            ));
        }
        let names: Vec<&str> = state.cursors.iter().map(|c| c.domain.as_str()).collect();
        let ours: Vec<&str> = self.corpus_domains().collect();
        if names != ours {
            return mismatch(format!(
                "domains [{}] in the state, [{}] in this run",
                names.join(", "),
                ours.join(", ")
            ));
        }
        self.cursors = state.cursors.clone();
        self.step = state.step;
        Ok(())
    }
}
