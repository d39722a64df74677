//! The training loop over a fixed schedule (one plain function, nanoGPT style): the
//! [`Session`] engine stepped through a [`Schedule`](mixagent_core::Schedule), metrics lines,
//! periodic atomic checkpoints with optimizer and sampler state, exact resume.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use mixagent_core::{Precision, Schedule, ScheduleSpec, SpaceSpec};
use mixagent_sampler::Corpus;
use mixagent_shard::write_atomic;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

pub use mixagent_core::Device;

use crate::{AdamWConfig, Llama, LmError, LrShape, ModelConfig, Session, Weights};

/// The tch device of `device`; CUDA must be available.
pub fn tch_device(device: Device) -> Result<tch::Device, LmError> {
    match device {
        Device::Cpu => Ok(tch::Device::Cpu),
        Device::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
        Device::Cuda => Err(LmError::Config(
            "--device cuda: libtorch sees no CUDA device (or this build lacks the CUDA libraries)"
                .into(),
        )),
    }
}

/// Optimisation and bookkeeping settings of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Rows per micro-batch.
    pub batch_size: usize,
    /// Tokens per row.
    pub seq_len: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Peak learning rate.
    pub peak_lr: f64,
    /// Final learning rate as a fraction of the peak.
    pub min_lr_ratio: f64,
    /// Warmup steps.
    pub warmup_steps: u64,
    /// Decay shape.
    pub lr_shape: LrShape,
    /// AdamW.
    pub adamw: AdamWConfig,
    /// Root seed (init, sampler).
    pub seed: u64,
    /// Checkpoint every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// Log a metrics line every this many steps.
    pub log_every: u64,
    /// Warn when a domain is repeated beyond this many epochs.
    pub max_epochs: u32,
    /// Per corpus domain, the most training tokens it is read from (its first ones): a small
    /// domain that repeats (DESIGN §10, principle 3). Empty: every domain whole.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub token_caps: BTreeMap<String, u64>,
    /// Precision of the training step's matrix products (`f32`, the default, is left out of
    /// saved configs).
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

impl TrainConfig {
    /// Defaults for the small CPU presets.
    pub fn small(batch_size: usize, seq_len: usize) -> Self {
        TrainConfig {
            batch_size,
            seq_len,
            grad_accum: 1,
            peak_lr: 3e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 20,
            lr_shape: LrShape::Cosine,
            adamw: AdamWConfig::default(),
            seed: 0,
            checkpoint_every: 200,
            log_every: 10,
            max_epochs: 4,
            token_caps: BTreeMap::new(),
            precision: Precision::F32,
        }
    }

    /// Tokens consumed per optimizer step.
    pub fn tokens_per_step(&self) -> u64 {
        (self.batch_size * self.seq_len * self.grad_accum) as u64
    }
}

/// Version of a training run's `run.json` (its [`RunSpec`] plus `format_version`).
pub const RUN_SPEC_VERSION: u32 = 1;

/// Everything that defines a run; saved as `run.json` in its folder with `format_version`
/// ([`RUN_SPEC_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Model shape.
    pub model: ModelConfig,
    /// Optimisation.
    pub train: TrainConfig,
    /// The prepared corpus folder.
    pub corpus: PathBuf,
    /// The space of the schedule.
    pub space: SpaceSpec,
    /// Stages: tokens and mixtures.
    pub schedule: ScheduleSpec,
    /// Start from this checkpoint's weights (CPT); from scratch if absent.
    pub init: Option<PathBuf>,
    /// Device.
    pub device: Device,
}

/// What the loop reports after every step.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Steps done.
    pub step: u64,
    /// Steps in the run.
    pub total_steps: u64,
    /// Tokens consumed.
    pub tokens_seen: u64,
    /// Training loss of the step (mean over its tokens).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Stage index.
    pub stage: usize,
    /// Per corpus domain mean loss since the previous metrics line (only on logging steps).
    pub domain_losses: Option<Vec<(String, f64)>>,
}

