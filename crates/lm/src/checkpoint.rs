//! Checkpoints: a folder with `model.safetensors` (Hugging Face LLaMA tensor names),
//! `config.json` (a Hugging Face `LlamaConfig` with the tokenizer's special token ids, plus a
//! `mixagent` block), the corpus's `tokenizer.json` with a `tokenizer_config.json` (so
//! `AutoTokenizer.from_pretrained` and `AutoModelForCausalLM.from_pretrained` load the folder
//! alone; tested with transformers in `crates/cli/tests/interop.rs`), and for resumable
//! training `optimizer.safetensors` and `trainer.json` (the session's state, `session.rs`). Written into `<dir>.tmp` and renamed,
//! so a checkpoint folder is always complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mixagent_shard::write_atomic;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::{AdamW, Llama, LmError, ModelConfig};

/// Version of the checkpoint layout.
pub const CHECKPOINT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct HfConfig {
    architectures: Vec<String>,
    model_type: String,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: usize,
    max_position_embeddings: usize,
    rms_norm_eps: f64,
    rope_theta: f64,
    tie_word_embeddings: bool,
    hidden_act: String,
    /// Hugging Face's generation and padding read these; without them it falls back to
    /// LLaMA's defaults (eos = 2), which are other tokens here.
    #[serde(default)]
    bos_token_id: Option<u32>,
    #[serde(default)]
    eos_token_id: Option<u32>,
    #[serde(default)]
    pad_token_id: Option<u32>,
    /// `dtype` since transformers 4.56 (`torch_dtype`, which checkpoints before it carry, is
    /// deprecated there).
    #[serde(alias = "torch_dtype")]
    dtype: String,
    mixagent: MixagentBlock,
}

/// The tokenizer a checkpoint is trained with. Its files, when given, are saved into the
/// folder, so `AutoTokenizer.from_pretrained` loads it from the checkpoint alone.
#[derive(Debug, Clone)]
pub struct CheckpointTokenizer {
    /// The corpus tokenizer's fingerprint (checked when the checkpoint is loaded).
    pub fingerprint: String,
    /// The id of `<|endoftext|>`: the beginning, end and padding token.
    pub eos_id: u32,
    /// Its `tokenizer.json` and the text of its end-of-text token.
    pub files: Option<TokenizerFiles>,
}

/// A `tokenizer.json` and the text of its end-of-text token, read once per run.
#[derive(Debug, Clone)]
pub struct TokenizerFiles {
    json: Vec<u8>,
    eos_token: String,
}

impl TokenizerFiles {
    /// The files of tokenizer `json` (its bytes) whose end-of-text token has id `eos_id`.
    pub fn new(json: Vec<u8>, eos_id: u32) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_slice(&json).map_err(|e| format!("not a tokenizer.json: {e}"))?;
        let eos_token = v["added_tokens"]
            .as_array()
            .and_then(|tokens| tokens.iter().find(|t| t["id"].as_u64() == Some(u64::from(eos_id))))
            .and_then(|t| t["content"].as_str())
            .ok_or_else(|| format!("no added token with id {eos_id}, the end-of-text token"))?
            .to_string();
        Ok(TokenizerFiles { json, eos_token })
    }
}

#[derive(Serialize, Deserialize)]
struct MixagentBlock {
    format_version: u32,
    model: ModelConfig,
    tokenizer_fingerprint: String,
}

/// A loaded checkpoint's description (weights are copied into a `VarStore` separately).
pub struct LoadedCheckpoint {
    /// The checkpoint folder.
    pub dir: PathBuf,
    /// Model shape.
    pub model: ModelConfig,
    /// Tokenizer fingerprint the model was trained with.
    pub tokenizer_fingerprint: String,
}

/// Writes a checkpoint folder atomically: the weights and config, the optimizer state when
/// `opt` is given, and any `extra` (file name, bytes) files, all in one rename.
pub fn save_checkpoint(
    dir: &Path,
    llama: &Llama,
    tokenizer: &CheckpointTokenizer,
    opt: Option<&AdamW>,
    extra: &[(&str, &[u8])],
) -> Result<(), LmError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.with_file_name(format!("{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| LmError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| LmError::io(&tmp, e))?;
    let model = llama.config();
    write_tensors(&tmp.join("model.safetensors"), &llama.hf_tensors())?;
    let hf = HfConfig {
        architectures: vec!["LlamaForCausalLM".into()],
        model_type: "llama".into(),
        vocab_size: model.vocab_size,
        hidden_size: model.d_model,
        intermediate_size: model.d_ff,
        num_hidden_layers: model.n_layers,
        num_attention_heads: model.n_heads,
        num_key_value_heads: model.n_kv_heads,
        max_position_embeddings: model.max_seq_len,
        rms_norm_eps: model.norm_eps,
        rope_theta: model.rope_theta,
        tie_word_embeddings: model.tie_embeddings,
        hidden_act: "silu".into(),
        bos_token_id: Some(tokenizer.eos_id),
        eos_token_id: Some(tokenizer.eos_id),
        pad_token_id: Some(tokenizer.eos_id),
        dtype: "float32".into(),
        mixagent: MixagentBlock {
            format_version: CHECKPOINT_VERSION,
            model: model.clone(),
            tokenizer_fingerprint: tokenizer.fingerprint.clone(),
        },
    };
    write_json(&tmp.join("config.json"), &hf)?;
    if let Some(files) = &tokenizer.files {
        write_atomic(tmp.join("tokenizer.json"), &files.json)?;
        let eos = &files.eos_token;
        let config = serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": eos,
            "eos_token": eos,
            "pad_token": eos,
            "model_max_length": model.max_seq_len,
            "clean_up_tokenization_spaces": false,
        });
        write_json(&tmp.join("tokenizer_config.json"), &config)?;
    }
    if let Some(opt) = opt {
        write_tensors(&tmp.join("optimizer.safetensors"), &opt.state().tensors)?;
    }
    for (name, bytes) in extra {
        write_atomic(tmp.join(name), bytes)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| LmError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| LmError::io(dir, e))
}

