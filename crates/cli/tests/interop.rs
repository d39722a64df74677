//! Interop, proven by the upstream libraries themselves, in the Python environments that
//! `scripts/setup-interop.sh` builds (`scripts/test.sh` exports where they are):
//! transformers' `AutoTokenizer` and `AutoModelForCausalLM` load a mixagent checkpoint folder
//! alone and give mixagent's token ids and logits; marin-levanter's own config class parses the
//! Levanter export and its mixture draws the exported shares; `datasets.interleave_datasets`
//! draws the `hf` export's probabilities; megatron-core builds each launch's blend of the Megatron
//! export and its scheduler resumes launch after launch as the recipe says; OLMo-core's own
//! config loader builds each stage of the `olmo` export into a dataset holding the exported
//! shares; MosaicML Streaming's `StreamingDataset` over the `mosaic` export's streams yields each
//! domain in its proportion; PyYAML reads every weight of the nanotron and Mosaic exports as a
//! number.

use std::path::{Path, PathBuf};

use mixagent_controller::export::{
    export, DataPaths, Format, PlannedSchedule, PlannedStage, TrainerShape,
};

mod common;
use common::{mixagent, prepare_smoke, raw_available};

/// The python of one interop venv, named by `var` (`MIXAGENT_INTEROP_PYTHON`: torch,
/// transformers, PyYAML, megatron-core; `MIXAGENT_LEVANTER_PYTHON`: marin-levanter;
/// `MIXAGENT_OLMO_PYTHON`: ai2-olmo-core; `MIXAGENT_MOSAIC_PYTHON`: mosaicml-streaming), or
/// `None` (the test skips) when it is not set up. `scripts/test.sh` sets
/// `MIXAGENT_REQUIRE_INTEROP`, where a missing one fails.
fn venv_python(var: &str) -> Option<PathBuf> {
    let py = std::env::var_os(var).map(PathBuf::from);
    if let Some(py) = py.filter(|p| p.exists()) {
        return Some(py);
    }
    assert!(
        std::env::var_os("MIXAGENT_REQUIRE_INTEROP").is_none(),
        "{var} is not a python: export $(bash scripts/setup-interop.sh)"
    );
    eprintln!("skipped: {var} is not set (export $(bash scripts/setup-interop.sh))");
    None
}

/// A schedule over four domains, one stage per (tokens, weights).
fn schedule(stages: &[(u64, [f64; 4])]) -> PlannedSchedule {
    PlannedSchedule {
        domains: ["web", "books", "proofs", "qa"].map(String::from).to_vec(),
        stages: stages
            .iter()
            .map(|(tokens, w)| PlannedStage { tokens: *tokens, weights: w.to_vec() })
            .collect(),
    }
}

/// Stages of 4, 8 and 4 steps (at 8 sequences of 128 tokens a step) over the four domains.
fn three_stages() -> PlannedSchedule {
    schedule(&[
        (4096, [0.5, 0.2, 0.3, 0.0]),
        (8192, [0.1, 0.1, 0.4, 0.4]),
        (4096, [0.3, 0.3, 0.2, 0.2]),
    ])
}

/// Writes `format`'s export of `s` (8 sequences of 128 tokens per step, Levanter blocks of 32
/// sequences) to `dir` and returns its path.
fn write_export(dir: &Path, format: Format, s: &PlannedSchedule) -> PathBuf {
    let shape = TrainerShape { seq_len: 128, global_batch: 8, seed: 5, mixture_block_size: 32 };
    let paths = DataPaths { template: "/data/{domain}".into(), overrides: Default::default() };
    let path = dir.join(format!("{format:?}.{}", format.extension()));
    std::fs::write(&path, export(format, s, &shape, &paths).unwrap()).unwrap();
    path
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop").join(name)
}

/// Runs `python script args...` and returns its stdout; a failure shows its output.
fn run_python(py: &Path, name: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(py)
        .arg(script(name))
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{name}: {stdout}");
    stdout
}

/// Runs `script` in the venv named by `var` on `format`'s export of [`three_stages`] and checks
/// that its output holds each of `expected`; skips when that venv is not set up.
fn check_export(var: &str, format: Format, script: &str, expected: &[&str]) {
    let Some(py) = venv_python(var) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let file = write_export(tmp.path(), format, &three_stages());
    let out = run_python(&py, script, &[file.as_os_str()]);
    for e in expected {
        assert!(out.contains(e), "{script}: `{e}` not in its output:\n{out}");
    }
}