/// Summary of a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Steps trained in this call (0 if the run was already complete).
    pub steps_run: u64,
    /// The final checkpoint.
    pub checkpoint: PathBuf,
    /// Losses of the steps trained in this call.
    pub losses: Vec<f64>,
    /// Whether `on_step` stopped the run early.
    pub interrupted: bool,
}

#[derive(Serialize, Deserialize)]
struct MetricsLine {
    step: u64,
    tokens: u64,
    stage: usize,
    lr: f64,
    loss: f64,
    domain_loss: std::collections::BTreeMap<String, f64>,
}

/// Trains (or resumes) the run `spec` in folder `out`, calling `on_step` after every step;
/// `on_step` returning `false` stops at once without a checkpoint (as a crash would). A folder
/// holding another run is an error; one holding this run resumes from its latest checkpoint,
/// with results identical to an uninterrupted run. A driver over [`Session`]: the schedule
/// picks each step's mixture.
pub fn train(
    spec: &RunSpec,
    out: &Path,
    mut on_step: impl FnMut(&StepReport) -> bool,
) -> Result<TrainSummary, LmError> {
    let corpus = Corpus::open(&spec.corpus)?;
    let space = spec.space.resolve(&corpus.manifest.domain_space()?)?;
    let schedule = Schedule::from_spec(space.clone(), &spec.schedule)?;
    prepare_run_dir(out, spec)?;
    let tps = spec.train.tokens_per_step();
    let total_steps = schedule.total_tokens().div_ceil(tps);
    let ckpt_root = out.join("checkpoints");
    let latest = std::fs::read_to_string(ckpt_root.join("latest"))
        .ok()
        .map(|name| ckpt_root.join(name.trim()));
    // A resumed run takes its weights from its own checkpoint, not from `init`.
    let init = if latest.is_some() { None } else { spec.init.as_deref() };
    let weights = match init {
        Some(init) => Weights::Load(&spec.model, init),
        None => Weights::Fresh(&spec.model),
    };
    let mut session =
        Session::new(weights, &corpus, space, spec.train.clone(), total_steps, spec.device)?;
    let mut last_good = "none".to_string();
    if let Some(dir) = &latest {
        session.resume(dir)?;
        last_good = dir.display().to_string();
        truncate_metrics(&out.join("metrics.jsonl"), session.step())?;
        tracing::info!(step = session.step(), checkpoint = %dir.display(), "resuming");
    }
    let start_step = session.step();
    let mut losses = Vec::new();
    let metrics_path = out.join("metrics.jsonl");
    let mut metrics = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .map_err(|e| LmError::io(&metrics_path, e))?;

    for step in start_step..total_steps {
        let stage = schedule.stage_index_at(step * tps);
        let done_step =
            session.train_step(&schedule.stages()[stage].mixture).map_err(|e| match e {
                LmError::NonFiniteLoss { step, loss, .. } => {
                    LmError::NonFiniteLoss { step, loss, last_good: last_good.clone() }
                }
                other => other,
            })?;
        losses.push(done_step.loss);
        let done = step + 1;
        let log_now = done % spec.train.log_every == 0 || done == total_steps;
        let domain_losses = log_now.then(|| {
            let stats = session.take_domain_stats();
            stats.into_iter().map(|d| (d.name, d.mean_loss)).collect::<Vec<_>>()
        });
        if let Some(dl) = &domain_losses {
            let line = MetricsLine {
                step: done,
                tokens: done * tps,
                stage,
                lr: done_step.lr,
                loss: done_step.loss,
                domain_loss: dl.iter().cloned().collect(),
            };
            let mut text = serde_json::to_string(&line).expect("json");
            text.push('\n');
            metrics.write_all(text.as_bytes()).map_err(|e| LmError::io(&metrics_path, e))?;
        }
        let report = StepReport {
            step: done,
            total_steps,
            tokens_seen: done * tps,
            loss: done_step.loss,
            lr: done_step.lr,
            stage,
            domain_losses,
        };
        if !on_step(&report) {
            return Ok(TrainSummary {
                steps_run: done - start_step,
                checkpoint: PathBuf::from(last_good),
                losses,
                interrupted: true,
            });
        }
        if done % spec.train.checkpoint_every == 0 || done == total_steps {
            metrics.flush().map_err(|e| LmError::io(&metrics_path, e))?;
            metrics.sync_all().map_err(|e| LmError::io(&metrics_path, e))?;
            last_good = checkpoint(&ckpt_root, &session, done)?;
        }
    }
    let checkpoint = crate::resolve_checkpoint(out)?;
    Ok(TrainSummary {
        steps_run: total_steps.saturating_sub(start_step),
        checkpoint,
        losses,
        interrupted: false,
    })
}

