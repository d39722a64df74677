//! The training engine: a model, its optimizer, the sampler and the learning-rate schedule,
//! stepped one optimizer step at a time under whatever mixture the caller gives. [`train`]
//! (crate::train) drives it through a fixed schedule; rollouts and policy-steered CPT drive it
//! stage by stage, choosing each stage's mixture after seeing the model. The whole state saves
//! to one checkpoint folder (`trainer.json` beside the tensors) and resumes exactly.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use mixagent_core::{seed::derive, DomainSpace, Mixture};
use mixagent_sampler::{Corpus, Sampler, SamplerConfig, SamplerState};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

use crate::checkpoint::read_tensors;
use crate::{
    load_checkpoint, micro_step, read_model_config, save_checkpoint, AdamW, CheckpointTokenizer,
    Device, Llama, LmError, LrSchedule, ModelConfig, TokenizerFiles, TrainConfig,
};

/// Version of `trainer.json`, the training state of a checkpoint (2: one state for every
/// training run; version 1 had two, `trainer.json` and `session.json`).
pub const TRAINER_STATE_VERSION: u32 = 2;

/// `trainer.json` in a checkpoint: everything besides the tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainerState {
    format_version: u32,
    step: u64,
    tokenizer_fingerprint: String,
    train: TrainConfig,
    lr: LrSchedule,
    sampler: SamplerState,
    optimizer_step: u64,
    optimizer_layout: Vec<(String, i64, i64)>,
}

/// What one stage did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    /// Optimizer steps.
    pub steps: u64,
    /// Training tokens (targets) consumed.
    pub tokens: u64,
    /// Training tokens per corpus domain (domains not drawn from are left out).
    pub tokens_by_domain: BTreeMap<String, u64>,
    /// Mean training loss over the stage's steps.
    pub train_loss: f64,
    /// Wall time of the stage's training.
    pub train_secs: f64,
}

/// One optimizer step's loss and learning rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOut {
    /// Mean training loss over the step's tokens.
    pub loss: f64,
    /// The learning rate used.
    pub lr: f64,
}

/// Rows trained on per corpus domain, and their mean loss, since the last
/// [`Session::take_domain_stats`].
#[derive(Debug, Clone, PartialEq)]
pub struct DomainStats {
    /// The corpus domain.
    pub name: String,
    /// Rows (sequences) drawn from it.
    pub rows: u64,
    /// Their mean training loss.
    pub mean_loss: f64,
}

