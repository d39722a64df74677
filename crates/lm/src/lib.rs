//! LLaMA-style language models on libtorch (`tch`): the model, AdamW, learning-rate schedules,
//! the stage-by-stage trainer and safetensors checkpoints (DESIGN §3, §6).

mod alloc;
mod batched;
mod checkpoint;
mod config;
mod error;
mod lr;
mod model;
mod optim;
mod precision;
mod session;
mod trainer;

pub use alloc::tune_allocator;
pub use batched::train_stage_batched;
pub use checkpoint::{
    load_checkpoint, read_model_config, resolve_checkpoint, save_checkpoint, CheckpointTokenizer,
    LoadedCheckpoint, TokenizerFiles,
};
pub use config::{ModelConfig, PRESETS};
pub use error::LmError;
pub use lr::{LrSchedule, LrShape};
pub use mixagent_core::Precision;
pub use mixagent_core::SpaceSpec;
pub use model::{with_seed, Llama};
pub use optim::{AdamW, AdamWConfig, AdamWState, ParamLayout};
pub use precision::{cpu_has_bf16, matmul_kind, precision_of, resolved_precision};
pub use session::{DomainStats, Session, StageStats, StepOut, Weights, TRAINER_STATE_VERSION};
pub use trainer::{
    micro_step, tch_device, train, Device, RunSpec, StepReport, TrainConfig, TrainSummary,
    RUN_SPEC_VERSION,
};