/// Forward and backward of one micro-batch `(B, T+1)` with the matrix products in `matmul`
/// ([`crate::matmul_kind`]); gradients are scaled by `1/accum` so they sum to the
/// step's mean. Returns each row's mean loss.
pub fn micro_step(
    model: &Llama,
    window: &Tensor,
    accum: usize,
    matmul: Kind,
) -> Result<Vec<f32>, LmError> {
    let row_loss = model.token_losses_in(window, matmul).mean_dim(1, false, Kind::Float); // (B)
    let loss = row_loss.mean(Kind::Float) / accum as f64;
    loss.backward();
    Ok(Vec::try_from(row_loss.detach().to_device(tch::Device::Cpu))?)
}

/// Writes `checkpoints/step-NNNNNNN`, points `checkpoints/latest` at it, removes older ones.
fn checkpoint(root: &Path, session: &Session, step: u64) -> Result<String, LmError> {
    std::fs::create_dir_all(root).map_err(|e| LmError::io(root, e))?;
    let name = format!("step-{step:07}");
    let dir = root.join(&name);
    session.save(&dir, &[])?;
    write_atomic(root.join("latest"), name.as_bytes())?;
    for entry in std::fs::read_dir(root).map_err(|e| LmError::io(root, e))?.flatten() {
        let n = entry.file_name().to_string_lossy().into_owned();
        if n.starts_with("step-") && n != name {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(dir.display().to_string())
}

impl RunSpec {
    /// Reads a training run's `run.json`, refusing another format version with the fix.
    pub fn read(path: &Path) -> Result<Self, LmError> {
        let text = std::fs::read_to_string(path).map_err(|e| LmError::io(path, e))?;
        let bad = |m: String| LmError::checkpoint(path, m);
        let mut value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{e}; not a mixagent run folder, or truncated")))?;
        let version = value.as_object_mut().and_then(|o| o.remove("format_version"));
        if version.as_ref().and_then(|v| v.as_u64()) != Some(u64::from(RUN_SPEC_VERSION)) {
            return Err(bad(format!(
                "run format {}, expected {RUN_SPEC_VERSION}: written by another mixagent; train into a new folder (--out) or delete this one",
                version.map_or("missing".to_string(), |v| v.to_string())
            )));
        }
        serde_json::from_value(value).map_err(|e| bad(format!("{e}; not a mixagent training run")))
    }
}

/// Creates `out` with `run.json`, or checks that an existing `run.json` is this run.
fn prepare_run_dir(out: &Path, spec: &RunSpec) -> Result<(), LmError> {
    let path = out.join("run.json");
    if path.exists() {
        if &RunSpec::read(&path)? != spec {
            return Err(LmError::checkpoint(
                out,
                "holds a different run (its run.json differs from this command's settings): choose another --out, or delete the folder",
            ));
        }
        return Ok(());
    }
    std::fs::create_dir_all(out).map_err(|e| LmError::io(out, e))?;
    let mut value = serde_json::to_value(spec).expect("json");
    value
        .as_object_mut()
        .expect("an object")
        .insert("format_version".into(), RUN_SPEC_VERSION.into());
    Ok(write_atomic(&path, &serde_json::to_vec_pretty(&value).expect("json"))?)
}

/// Drops metrics lines past `step` (written after the checkpoint a resume starts from).
fn truncate_metrics(path: &Path, step: u64) -> Result<(), LmError> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let kept: String = text
        .lines()
        .filter(|l| serde_json::from_str::<MetricsLine>(l).is_ok_and(|m| m.step <= step))
        .flat_map(|l| [l, "\n"])
        .collect();
    Ok(write_atomic(path, kept.as_bytes())?)
}