/// Where a [`Session`]'s weights come from.
#[derive(Debug, Clone, Copy)]
pub enum Weights<'a> {
    /// Fresh weights of this shape, drawn from the training seed.
    Fresh(&'a ModelConfig),
    /// The weights of a checkpoint or run folder of this shape, trained on the corpus's
    /// tokenizer.
    Load(&'a ModelConfig, &'a Path),
    /// The weights of a checkpoint or run folder, in its own shape (the base of a CPT).
    Base(&'a Path),
}

/// A model in training: the engine of pretraining, scheduled CPT, rollouts and steered CPT.
pub struct Session {
    pub(crate) vs: VarStore,
    model: Llama,
    pub(crate) opt: AdamW,
    pub(crate) sampler: Sampler,
    pub(crate) train: TrainConfig,
    pub(crate) lr: LrSchedule,
    /// The corpus's tokenizer, saved into every checkpoint (Hugging Face loads it from there).
    tokenizer: CheckpointTokenizer,
    pub(crate) device: tch::Device,
    /// Kind of the training step's matrix products (`train.precision` on this device).
    pub(crate) matmul: tch::Kind,
    pub(crate) buf: Vec<i64>,
    names: Vec<String>,
    pub(crate) step: u64,
    /// Per corpus domain since the last `take_domain_stats`: rows and summed row losses.
    domain_rows: Vec<u64>,
    domain_loss: Vec<f64>,
}

impl Session {
    /// A session over `space` from `weights`, with a learning-rate schedule spanning
    /// `total_steps` optimizer steps. The sampler's seed is derived from `train.seed`, so
    /// sessions with different seeds see different batches.
    pub fn new(
        weights: Weights<'_>,
        corpus: &Corpus,
        space: Arc<DomainSpace>,
        train: TrainConfig,
        total_steps: u64,
        device: Device,
    ) -> Result<Self, LmError> {
        let (model, init) = match weights {
            Weights::Fresh(model) => (model.clone(), None),
            Weights::Load(model, init) => (model.clone(), Some(init)),
            Weights::Base(base) => (read_model_config(base)?.0, Some(base)),
        };
        let model = &model;
        let device = crate::tch_device(device)?;
        let matmul = crate::matmul_kind(train.precision, device)?;
        model.validate()?;
        let fingerprint = corpus.manifest.tokenizer.fingerprint.clone();
        if corpus.manifest.tokenizer.vocab_size as usize != model.vocab_size {
            return Err(LmError::Config(format!(
                "model vocab {} differs from the corpus tokenizer's {}",
                model.vocab_size, corpus.manifest.tokenizer.vocab_size
            )));
        }
        if train.seq_len > model.max_seq_len {
            return Err(LmError::Config(format!(
                "seq_len {} exceeds the model's max_seq_len {}",
                train.seq_len, model.max_seq_len
            )));
        }
        let tokenizer_file = corpus.dir.join(&corpus.manifest.tokenizer.file);
        let tokenizer = CheckpointTokenizer {
            fingerprint: fingerprint.clone(),
            eos_id: corpus.manifest.tokenizer.eos_id,
            // Synthetic test corpora carry no tokenizer file; their checkpoints then have none.
            files: match std::fs::read(&tokenizer_file) {
                Ok(bytes) => Some(
                    TokenizerFiles::new(bytes, corpus.manifest.tokenizer.eos_id)
                        .map_err(|m| LmError::checkpoint(&tokenizer_file, m))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(LmError::io(&tokenizer_file, e)),
            },
        };
        let vs = VarStore::new(device);
        // Fresh weights from the run's seed; loaded ones overwrite whatever is drawn.
        let seed = if init.is_some() { 0 } else { derive(train.seed, "lm.init", 0) };
        let llama = crate::with_seed(seed, || Llama::new(&vs.root(), model));
        if let Some(init) = init {
            let loaded = load_checkpoint(init, &llama)?;
            if loaded.tokenizer_fingerprint != fingerprint {
                return Err(LmError::checkpoint(
                    &loaded.dir,
                    format!(
                        "trained with tokenizer {}, but the corpus {} uses {fingerprint}: continue on the corpus the base was trained on",
                        loaded.tokenizer_fingerprint,
                        corpus.dir.display(),
                    ),
                ));
            }
        }
        let sampler = Sampler::new(
            corpus,
            space,
            SamplerConfig {
                batch_size: train.batch_size,
                seq_len: train.seq_len,
                seed: derive(train.seed, "lm.sampler", 0),
                max_epochs: train.max_epochs,
                token_caps: train.token_caps.clone(),
            },
        )?;
        let opt = AdamW::new(vs.variables().into_iter().collect(), train.adamw.clone());
        let lr = LrSchedule {
            peak: train.peak_lr,
            min_ratio: train.min_lr_ratio,
            warmup_steps: train.warmup_steps.min(total_steps / 2),
            total_steps,
            shape: train.lr_shape,
        };
        let names: Vec<String> = sampler.corpus_domains().map(str::to_string).collect();
        Ok(Session {
            buf: vec![0; sampler.buffer_len()],
            vs,
            model: llama,
            opt,
            sampler,
            train,
            lr,
            tokenizer,
            device,
            matmul,
            domain_rows: vec![0; names.len()],
            domain_loss: vec![0.0; names.len()],
            names,
            step: 0,
        })
    }

    /// The model being trained.
    pub fn model(&self) -> &Llama {
        &self.model
    }

    /// The tch device.
    pub fn device(&self) -> tch::Device {
        self.device
    }

    /// The precision the training products run in (`auto` resolved for this device).
    pub fn precision(&self) -> mixagent_core::Precision {
        crate::precision_of(self.matmul)
    }

    /// Optimizer steps done.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Tokens per optimizer step.
    pub fn tokens_per_step(&self) -> u64 {
        self.train.tokens_per_step()
    }

    /// The space mixtures must be over.
    pub fn space(&self) -> &Arc<DomainSpace> {
        self.sampler.space()
    }

    /// One optimizer step on batches drawn by `mixture`. A non-finite loss stops before the
    /// update.
    pub fn train_step(&mut self, mixture: &Mixture) -> Result<StepOut, LmError> {
        mixture.check_space(self.sampler.space()).map_err(|e| LmError::Config(e.to_string()))?;
        let (b, t1) = (self.train.batch_size as i64, self.train.seq_len as i64 + 1);
        let accum = self.train.grad_accum;
        let mut loss = 0.0;
        for _ in 0..accum {
            self.sampler.fill(mixture, &mut self.buf)?;
            let window = Tensor::from_slice(&self.buf).view([b, t1]).to_device(self.device);
            let rows = micro_step(&self.model, &window, accum, self.matmul)?;
            self.count_rows(&rows);
            loss += rows.iter().map(|&x| f64::from(x)).sum::<f64>() / rows.len() as f64;
        }
        let loss = loss / accum as f64;
        if !loss.is_finite() {
            return Err(LmError::NonFiniteLoss {
                step: self.step,
                loss,
                last_good: "the last checkpoint".into(),
            });
        }
        let lr = self.lr.at(self.step);
        let _grad_norm = self.opt.step(lr);
        self.opt.zero_grad();
        self.step += 1;
        Ok(StepOut { loss, lr })
    }

    /// Counts the rows of the batch the sampler drew last, with their losses, by domain.
    pub(crate) fn count_rows(&mut self, rows: &[f32]) {
        for (&l, &d) in rows.iter().zip(self.sampler.row_domains()) {
            self.domain_loss[d as usize] += f64::from(l);
            self.domain_rows[d as usize] += 1;
        }
    }

    /// The stage's statistics after `steps` steps with summed loss `loss_sum` since the
    /// domain counts were last taken, and its wall time.
    pub(crate) fn stage_stats(&mut self, steps: u64, loss_sum: f64, secs: f64) -> StageStats {
        let seq = self.train.seq_len as u64;
        StageStats {
            steps,
            tokens: steps * self.tokens_per_step(),
            tokens_by_domain: self
                .take_domain_stats()
                .into_iter()
                .map(|d| (d.name, d.rows * seq))
                .collect(),
            train_loss: loss_sum / steps.max(1) as f64,
            train_secs: secs,
        }
    }

    /// The corpus domains trained on since the last call (or the start), with their rows and
    /// mean loss; the counts restart.
    pub fn take_domain_stats(&mut self) -> Vec<DomainStats> {
        let out = self
            .names
            .iter()
            .zip(self.domain_rows.iter().zip(&self.domain_loss))
            .filter(|(_, (&n, _))| n > 0)
            .map(|(name, (&rows, &sum))| DomainStats {
                name: name.clone(),
                rows,
                mean_loss: sum / rows as f64,
            })
            .collect();
        self.domain_rows.iter_mut().for_each(|n| *n = 0);
        self.domain_loss.iter_mut().for_each(|s| *s = 0.0);
        out
    }

    /// Trains `steps` optimizer steps on batches drawn by `mixture`.
    pub fn train_stage(&mut self, mixture: &Mixture, steps: u64) -> Result<StageStats, LmError> {
        let start = Instant::now();
        self.take_domain_stats();
        let mut loss_sum = 0.0;
        for _ in 0..steps {
            loss_sum += self.train_step(mixture)?.loss;
        }
        Ok(self.stage_stats(steps, loss_sum, start.elapsed().as_secs_f64()))
    }

    /// Writes the whole state (weights, optimizer, sampler cursors, step) and `extra` files
    /// into checkpoint folder `dir`, atomically.
    pub fn save(&self, dir: &Path, extra: &[(&str, &[u8])]) -> Result<(), LmError> {
        let opt = self.opt.state();
        let state = TrainerState {
            format_version: TRAINER_STATE_VERSION,
            step: self.step,
            tokenizer_fingerprint: self.tokenizer.fingerprint.clone(),
            train: self.train.clone(),
            lr: self.lr.clone(),
            sampler: self.sampler.state(),
            optimizer_step: opt.step,
            optimizer_layout: opt.layout,
        };
        let json = serde_json::to_vec_pretty(&state).expect("json");
        let mut files: Vec<(&str, &[u8])> = vec![("trainer.json", &json)];
        files.extend_from_slice(extra);
        save_checkpoint(dir, &self.model, &self.tokenizer, Some(&self.opt), &files)
    }

    /// Restores the state saved by [`Session::save`] into this session, which must have been
    /// built with the same settings.
    pub fn resume(&mut self, dir: &Path) -> Result<(), LmError> {
        let path = dir.join("trainer.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            LmError::checkpoint(
                dir,
                format!("{e}: no trainer.json, so not a resumable checkpoint (or one written before format {TRAINER_STATE_VERSION}): start the run afresh in a new folder"),
            )
        })?;
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("format_version").and_then(|v| v.as_u64()));
        if version != Some(u64::from(TRAINER_STATE_VERSION)) {
            return Err(LmError::checkpoint(
                &path,
                format!(
                    "training state format {}, expected {TRAINER_STATE_VERSION}: written by another mixagent; start the run afresh in a new folder",
                    version.map_or("missing".into(), |v| v.to_string())
                ),
            ));
        }
        let state: TrainerState = serde_json::from_str(&text).map_err(|e| {
            LmError::checkpoint(&path, format!("{e}; not a mixagent training state"))
        })?;
        if state.train != self.train || state.lr != self.lr {
            return Err(LmError::checkpoint(
                dir,
                "was saved by a session with other training settings: start it afresh (delete the folder)",
            ));
        }
        load_checkpoint(dir, &self.model)?;
        let opt = read_tensors(&dir.join("optimizer.safetensors"))?;
        self.opt
            .restore(&opt, state.optimizer_step, &state.optimizer_layout)
            .map_err(|m| LmError::checkpoint(dir, m))?;
        self.sampler.restore(&state.sampler)?;
        self.step = state.step;
        Ok(())
    }
}
