//! Crash safety (issue 10): `prepare`, `pretrain` and `train-agent` killed with SIGKILL in the
//! middle of their work leave no corrupt file where a reader would look, and a rerun resumes
//! (pretrain, from its last checkpoint) or restarts cleanly (prepare, train-agent) to the
//! result an uninterrupted run gives. `collect` and `cpt` have their kill tests in collect.rs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use predicates::str::contains;

mod common;
use common::{mixagent, prepare_smoke, raw_available};

fn spawn(args: &[std::ffi::OsString], log: &str) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("mixagent"))
        .args(args)
        .env("MIXAGENT_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `ready()` holds (the child still running), then SIGKILLs the child.
fn kill_when(mut child: Child, what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(300), "never reached {what}");
        assert!(child.try_wait().unwrap().is_none(), "ended before {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

#[test]
fn prepare_killed_mid_way_leaves_no_corpus_and_a_rerun_writes_the_same_one() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let clean = prepare_smoke(&tmp.path().join("clean"));
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    let out = tmp.path().join("killed/smoke");
    let mut args = os(&["prepare", "--config"]);
    args.extend([cfg.clone().into(), "--out".into(), out.clone().into()]);
    // The staging folder holds the tokenizer before any shard: kill while shards are written.
    let staging = tmp.path().join("killed/.smoke.partial");
    kill_when(spawn(&args, "warn"), "the tokenizer", || staging.join("tokenizer.json").exists());
    assert!(!out.exists(), "a killed prepare must not leave a corpus folder");
    let e = mixagent_shard::Manifest::load(&out).unwrap_err().to_string();
    assert!(e.contains("not found"), "{e}");
    mixagent().args(&args).assert().success();
    assert!(!staging.exists(), "the rerun cleans its staging folder");
    let manifest = |d: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap())
                .unwrap();
        v.as_object_mut().unwrap().remove("created_at");
        v
    };
    assert_eq!(manifest(&out), manifest(&clean), "the rerun's corpus differs");
}

fn pretrain_args(corpus: &Path, out: &Path) -> Vec<std::ffi::OsString> {
    let mut a = os(&["pretrain", "--preset", "smoke", "--tokens", "65536", "--threads", "1"]);
    a.extend(os(&["--batch-size", "8", "--seq-len", "64", "--warmup-steps", "5"]));
    a.extend(os(&["--checkpoint-every", "20", "--corpus"]));
    a.extend([corpus.into(), "--out".into(), out.into()]);
    a
}

/// The checkpoint folders a reader sees: `step-NNNNNNN` (a checkpoint being written is
/// `step-NNNNNNN.tmp` until it is complete and renamed).
fn checkpoints(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out.join("checkpoints"))
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && p.extension().is_none())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn pretrain_killed_after_a_checkpoint_resumes_to_the_same_model() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = prepare_smoke(tmp.path());
    let clean = tmp.path().join("clean");
    mixagent().args(pretrain_args(&corpus, &clean)).assert().success();
    let killed = tmp.path().join("killed");
    kill_when(spawn(&pretrain_args(&corpus, &killed), "warn"), "a checkpoint", || {
        checkpoints(&killed).iter().any(|c| c.join("model.safetensors").exists())
    });
    // Every checkpoint folder visible after the kill is complete and loads.
    for c in checkpoints(&killed) {
        for f in ["config.json", "model.safetensors", "optimizer.safetensors"] {
            assert!(c.join(f).exists(), "{} lacks {f}", c.display());
        }
    }
    mixagent().args(pretrain_args(&corpus, &killed)).assert().success();
    let leftovers: Vec<_> = std::fs::read_dir(killed.join("checkpoints"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "a partial checkpoint outlived the resume: {leftovers:?}");
    let last =
        |d: &Path| std::fs::read(checkpoints(d).last().unwrap().join("model.safetensors")).unwrap();
    assert_eq!(last(&killed), last(&clean), "the resumed model differs from the uninterrupted one");
}

#[test]
fn train_agent_killed_mid_training_keeps_the_old_artifact_and_restarts_cleanly() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = prepare_smoke(tmp.path());
    let base = tmp.path().join("base");
    mixagent().args(pretrain_args(&corpus, &base)).assert().success();
    let collection = tmp.path().join("collection");
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
    mixagent()
        .args(["collect", "--threads", "1", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&collection)
        .args(["--set", &format!("corpus={}", corpus.display())])
        .args(["--set", &format!("base={}", base.display())])
        .assert()
        .success();
    let agent = tmp.path().join("agent");
    let train = |seed: &str| {
        let mut a = os(&["train-agent", "--threads", "1", "--trajectories"]);
        a.extend([collection.clone().into(), "--out".into(), agent.clone().into()]);
        for s in [
            "sft.steps=150",
            "cql.steps=150",
            "cql.critic_warmup=50",
            "net.d_model=16",
            &format!("seed={seed}"),
        ] {
            a.extend(os(&["--set", s]));
        }
        a
    };
    mixagent().args(train("0")).assert().success();
    let old = std::fs::read(agent.join("policy.safetensors")).unwrap();
    // Retrain with another seed and kill it once it reports training progress.
    let mut child = spawn(&train("1"), "info");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("train-agent") && line.contains("step") {
                let _ = tx.send(());
            }
        }
    });
    kill_when(child, "training progress", || rx.try_recv().is_ok());
    assert_eq!(
        std::fs::read(agent.join("policy.safetensors")).unwrap(),
        old,
        "the old artifact must survive"
    );
    mixagent_policy::Policy::load(&agent).expect("the old artifact still loads");
    let leftovers: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".agent"))
        .collect();
    // A half-written temporary may remain (hidden, never read); the rerun replaces the artifact.
    mixagent().args(train("1")).assert().success().stdout(contains("agent written to"));
    let fresh = tmp.path().join("fresh");
    let mut a = train("1");
    let n = a.iter().position(|x| x == "--out").unwrap();
    a[n + 1] = fresh.clone().into();
    mixagent().args(a).assert().success();
    assert_eq!(
        std::fs::read(agent.join("policy.safetensors")).unwrap(),
        std::fs::read(fresh.join("policy.safetensors")).unwrap(),
        "the rerun after the kill trains what an uninterrupted run trains (leftovers: {leftovers:?})"
    );
}
