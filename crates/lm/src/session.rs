//! A continual pre-training session steered stage by stage: the caller chooses each stage's
//! mixture after seeing the model (trajectory rollouts, policy-steered CPT). Optimizer, sampler
//! cursors and the learning-rate schedule carry over between stages, and the whole state saves
//! to one checkpoint folder and resumes exactly.

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
    load_checkpoint, micro_step, read_model_config, save_checkpoint, AdamW, Device, Llama, LmError,
    LrSchedule, TrainConfig,
};

/// Version of `session.json`.
pub const SESSION_VERSION: u32 = 1;

/// `session.json` in a session checkpoint: everything besides the tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionState {
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

/// A model under continual pre-training, one stage at a time.
pub struct Session {
    _vs: VarStore,
    model: Llama,
    opt: AdamW,
    sampler: Sampler,
    train: TrainConfig,
    lr: LrSchedule,
    fingerprint: String,
    device: tch::Device,
    buf: Vec<i64>,
    names: Vec<String>,
    step: u64,
}

impl Session {
    /// Starts from the weights of `base` (a checkpoint or run folder), over `space`, with a
    /// learning-rate schedule spanning `total_steps` optimizer steps. The sampler's seed is
    /// derived from `train.seed`, so sessions with different seeds see different batches.
    pub fn new(
        base: &Path,
        corpus: &Corpus,
        space: Arc<DomainSpace>,
        train: TrainConfig,
        total_steps: u64,
        device: Device,
    ) -> Result<Self, LmError> {
        let device = crate::tch_device(device)?;
        let (model_cfg, fingerprint) = read_model_config(base)?;
        if fingerprint != corpus.manifest.tokenizer.fingerprint {
            return Err(LmError::checkpoint(
                base,
                format!(
                    "trained with tokenizer {fingerprint}, but the corpus {} uses {}: continue on the corpus the base was trained on",
                    corpus.dir.display(),
                    corpus.manifest.tokenizer.fingerprint
                ),
            ));
        }
        if train.seq_len > model_cfg.max_seq_len {
            return Err(LmError::Config(format!(
                "seq_len {} exceeds the model's max_seq_len {}",
                train.seq_len, model_cfg.max_seq_len
            )));
        }
        let vs = VarStore::new(device);
        let model = crate::with_seed(0, || Llama::new(&vs.root(), &model_cfg));
        load_checkpoint(base, &model)?;
        let sampler = Sampler::new(
            corpus,
            space,
            SamplerConfig {
                batch_size: train.batch_size,
                seq_len: train.seq_len,
                seed: derive(train.seed, "lm.sampler", 0),
                max_epochs: train.max_epochs,
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
        let names = sampler.corpus_domains().map(str::to_string).collect();
        Ok(Session {
            buf: vec![0; sampler.buffer_len()],
            _vs: vs,
            model,
            opt,
            sampler,
            train,
            lr,
            fingerprint,
            device,
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

    /// Trains `steps` optimizer steps on batches drawn by `mixture`.
    pub fn train_stage(&mut self, mixture: &Mixture, steps: u64) -> Result<StageStats, LmError> {
        mixture.check_space(self.sampler.space()).map_err(|e| LmError::Config(e.to_string()))?;
        let start = Instant::now();
        let (b, t1) = (self.train.batch_size as i64, self.train.seq_len as i64 + 1);
        let accum = self.train.grad_accum;
        let mut rows_by_domain = vec![0u64; self.names.len()];
        let mut loss_sum = 0.0;
        for _ in 0..steps {
            let mut step_loss = 0.0;
            for _ in 0..accum {
                self.sampler.fill(mixture, &mut self.buf)?;
                let window = Tensor::from_slice(&self.buf).view([b, t1]).to_device(self.device);
                let rows = micro_step(&self.model, &window, accum)?;
                for &d in self.sampler.row_domains() {
                    rows_by_domain[d as usize] += 1;
                }
                step_loss += rows.iter().map(|&x| f64::from(x)).sum::<f64>() / rows.len() as f64;
            }
            let step_loss = step_loss / accum as f64;
            if !step_loss.is_finite() {
                return Err(LmError::NonFiniteLoss {
                    step: self.step,
                    loss: step_loss,
                    last_good: "the last stage checkpoint".into(),
                });
            }
            let _grad_norm = self.opt.step(self.lr.at(self.step));
            self.opt.zero_grad();
            self.step += 1;
            loss_sum += step_loss;
        }
        let seq = self.train.seq_len as u64;
        Ok(StageStats {
            steps,
            tokens: steps * self.tokens_per_step(),
            tokens_by_domain: self
                .names
                .iter()
                .zip(&rows_by_domain)
                .filter(|(_, &n)| n > 0)
                .map(|(name, &n)| (name.clone(), n * seq))
                .collect(),
            train_loss: loss_sum / steps.max(1) as f64,
            train_secs: start.elapsed().as_secs_f64(),
        })
    }

    /// Writes the whole state (weights, optimizer, sampler cursors, step) and `extra` files
    /// into checkpoint folder `dir`, atomically.
    pub fn save(&self, dir: &Path, extra: &[(&str, &[u8])]) -> Result<(), LmError> {
        let opt = self.opt.state();
        let state = SessionState {
            format_version: SESSION_VERSION,
            step: self.step,
            tokenizer_fingerprint: self.fingerprint.clone(),
            train: self.train.clone(),
            lr: self.lr.clone(),
            sampler: self.sampler.state(),
            optimizer_step: opt.step,
            optimizer_layout: opt.layout,
        };
        let json = serde_json::to_vec_pretty(&state).expect("json");
        let mut files: Vec<(&str, &[u8])> = vec![("session.json", &json)];
        files.extend_from_slice(extra);
        save_checkpoint(dir, &self.model, &self.fingerprint, Some(&self.opt), None, &files)
    }

    /// Restores the state saved by [`Session::save`] into this session, which must have been
    /// built with the same settings.
    pub fn resume(&mut self, dir: &Path) -> Result<(), LmError> {
        let path = dir.join("session.json");
        let text = std::fs::read_to_string(&path).map_err(|e| LmError::io(&path, e))?;
        let state: SessionState = serde_json::from_str(&text).map_err(|e| {
            LmError::checkpoint(&path, format!("{e}; not a mixagent session checkpoint"))
        })?;
        if state.format_version != SESSION_VERSION {
            return Err(LmError::checkpoint(
                &path,
                format!("format version {}, expected {SESSION_VERSION}", state.format_version),
            ));
        }
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