fn write_tensors(path: &Path, named: &[(String, Tensor)]) -> Result<(), LmError> {
    let refs: Vec<(&str, Tensor)> = named
        .iter()
        .map(|(n, t)| (n.as_str(), t.to_device(tch::Device::Cpu).contiguous()))
        .collect();
    // A write error keeps its io::Error (the CLI's "disk is full" hint looks for it).
    Tensor::write_safetensors(&refs, path).map_err(|e| match e {
        tch::TchError::SafeTensorError {
            err: safetensors::SafeTensorError::IoError(io), ..
        } => LmError::io(path, io),
        other => LmError::Torch(other),
    })?;
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| LmError::io(path, e))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), LmError> {
    let bytes = serde_json::to_vec_pretty(value).expect("serialisable");
    Ok(write_atomic(path, &bytes)?)
}

/// Finds the checkpoint folder for `path`: a checkpoint folder itself, or a run folder whose
/// `checkpoints/latest` names one.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, LmError> {
    if path.join("model.safetensors").exists() {
        return Ok(path.to_path_buf());
    }
    let latest = path.join("checkpoints").join("latest");
    if let Ok(name) = std::fs::read_to_string(&latest) {
        let dir = path.join("checkpoints").join(name.trim());
        if dir.join("model.safetensors").exists() {
            return Ok(dir);
        }
        return Err(LmError::checkpoint(
            &dir,
            "named by checkpoints/latest but has no model.safetensors",
        ));
    }
    Err(LmError::checkpoint(
        path,
        "no model.safetensors here and no checkpoints/latest: not a checkpoint or run folder",
    ))
}

/// Reads a checkpoint's config (and trainer state, if any) and copies its weights into
/// `model`, whose configuration it must have.
pub fn load_checkpoint(path: &Path, model: &Llama) -> Result<LoadedCheckpoint, LmError> {
    let expect = model.config();
    let dir = resolve_checkpoint(path)?;
    let cfg_path = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| LmError::io(&cfg_path, e))?;
    let hf: HfConfig = serde_json::from_str(&text).map_err(|e| {
        LmError::checkpoint(&cfg_path, format!("{e}; not a mixagent checkpoint config"))
    })?;
    if hf.mixagent.format_version != CHECKPOINT_VERSION {
        return Err(LmError::checkpoint(
            &cfg_path,
            format!("format version {}, expected {CHECKPOINT_VERSION}", hf.mixagent.format_version),
        ));
    }
    if hf.mixagent.model != *expect {
        return Err(LmError::checkpoint(
            &dir,
            format!(
                "model config differs from the one asked for (checkpoint: {}, asked: {}); use the checkpoint's preset and the corpus it was trained on",
                describe(&hf.mixagent.model),
                describe(expect)
            ),
        ));
    }
    let file = dir.join("model.safetensors");
    let weights = read_tensors(&file)?;
    model.load_hf(&weights).map_err(|m| LmError::checkpoint(&file, m))?;
    Ok(LoadedCheckpoint {
        dir,
        model: hf.mixagent.model,
        tokenizer_fingerprint: hf.mixagent.tokenizer_fingerprint,
    })
}

/// The model config stored in a checkpoint, without loading weights.
pub fn read_model_config(path: &Path) -> Result<(ModelConfig, String), LmError> {
    let dir = resolve_checkpoint(path)?;
    let cfg_path = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| LmError::io(&cfg_path, e))?;
    let hf: HfConfig =
        serde_json::from_str(&text).map_err(|e| LmError::checkpoint(&cfg_path, e.to_string()))?;
    Ok((hf.mixagent.model, hf.mixagent.tokenizer_fingerprint))
}

fn describe(m: &ModelConfig) -> String {
    format!(
        "d={} layers={} heads={} ff={} vocab={}",
        m.d_model, m.n_layers, m.n_heads, m.d_ff, m.vocab_size
    )
}

/// Reads every tensor of a safetensors file.
pub(crate) fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>, LmError> {
    if !path.exists() {
        return Err(LmError::checkpoint(path, "missing"));
    }
    let named = Tensor::read_safetensors(path).map_err(|e| {
        LmError::checkpoint(path, format!("{e}: corrupt or truncated safetensors file"))
    })?;
    Ok(named.into_iter().collect())
}
