//! Interop, proven by the upstream libraries themselves (in the Python environment that
//! `scripts/setup-interop.sh` builds; `scripts/test.sh` passes its python as
//! `MIXAGENT_INTEROP_PYTHON`): transformers' `AutoTokenizer` and `AutoModelForCausalLM` load a
//! mixagent checkpoint folder alone and give mixagent's token ids and logits; PyYAML reads
//! every weight of the YAML schedule exports as a number.

use std::path::{Path, PathBuf};

use mixagent_controller::export::{
    export, DataPaths, Format, PlannedSchedule, PlannedStage, TrainerShape,
};

mod common;
use common::{mixagent, prepare_smoke, raw_available};

/// The interop python, or `None` (the test skips) when it is not set up. `scripts/test.sh`
/// sets `MIXAGENT_REQUIRE_INTEROP`, where a missing one fails.
fn interop_python() -> Option<PathBuf> {
    let py = std::env::var_os("MIXAGENT_INTEROP_PYTHON").map(PathBuf::from);
    if let Some(py) = py.filter(|p| p.exists()) {
        return Some(py);
    }
    assert!(
        std::env::var_os("MIXAGENT_REQUIRE_INTEROP").is_none(),
        "MIXAGENT_INTEROP_PYTHON is not a python: run `scripts/setup-interop.sh` and pass what it prints"
    );
    eprintln!(
        "skipped: no interop environment (MIXAGENT_INTEROP_PYTHON=$(bash scripts/setup-interop.sh))"
    );
    None
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

#[test]
fn transformers_loads_a_checkpoint_folder_with_its_tokenizer_and_mixagents_logits() {
    if !raw_available() {
        return;
    }
    let Some(py) = interop_python() else { return };
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
fn pyyaml_reads_every_yaml_export_weight_as_a_number() {
    let Some(py) = interop_python() else { return };
    // Weights that round to 4e-6 and 1e-5: serde_json writes them as `4e-6`, which YAML 1.1
    // (PyYAML) reads as a string.
    let schedule = PlannedSchedule {
        domains: ["web", "books", "proofs", "qa"].map(String::from).to_vec(),
        stages: vec![
            PlannedStage { tokens: 8192, weights: vec![0.599996, 0.2, 0.2, 0.000004] },
            PlannedStage { tokens: 8192, weights: vec![0.00001, 0.49999, 0.25, 0.25] },
            PlannedStage { tokens: 8192, weights: vec![1.0, 0.0, 0.0, 0.0] },
        ],
    };
    let shape = TrainerShape { seq_len: 128, global_batch: 8, seed: 5, mixture_block_size: 8 };
    let paths = DataPaths { template: "/data/{domain}".into(), overrides: Default::default() };
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = [Format::Nanotron, Format::Levanter, Format::Mosaic]
        .into_iter()
        .map(|f| {
            let path = tmp.path().join(format!("{f:?}.yaml"));
            std::fs::write(&path, export(f, &schedule, &shape, &paths).unwrap()).unwrap();
            path
        })
        .collect();
    let args: Vec<&std::ffi::OsStr> = files.iter().map(|p| p.as_os_str()).collect();
    let out = run_python(&py, "yaml_exports.py", &args);
    assert!(out.contains("\"stages_checked\": 9"), "{out}");
}