#[test]
fn transformers_loads_a_checkpoint_folder_with_its_tokenizer_and_mixagents_logits() {
    if !raw_available() {
        return;
    }
    let Some(py) = venv_python("MIXAGENT_INTEROP_PYTHON") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let corpus = prepare_smoke(tmp.path());
    let run = tmp.path().join("base");
    mixagent()
        .args(["pretrain", "--preset", "smoke", "--tokens", "16384", "--threads", "2"])
        .args(["--batch-size", "8", "--seq-len", "64", "--warmup-steps", "2", "--corpus"])
        .arg(&corpus)
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    let ckpt = mixagent_lm::resolve_checkpoint(&run).unwrap();

    // mixagent's own token ids and logits for a probe text.
    let text = "The committee met on Tuesday. Solve 3*x + 4 = 19 for x: x = 5.";
    let tokenizer = mixagent_corpus::CorpusTokenizer::load(&corpus.join("tokenizer.json")).unwrap();
    let ids: Vec<i64> =
        tokenizer.encode_batch(&[text]).unwrap()[0].iter().map(|&i| i64::from(i)).collect();
    let (model_cfg, _) = mixagent_lm::read_model_config(&ckpt).unwrap();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let llama = mixagent_lm::Llama::new(&vs.root(), &model_cfg);
    mixagent_lm::load_checkpoint(&ckpt, &llama).unwrap();
    let input = tch::Tensor::from_slice(&ids).view([1, -1]);
    let logits = tch::no_grad(|| llama.forward(&input)).squeeze_dim(0);
    let expected = tmp.path().join("expected.safetensors");
    tch::Tensor::write_safetensors(
        &[("ids", tch::Tensor::from_slice(&ids)), ("logits", logits)],
        &expected,
    )
    .unwrap();

    let out = run_python(
        &py,
        "hf_checkpoint.py",
        &[ckpt.as_os_str(), expected.as_os_str(), std::ffi::OsStr::new(text)],
    );
    assert!(out.contains("max_logit_diff"), "{out}");
}

#[test]
fn levanter_parses_its_export_and_mixes_in_the_exported_proportions() {
    // Stages of 4, 8 and 4 steps of 8 sequences (switches at sequences 32 and 96), blocks of
    // 32 sequences: the 0.1 weights get 3 sequences a block; at blocks of 8 they got none.
    check_export(
        "MIXAGENT_LEVANTER_PYTHON",
        Format::Levanter,
        "levanter_mixture.py",
        &["\"stages\": 3"],
    );
}

#[test]
fn hf_interleave_datasets_draws_the_exported_probabilities() {
    check_export("MIXAGENT_INTEROP_PYTHON", Format::Hf, "hf_interleave.py", &["\"stages\": 3"]);
}

#[test]
fn pyyaml_reads_every_yaml_export_weight_as_a_number() {
    let Some(py) = venv_python("MIXAGENT_INTEROP_PYTHON") else { return };
    // Weights that round to 4e-6 and 1e-5: serde_json writes them as `4e-6`, which YAML 1.1
    // (PyYAML) reads as a string.
    let s = schedule(&[
        (8192, [0.599996, 0.2, 0.2, 0.000004]),
        (8192, [0.00001, 0.49999, 0.25, 0.25]),
        (8192, [1.0, 0.0, 0.0, 0.0]),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let files = [Format::Nanotron, Format::Mosaic].map(|f| write_export(tmp.path(), f, &s));
    let args: Vec<&std::ffi::OsStr> = files.iter().map(|p| p.as_os_str()).collect();
    let out = run_python(&py, "yaml_exports.py", &args);
    assert!(out.contains("\"stages_checked\": 6"), "{out}");
}

#[test]
fn megatron_core_blends_each_launch_and_resumes_the_schedule_across_launches() {
    check_export(
        "MIXAGENT_INTEROP_PYTHON",
        Format::Megatron,
        "megatron_blend.py",
        &["\"stages\": 3", "\"steps\": 16"],
    );
}

#[test]
fn olmo_core_builds_every_stage_in_the_exported_shares() {
    check_export("MIXAGENT_OLMO_PYTHON", Format::Olmo, "olmo_mixture.py", &["\"stages\": 3"]);
}

#[test]
fn mosaic_streaming_yields_each_stream_in_its_exported_proportion() {
    check_export("MIXAGENT_MOSAIC_PYTHON", Format::Mosaic, "mosaic_streams.py", &["\"stages\": 3"]);
}
