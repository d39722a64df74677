//! CLI tests of `collect` and `trajectories` on the real `smoke` corpus: a collection killed
//! with SIGKILL mid-stage resumes without losing or duplicating a stage and gives the same
//! results as an uninterrupted one; workers and Slurm-style shards split the work; the
//! listing, exports and trade-off statistics read the store; bad inputs get clear errors.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{json, Value};

mod common;
use common::{mixagent, prepare_smoke, raw_available};

/// A smoke corpus and a smoke base, built once per test binary.
fn fixture() -> &'static (PathBuf, PathBuf) {
    static FIXTURE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // One folder per test process: two test runs sharing a build folder (a clean-clone CI
        // beside a working tree) must not rebuild each other's fixture midway. Folders of
        // processes that have ended are removed.
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("collect-fixture-").and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = root.join(format!("collect-fixture-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let corpus = prepare_smoke(&dir);
        let base = dir.join("base");
        mixagent()
            .args(["pretrain", "--preset", "smoke", "--tokens", "40960", "--threads", "2"])
            .args(["--batch-size", "8", "--seq-len", "64", "--warmup-steps", "5", "--corpus"])
            .arg(&corpus)
            .arg("--out")
            .arg(&base)
            .assert()
            .success();
        (corpus, base)
    })
}

fn config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml")
}

/// The arguments of `collect` on the fixture with `extra` arguments.
fn collect_args(out: &Path, extra: &[&str]) -> Vec<std::ffi::OsString> {
    let (corpus, base) = fixture();
    let mut a: Vec<std::ffi::OsString> = vec!["collect".into(), "--config".into(), config().into()];
    a.extend(["--out".into(), out.into()]);
    a.extend(["--set".into(), format!("corpus={}", corpus.display()).into()]);
    a.extend(["--set".into(), format!("base={}", base.display()).into()]);
    a.extend(["--threads".into(), "1".into()]);
    a.extend(extra.iter().map(|&x| x.into()));
    a
}

/// `collect` on the fixture with `extra` arguments.
fn collect(out: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut c = mixagent();
    c.args(collect_args(out, extra));
    c
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A trajectory or a steered run without its wall times (which differ between runs).
fn without_times(mut t: Value) -> Value {
    for row in t["stages"].as_array_mut().unwrap() {
        let row = row.as_object_mut().unwrap();
        row.remove("train_secs");
        row.remove("eval_secs");
    }
    t
}

fn trajectory_files(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(out.join("trajectories")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn a_collection_killed_mid_stage_resumes_without_loss_or_duplication() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--set", "trajectories=2", "--set", "stages=6", "--set", "stage_tokens=8192"];

    let clean = tmp.path().join("clean");
    collect(&clean, &args).assert().success().stdout(contains("2/2 trajectories finished"));

    // Kill the second collection once trajectory 0 has saved two stages, while its third is
    // training (each stage takes far longer than the 50 ms wait).
    let killed = tmp.path().join("killed");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mixagent"))
        .args(collect_args(&killed, &args))
        .env("MIXAGENT_LOG", "warn")
        .spawn()
        .unwrap();
    let marker = killed.join("work/t-00000/stage-002");
    let start = Instant::now();
    while !marker.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "collection never reached stage 2");
        assert!(child.try_wait().unwrap().is_none(), "collection ended before it was killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(trajectory_files(&killed).is_empty(), "nothing may be finished yet");
    let saved = read(&killed.join("work/t-00000/stage-002/trajectory.json"));
    assert_eq!(saved["stages"].as_array().unwrap().len(), 2);

    collect(&killed, &args).assert().success().stdout(contains("2/2 trajectories finished"));
    assert!(!killed.join("work/t-00000").exists(), "the work folder is cleaned up");
    let (a, b) = (trajectory_files(&clean), trajectory_files(&killed));
    assert_eq!(a.len(), 2);
    for (x, y) in a.iter().zip(&b) {
        let (x, y) = (read(x), read(y));
        let stages: Vec<u64> =
            y["stages"].as_array().unwrap().iter().map(|r| r["stage"].as_u64().unwrap()).collect();
        assert_eq!(stages, (0..6).collect::<Vec<_>>(), "each stage exactly once");
        assert_eq!(without_times(x), without_times(y), "resumed run differs from the clean one");
    }

    // A rerun of a finished collection does nothing.
    collect(&killed, &args).assert().success().stdout(contains("this call"));
}

/// `families.branches` (issue 20): the second trajectory of each tree starts from the first's
/// checkpoint at its branch point, so its rows before that point are the parent's and only the
/// stages after it are trained. With two workers a branch whose parent is still running waits
/// for it; the result is the same as one worker's, to the last digit.
#[test]
fn branches_start_from_their_parents_checkpoint_whatever_the_workers() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sets = ["--set", "trajectories=4", "--set", "stages=4", "--set", "families.branches=1"];
    let two = tmp.path().join("two");
    let one = tmp.path().join("one");
    collect(&two, &[&sets[..], &["--workers", "2"]].concat())
        .assert()
        .success()
        .stdout(contains("4/4 trajectories finished"));
    collect(&one, &sets).assert().success().stdout(contains("4/4 trajectories finished"));
    let plan = read(&two.join("plan.json"));
    for i in [1usize, 3] {
        let branch = read(&two.join(format!("trajectories/t-{i:05}.json")));
        let parent = read(&two.join(format!("trajectories/t-{:05}.json", i - 1)));
        assert_eq!(branch["branch"]["parent"], (i - 1) as u64);
        assert_eq!(branch["seed"], parent["seed"], "a branch keeps its parent's data order");
        let at = branch["branch"]["at"].as_u64().unwrap() as usize;
        assert!((2..4).contains(&at), "branch point {at}");
        let (b, p) = (branch["stages"].as_array().unwrap(), parent["stages"].as_array().unwrap());
        assert_eq!(b.len(), 4);
        assert_eq!(b[..at], p[..at], "the parent's rows, copied, not trained again");
        // The planned mixtures (renormalised by the trainer: equal to about 1e-16).
        for (s, row) in b.iter().enumerate() {
            let planned = plan["trajectories"][i]["mixtures"][s].as_array().unwrap();
            let ran = row["weights"].as_array().unwrap();
            for (x, y) in ran.iter().zip(planned) {
                assert!((x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-12, "stage {s}");
            }
        }
        assert_ne!(b[at]["weights"], p[at]["weights"]);
        assert_ne!(b[at]["observation"], p[at]["observation"]);
    }
    for (x, y) in trajectory_files(&two).iter().zip(&trajectory_files(&one)) {
        assert_eq!(without_times(read(x)), without_times(read(y)), "{}", x.display());
    }
    // The kept checkpoints are gone once every branch has left them.
    for dir in [&two, &one] {
        let left = std::fs::read_dir(dir.join("branch")).map_or(0, |d| d.count());
        assert_eq!(left, 0, "{}", dir.display());
    }
    // An agent trains on the trees: each branch's transitions from its branch point on (the
    // rows before are its parent's), and the prior counts two trees, not four runs.
    let ats: usize = [1usize, 3]
        .iter()
        .map(|i| {
            let b = read(&two.join(format!("trajectories/t-{i:05}.json")));
            b["branch"]["at"].as_u64().unwrap() as usize
        })
        .sum();
    let agent = tmp.path().join("agent");
    mixagent()
        .args(["train-agent", "--threads", "1", "--trajectories"])
        .arg(&two)
        .arg("--out")
        .arg(&agent)
        .args(["--set", "sft.steps=5", "--set", "cql.steps=5", "--set", "cql.critic_warmup=2"])
        .args(["--set", "net.d_model=16", "--set", "views.random=0"])
        .assert()
        .success();
    let schema = read(&agent.join("agent.json"));
    // Two views (the space and its field level) of 4 × 4 stages less the branches' prefixes.
    assert_eq!(schema["training"]["data"]["transitions"], 2 * (16 - ats) as u64);
    assert_eq!(schema["prior"]["runs"], 2);

    // Killed once the first parent has finished (its branch is starting from the kept
    // checkpoint), then rerun: the same collection.
    let killed = tmp.path().join("killed");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mixagent"))
        .args(collect_args(&killed, &sets))
        .env("MIXAGENT_LOG", "warn")
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !killed.join("trajectories/t-00000.json").exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "the first parent never finished");
        assert!(child.try_wait().unwrap().is_none(), "collection ended before it was killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    collect(&killed, &sets).assert().success().stdout(contains("4/4 trajectories finished"));
    for (x, y) in trajectory_files(&one).iter().zip(&trajectory_files(&killed)) {
        assert_eq!(without_times(read(x)), without_times(read(y)), "{}", y.display());
    }
}

/// `collect --batch 2`: trajectories trained together as one stacked network match their
/// one-by-one rollouts (same mixtures and batches; losses and feedback to float rounding).
#[test]
fn a_batched_worker_matches_one_by_one_rollouts() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sets = ["--set", "trajectories=3", "--set", "stages=3"];
    let (plain, batched) = (tmp.path().join("plain"), tmp.path().join("batched"));
    collect(&plain, &sets).assert().success().stdout(contains("3/3 trajectories finished"));
    collect(&batched, &[&sets[..], &["--batch", "2"]].concat())
        .assert()
        .success()
        .stdout(contains("3/3 trajectories finished"));
    let close = |a: &Value, b: &Value, tol: f64, what: &str| {
        let (x, y) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((x - y).abs() <= tol * x.abs().max(1.0), "{what}: {x} vs {y}");
    };
    for (x, y) in trajectory_files(&plain).iter().zip(&trajectory_files(&batched)) {
        let (a, b) = (read(x), read(y));
        for (ra, rb) in a["stages"].as_array().unwrap().iter().zip(b["stages"].as_array().unwrap())
        {
            assert_eq!(ra["weights"], rb["weights"]);
            assert_eq!(ra["tokens_by_domain"], rb["tokens_by_domain"], "its own batches");
            close(&ra["train_loss"], &rb["train_loss"], 1e-4, "train loss");
            for (f, v) in ra["observation"]["feedback"].as_object().unwrap() {
                close(v, &rb["observation"]["feedback"][f], 1e-3, f);
            }
        }
    }
    collect(&tmp.path().join("zero"), &[&sets[..], &["--batch", "0"]].concat())
        .assert()
        .failure()
        .stderr(contains("--batch must be ≥ 1"));
}

#[test]
fn workers_and_shards_split_a_collection_and_the_store_reads_back() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    // Slice 1/2 with two workers, then slice 0/2 in-process: together the whole plan.
    collect(&out, &["--shard", "1/2", "--workers", "2"])
        .assert()
        .success()
        .stdout(contains("2/4 trajectories finished"));
    let names: Vec<String> = trajectory_files(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["t-00001.json", "t-00003.json"]);
    collect(&out, &["--shard", "0/2"])
        .assert()
        .success()
        .stdout(contains("4/4 trajectories finished"));

    let t = read(&out.join("trajectories/t-00002.json"));
    assert_eq!(t["format_version"], 1);
    assert_eq!(t["stages"].as_array().unwrap().len(), 4);
    assert_eq!(t["space"].as_array().unwrap().len(), 29); // 16 general + 13 math domains
    assert!(t["base"]["fingerprint"].as_str().unwrap().len() == 16);
    for row in t["stages"].as_array().unwrap() {
        let w: f64 = row["weights"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).sum();
        assert!((w - 1.0).abs() < 1e-9);
        assert!(row["observation"]["feedback"]["math"].as_f64().unwrap() < 0.0);
        // Every domain but shakespeare, whose one smoke document has no held-out split.
        let losses = row["observation"]["domain_loss"].as_object().unwrap();
        assert_eq!(losses.len(), 28);
        assert!(!losses.contains_key("shakespeare"));
        let tokens: u64 = row["tokens_by_domain"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(tokens, row["tokens"].as_u64().unwrap());
    }

    mixagent()
        .args(["trajectories", "ls"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("t-00003"));
    mixagent()
        .args(["trajectories", "show"])
        .arg(&out)
        .args(["--id", "t-00002"])
        .assert()
        .success()
        .stdout(contains("balanced"));
    let csv = tmp.path().join("x.csv");
    mixagent().args(["trajectories", "export"]).arg(&out).arg("--out").arg(&csv).assert().success();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 4 * 5, "header + (base + 4 stages) per trajectory");
    assert!(lines[0].starts_with("trajectory,family,stage,tokens,target_share,w_"));
    assert!(lines[0].contains("feedback_math") && lines[0].contains("loss_math_algebra"));
    let jsonl = mixagent()
        .args(["trajectories", "export", "--format", "jsonl"])
        .arg(&out)
        .output()
        .unwrap();
    let rows: Vec<Value> = String::from_utf8(jsonl.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 20);
    assert!(rows[1]["reward"].is_f64() && rows[0]["reward"].is_null());
    mixagent()
        .args(["trajectories", "stats"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("r(mean target share"));
    train_agent_on(&out, tmp.path());
    select_agent_on(&out, tmp.path());
}

/// `select-agent` on a finished collection: four candidates (two trained, each also with other
/// decision settings), run on held-out seeds beside uniform, the best kept with the selection
/// in its provenance; a rerun resumes.
fn select_agent_on(collection: &Path, tmp: &Path) {
    let (corpus, base) = fixture();
    let out = tmp.join("select");
    let run = || {
        let mut c = mixagent();
        c.args(["select-agent", "--workers", "2", "--threads", "1", "--seeds", "100,101"]);
        c.arg("--trajectories").arg(collection).arg("--run").arg(config());
        for s in ["sft.steps=20", "cql.steps=20", "cql.critic_warmup=10", "net.d_model=16"] {
            c.args(["--set", s]);
        }
        c.args(["--grid", "cql.alpha=0.1,1", "--grid", "decision.candidates=0,8"]);
        // A second held-out setting: the field-level (2-D) space.
        c.args(["--setting", "space.level=\"fields\""]);
        for s in [
            format!("corpus={}", corpus.display()),
            format!("base={}", base.display()),
            "stages=2".into(),
            "stage_tokens=2048".into(),
        ] {
            c.args(["--run-set", &s]);
        }
        c.arg("--out").arg(&out);
        c
    };
    let first =
        run().assert().success().stdout(contains("(chosen)")).stdout(contains("| uniform |"));
    // Candidates that differ only in decision settings train once.
    let stderr = String::from_utf8_lossy(&first.get_output().stderr).into_owned();
    assert_eq!(stderr.matches("training candidate").count(), 2, "{stderr}");
    assert_eq!(stderr.matches("with other decision settings").count(), 2, "{stderr}");
    let cand = |i: usize, f: &str| std::fs::read(out.join(format!("candidates/c{i:02}/{f}")));
    assert_eq!(cand(1, "policy.safetensors").unwrap(), cand(0, "policy.safetensors").unwrap());
    let derived = read(&out.join("candidates/c01/agent.json"));
    assert_eq!(derived["decision"]["candidates"], 8);
    assert_eq!(derived["training"]["config"]["decision"]["candidates"], 8);
    assert_eq!(read(&out.join("candidates/c00/agent.json"))["decision"]["candidates"], 0);
    let sel = read(&out.join("selection.json"));
    let cands = sel["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 4);
    assert_eq!(cands[2]["settings"][0], "cql.alpha=1");
    // Chosen by the mean over the two settings' held-out scores.
    assert!(out.join("heldout-1/table.json").exists());
    let mean = |c: &Value| {
        let each = c["per_setting"].as_array().unwrap();
        assert_eq!(each.len(), 2);
        each.iter().map(|s| s[0].as_f64().unwrap()).sum::<f64>() / 2.0
    };
    let best = cands.iter().max_by(|a, b| mean(a).total_cmp(&mean(b))).unwrap();
    assert_eq!(sel["chosen"], best["name"]);
    assert!((best["mean_over_settings"].as_f64().unwrap() - mean(best)).abs() < 1e-12);
    let schema = read(&out.join("agent/agent.json"));
    assert_eq!(schema["training"]["selection"], sel);
    assert!(mixagent_policy::Policy::load(&out.join("agent")).is_ok());
    // A rerun trains nothing and runs nothing again.
    run()
        .assert()
        .success()
        .stderr(contains("(0 jobs to do"))
        .stderr(contains("training candidate").not());
    // A bad setting is refused before anything trains.
    mixagent()
        .args(["select-agent", "--trajectories"])
        .arg(collection)
        .arg("--run")
        .arg(config())
        .args(["--grid", "cql.alpah=1,2", "--out"])
        .arg(tmp.join("select-bad"))
        .assert()
        .failure()
        .stderr(contains("cql.alpah"));
}

/// Whether a Slurm test can run here: root (the throw-away cluster runs its daemons as root)
/// and Debian's four packages. Without them the test skips, unless `MIXAGENT_REQUIRE_SLURM` is
/// set (as `scripts/test.sh` does once it has installed them), where it fails.
fn slurm_available() -> bool {
    let on_path = |name: &str| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
            .any(|d| d.join(name).is_file())
    };
    let missing: Vec<&str> =
        ["slurmctld", "slurmd", "sbatch", "munged"].into_iter().filter(|n| !on_path(n)).collect();
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if missing.is_empty() && root {
        return true;
    }
    let why = if missing.is_empty() {
        "the throw-away cluster needs root".to_string()
    } else {
        format!("{} not installed (Debian slurmctld slurmd slurm-client munge)", missing.join(", "))
    };
    assert!(std::env::var_os("MIXAGENT_REQUIRE_SLURM").is_none(), "Slurm test: {why}");
    eprintln!("skipped: the Slurm test: {why}");
    false
}

/// `scripts/collect.sbatch` as a real Slurm job array (scripts/test-slurm.sh: a requeue
/// mid-run, a follow-up job, single-element resubmissions) gives exactly the trajectories of
/// the same plan collected locally with two workers.
#[test]
fn a_slurm_job_array_collects_what_a_local_run_collects() {
    if !raw_available() || !slurm_available() {
        return;
    }
    let (corpus, base) = fixture();
    let tmp = tempfile::tempdir().unwrap();
    // The smoke plan with 6 trajectories (3 slices of 2) and stages long enough to requeue one
    // mid-trajectory; absolute paths, since the jobs run in another folder.
    let text = std::fs::read_to_string(config()).unwrap();
    let text = text
        .replace("corpus = \"data/smoke\"", &format!("corpus = {:?}", corpus.display().to_string()))
        .replace("base = \"runs/smoke/base\"", &format!("base = {:?}", base.display().to_string()))
        .replace("trajectories = 4", "trajectories = 6")
        .replace("stage_tokens = 4096", "stage_tokens = 8192");
    assert!(text.contains("trajectories = 6") && text.contains("stage_tokens = 8192"));
    let cfg = tmp.path().join("collect-slurm.toml");
    std::fs::write(&cfg, text).unwrap();

    let local = tmp.path().join("local");
    mixagent()
        .args(["collect", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&local)
        .args(["--workers", "2", "--threads", "1"])
        .assert()
        .success()
        .stdout(contains("6/6 trajectories finished"));

    let sliced = tmp.path().join("slurm");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-slurm.sh");
    let run = std::process::Command::new("bash")
        .arg(&script)
        .arg(&cfg)
        .arg(&sliced)
        .env("MIXAGENT", env!("CARGO_BIN_EXE_mixagent"))
        .env("MIXAGENT_LOG", "info")
        .output()
        .unwrap();
    let log =
        format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    eprintln!("{log}");
    assert!(run.status.success(), "scripts/test-slurm.sh failed:\n{log}");

    let (a, b) = (trajectory_files(&local), trajectory_files(&sliced));
    assert_eq!(a.len(), 6);
    let names =
        |v: &[PathBuf]| -> Vec<_> { v.iter().map(|p| p.file_name().unwrap().to_owned()).collect() };
    assert_eq!(names(&a), names(&b));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(without_times(read(x)), without_times(read(y)), "{} differs", y.display());
    }
}

/// `train-agent` on a finished collection: a loadable artifact that steers other spaces, the
/// same bytes from the same seed, and clear errors for bad inputs.
fn train_agent_on(collection: &Path, tmp: &Path) {
    let quick = ["sft.steps=20", "cql.steps=20", "cql.critic_warmup=10", "net.d_model=16"];
    let train = |out: &Path| {
        let mut c = mixagent();
        c.args(["train-agent", "--threads", "1", "--trajectories"]).arg(collection);
        c.arg("--out").arg(out);
        for q in quick {
            c.args(["--set", q]);
        }
        c
    };
    let (a, b) = (tmp.join("agent-a"), tmp.join("agent-b"));
    train(&a)
        .assert()
        .success()
        .stdout(contains("first-stage mixture from the base: general"))
        .stdout(contains("agent written to"));
    train(&b).assert().success();
    let bytes = |d: &Path| std::fs::read(d.join("policy.safetensors")).unwrap();
    assert_eq!(bytes(&a), bytes(&b), "same seed, same policy");
    let schema = read(&a.join("agent.json"));
    assert_eq!(schema["space"]["trained_domains"], 29);
    // 16 stages, each read through 8 views (the space, its field level, 6 re-groupings).
    assert_eq!(schema["training"]["data"]["views_per_trajectory"], 8);
    assert_eq!(schema["training"]["data"]["transitions"], 16 * 8);
    assert_eq!(schema["net"]["d_model"], 16);

    // Trained on the 20-domain space, it steers a 2-entry one and a 64-domain one.
    let policy = mixagent_policy::Policy::load(&a).unwrap();
    for (general, math) in [(1, 1), (32, 32)] {
        let d = |i: usize, f: &str| mixagent_policy::DomainInfo {
            name: format!("{f}{i}"),
            field: f.into(),
            share_in_field: 1.0,
            members: vec![format!("{f}{i}")],
        };
        let domains: Vec<_> =
            (0..general).map(|i| d(i, "general")).chain((0..math).map(|i| d(i, "math"))).collect();
        let obs = mixagent_core::Observation {
            feedback: [("general".into(), -3.0), ("math".into(), -5.0)].into(),
            domain_loss: domains.iter().map(|x| (x.name.clone(), 4.0)).collect(),
        };
        let h = mixagent_policy::History {
            domains: &domains,
            initial: &obs,
            stages: &[],
            total_stages: 8,
        };
        let w = policy.decide(&h).unwrap();
        assert_eq!(w.len(), general + math);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    // RegMix fitted on the collection and the trained agent both steer a short CPT run, on the
    // collected space and on a re-grouped one (two of its domains merged into one entry).
    let (corpus, base) = fixture();
    let grouped = ["space.level=\"groups\"", r#"space.groups=[["brown_press", "brown_learned"]]"#];
    for policy in [format!("regmix:{}", collection.display()), format!("agent:{}", a.display())] {
        for (suffix, extra) in [("", &[][..]), ("-grouped", &grouped[..])] {
            let out = tmp.join(format!("cpt-{}{suffix}", policy.split(':').next().unwrap()));
            let mut c = mixagent();
            c.args(["cpt", "--policy", &policy, "--config"]).arg(config()).arg("--out").arg(&out);
            c.args(["--set", &format!("corpus={}", corpus.display())])
                .args(["--set", &format!("base={}", base.display())])
                .args(["--set", "stages=2", "--set", "stage_tokens=4096", "--threads", "1"]);
            for s in extra {
                c.args(["--set", s]);
            }
            c.assert().success().stdout(contains("balanced"));
            let run = read(&out.join("run.json"));
            assert_eq!(run["stages"].as_array().unwrap().len(), 2);
            let entries = if extra.is_empty() { 29 } else { 28 }; // two domains merged
            assert_eq!(run["space"].as_array().unwrap().len(), entries);
        }
    }
    controller_export_and_preflight(&a, &tmp.join("cpt-agent"), tmp);
    // The critics' values along the split, at every stage of the agent's run and of a trajectory.
    let explained = tmp.join("explained.json");
    mixagent()
        .args(["explain-agent", "--shares", "4", "--agent"])
        .arg(&a)
        .arg(tmp.join("cpt-agent").join("run.json"))
        .args(["--corpus"])
        .arg(corpus)
        .arg("--json")
        .arg(&explained)
        .assert()
        .success()
        .stdout(contains("Q(0.20)").and(contains("Q(0.80)")));
    let rows = read(&explained);
    assert_eq!(rows.as_array().unwrap().len(), 2, "one row per stage");
    assert_eq!(rows[0]["value"].as_array().unwrap().len(), 4);
    assert!(rows[1]["value"].as_array().unwrap().iter().all(|v| v.as_f64().unwrap().is_finite()));
    mixagent()
        .args(["explain-agent", "--agent"])
        .arg(&a)
        .arg(&trajectory_files(collection)[0])
        .args(["--corpus"])
        .arg(corpus)
        .assert()
        .success()
        .stdout(contains("to-go"));
    // Retrain the agent in place (another seed): its old run is no longer its run.
    let mut retrain = train(&a);
    retrain.args(["--set", "seed=1"]).assert().success();
    mixagent()
        .args(["cpt", "--policy", &format!("agent:{}", a.display()), "--config"])
        .arg(config())
        .arg("--out")
        .arg(tmp.join("cpt-agent"))
        .args(["--set", &format!("corpus={}", corpus.display())])
        .args(["--set", &format!("base={}", base.display())])
        .args(["--set", "stages=2", "--set", "stage_tokens=4096", "--threads", "1"])
        .assert()
        .failure()
        .stderr(contains("files have changed"));

    // `trajectories share-band`: four runs are too few for a best quarter; eight (the four
    // again under new plan indices) give the band, and a copy of the agent bounded to it (the
    // same network bytes, `decision.share_band` set, loadable). An agent of another space is
    // refused.
    mixagent()
        .args(["trajectories", "share-band"])
        .arg(collection)
        .assert()
        .failure()
        .stderr(contains("there are 4").and(contains("at least 8")));
    let eight = tmp.join("eight/trajectories");
    std::fs::create_dir_all(&eight).unwrap();
    for i in 0..8u64 {
        let mut t = read(&collection.join(format!("trajectories/t-{:05}.json", i % 4)));
        t["index"] = i.into();
        t["id"] = format!("t-{i:05}").into();
        std::fs::write(eight.join(format!("t-{i:05}.json")), t.to_string()).unwrap();
    }
    let bounded = tmp.join("agent-bounded");
    let printed = mixagent()
        .args(["trajectories", "share-band"])
        .arg(&eight)
        .arg("--agent")
        .arg(&a)
        .arg("--out")
        .arg(&bounded)
        .assert()
        .success()
        .stdout(contains("share band of"))
        .get_output()
        .stdout
        .clone();
    assert_eq!(bytes(&bounded), bytes(&a), "the same network");
    let band = mixagent_policy::Policy::load(&bounded).unwrap().schema.decision.share_band;
    let shown = format!("[{:.4}, {:.4}]", band[0], band[1]);
    assert!(String::from_utf8_lossy(&printed).contains(&shown), "{shown}");
    assert!(0.0 < band[0] && band[0] <= band[1] && band[1] < 1.0, "{band:?}");
    let other = tmp.join("agent-other-space");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["agent.json", "policy.safetensors"] {
        std::fs::copy(a.join(f), other.join(f)).unwrap();
    }
    let mut o = read(&other.join("agent.json"));
    o["training"]["data"]["space_fingerprint"] = "another".into();
    std::fs::write(other.join("agent.json"), o.to_string()).unwrap();
    mixagent()
        .args(["trajectories", "share-band"])
        .arg(&eight)
        .arg("--agent")
        .arg(&other)
        .arg("--out")
        .arg(tmp.join("agent-refused"))
        .assert()
        .failure()
        .stderr(contains("another domain space"));
    assert!(!tmp.join("agent-refused").exists());

    // Two collections (here the same one twice) train as one set, in the order given.
    let twice = tmp.join("agent-twice");
    let mut c = train(&twice);
    c.arg("--trajectories").arg(collection).assert().success();
    let schema = read(&twice.join("agent.json"));
    assert_eq!(schema["training"]["data"]["transitions"], 2 * 16 * 8);
    assert!(schema["training"]["trajectories_dir"].as_str().unwrap().contains(" + "));
    // --limit beyond the collection is refused with the range to give.
    mixagent()
        .args(["train-agent", "--limit", "999", "--trajectories"])
        .arg(collection)
        .arg("--out")
        .arg(tmp.join("agent-limit"))
        .assert()
        .failure()
        .stderr(contains("--limit 999").and(contains("give 1 to")));

    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    mixagent()
        .args(["train-agent", "--trajectories"])
        .arg(&empty)
        .assert()
        .failure()
        .stderr(contains("no finished trajectories"));
    mixagent()
        .args(["train-agent", "--set", "cql.alhpa=1", "--trajectories"])
        .arg(collection)
        .assert()
        .failure()
        .stderr(contains("alhpa"));
    mixagent()
        .args(["train-agent", "--corpus"])
        .arg(tmp.join("nowhere"))
        .arg("--trajectories")
        .arg(collection)
        .assert()
        .failure()
        .stderr(contains("--corpus"));
}

#[test]
fn bad_inputs_get_clear_errors() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    // A base that does not exist: say how to make it.
    collect(&out, &["--set", "base=/nonexistent/base"])
        .assert()
        .failure()
        .stderr(contains("mixagent pretrain"));
    // An unknown config key and a space with one field.
    collect(&out, &["--set", "stage_tokenz=5"]).assert().failure().stderr(contains("stage_tokenz"));
    collect(&out, &["--set", "space.fields=[\"general\"]", "--set", "trajectories=1"])
        .assert()
        .failure()
        .stderr(contains("target field"));
    // A folder holding another collection is refused; more trajectories extend it.
    collect(&out, &["--set", "trajectories=1", "--set", "stages=1"]).assert().success();
    collect(&out, &["--set", "trajectories=1", "--set", "stages=2"])
        .assert()
        .failure()
        .stderr(contains("other settings (stages)"));
    collect(&out, &["--set", "trajectories=2", "--set", "stages=1"])
        .assert()
        .success()
        .stdout(contains("2/2 trajectories finished"));
    // A truncated trajectory file is named, with what to do.
    let f = out.join("trajectories/t-00000.json");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, &text[..text.len() / 2]).unwrap();
    mixagent()
        .args(["trajectories", "ls"])
        .arg(&out)
        .assert()
        .failure()
        .stderr(contains("t-00000.json"))
        .stderr(contains("truncated"));
    // Another format version.
    std::fs::write(&f, text.replace("\"format_version\":1", "\"format_version\":9")).unwrap();
    mixagent()
        .args(["trajectories", "show"])
        .arg(&f)
        .assert()
        .failure()
        .stderr(contains("format version 9, expected 1"));
}

#[test]
fn sample_writes_a_plan_and_reports_its_coverage() {
    if !raw_available() {
        return;
    }
    let (corpus, _) = fixture();
    let sample_with = |out: &Path, extra: &[&str]| {
        let mut c = mixagent();
        c.args(["trajectories", "sample", "--config"])
            .arg(config())
            .arg("--set")
            .arg(format!("corpus={}", corpus.display()))
            .args(["--set", "trajectories=64", "--set", "stages=6"]);
        for s in extra {
            c.args(["--set", s]);
        }
        c.arg("--out").arg(out).assert().success()
    };
    let sample = |out: &Path| sample_with(out, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("plan");
    sample(&out)
        .stdout(contains("64 trajectories × 6 stages"))
        .stdout(contains("effective domains"));
    let plan = read(&out.join("plan.json"));
    let trajs = plan["trajectories"].as_array().unwrap();
    assert_eq!(trajs.len(), 64);
    assert_eq!(plan["space"].as_array().unwrap().len(), 29);
    assert_eq!(trajs[5]["mixtures"].as_array().unwrap().len(), 6);
    let cov = read(&out.join("coverage.json"));
    assert!(cov["share_cells_covered"].as_f64().unwrap() > 0.8, "{cov}");
    // The same config gives the same plan.
    let again = tmp.path().join("again");
    sample(&again);
    assert_eq!(read(&again.join("plan.json")), plan);
    // Jitter within fields: the same families and target shares, other splits.
    let jittered = tmp.path().join("jittered");
    sample_with(&jittered, &["families.within_jitter=0.5"]);
    let other = read(&jittered.join("plan.json"));
    assert_ne!(other["trajectories"], plan["trajectories"]);
    let math: Vec<bool> =
        plan["space"].as_array().unwrap().iter().map(|d| d["field"] == "math").collect();
    let share = |m: &serde_json::Value| -> f64 {
        m.as_array()
            .unwrap()
            .iter()
            .zip(&math)
            .filter(|(_, t)| **t)
            .map(|(w, _)| w.as_f64().unwrap())
            .sum()
    };
    for (a, b) in trajs.iter().zip(other["trajectories"].as_array().unwrap()) {
        assert_eq!(a["family"], b["family"]);
        for (x, y) in
            a["mixtures"].as_array().unwrap().iter().zip(b["mixtures"].as_array().unwrap())
        {
            assert!((share(x) - share(y)).abs() < 1e-9);
        }
    }
    // Tilted toward an agent's prior (`--tilt-prior` reads its `agent.json`; own-field
    // evidence only): every trajectory at `tilted = 1`, the same families and target shares.
    let agent = tmp.path().join("agent");
    let prior = |evidence: serde_json::Value| {
        std::fs::create_dir_all(&agent).unwrap();
        let json = serde_json::json!({ "prior": { "runs": 5, "evidence": evidence } });
        std::fs::write(agent.join("agent.json"), json.to_string()).unwrap();
    };
    prior(
        serde_json::json!({ "brown_press": { "general": 0.8 }, "math_arithmetic": { "math": 0.6 } }),
    );
    let tilted = tmp.path().join("tilted");
    mixagent()
        .args(["trajectories", "sample", "--config"])
        .arg(config())
        .args(["--set", &format!("corpus={}", corpus.display())])
        .args(["--set", "trajectories=64", "--set", "stages=6", "--set", "families.tilted=1"])
        .arg("--tilt-prior")
        .arg(&agent)
        .arg("--out")
        .arg(&tilted)
        .assert()
        .success();
    let other = read(&tilted.join("plan.json"));
    for (a, b) in trajs.iter().zip(other["trajectories"].as_array().unwrap()) {
        assert!(b["tilt"].as_f64().is_some() && a["tilt"].is_null());
        assert_eq!(a["family"], b["family"]);
        let (x, y) = (&a["mixtures"][0], &b["mixtures"][0]);
        assert!((share(x) - share(y)).abs() < 1e-9);
    }
    assert_ne!(other["trajectories"], plan["trajectories"]);
    // Without a share to tilt, the flag is refused (it would change the collection's config).
    mixagent()
        .args(["trajectories", "sample", "--config"])
        .arg(config())
        .args(["--set", &format!("corpus={}", corpus.display()), "--tilt-prior"])
        .arg(&agent)
        .arg("--out")
        .arg(tmp.path().join("untilted"))
        .assert()
        .failure()
        .stderr(contains("add --set families.tilted=P"));
    // A prior with no evidence for a domain's own field is refused, by name.
    prior(serde_json::json!({ "math_arithmetic": { "general": 0.6 } }));
    mixagent()
        .args(["trajectories", "sample", "--config"])
        .arg(config())
        .args(["--set", &format!("corpus={}", corpus.display())])
        .args(["--set", "families.tilted=1", "--tilt-prior"])
        .arg(&agent)
        .arg("--out")
        .arg(tmp.path().join("refused"))
        .assert()
        .failure()
        .stderr(contains("holds no evidence for any domain of this space"));
    mixagent()
        .args(["trajectories", "sample", "--config"])
        .arg(config())
        .args(["--set", "families.within_jitter=-1", "--out"])
        .arg(tmp.path().join("refused"))
        .assert()
        .failure()
        .stderr(contains("within_jitter -1 must be in [0, 3]"));
}

/// `cpt --policy` on the smoke fixture: the arguments of a steered run into `out`.
fn cpt_args(out: &Path, policy: &str) -> Vec<std::ffi::OsString> {
    cpt_args_with(out, policy, &[])
}

fn cpt_args_with(out: &Path, policy: &str, extra: &[&str]) -> Vec<std::ffi::OsString> {
    let (corpus, base) = fixture();
    let mut a: Vec<std::ffi::OsString> = vec!["cpt".into(), "--policy".into(), policy.into()];
    a.extend(["--config".into(), config().into(), "--out".into(), out.into()]);
    a.extend(["--set".into(), format!("corpus={}", corpus.display()).into()]);
    a.extend(["--set".into(), format!("base={}", base.display()).into()]);
    for s in ["stages=5", "stage_tokens=8192"].iter().chain(extra) {
        a.extend(["--set".into(), s.into()]);
    }
    a.extend(["--threads".into(), "1".into()]);
    a
}

#[test]
fn a_policy_steers_cpt_and_a_killed_run_resumes_with_its_state() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // A fixed ratio: every stage 30% math, split by the math domains' token shares.
    let fixed = tmp.path().join("fixed");
    mixagent().args(cpt_args(&fixed, "fixed:0.7")).assert().success().stdout(contains("balanced"));
    let run = read(&fixed.join("run.json"));
    let space = run["space"].as_array().unwrap();
    for row in run["stages"].as_array().unwrap() {
        let math: f64 = space
            .iter()
            .zip(row["weights"].as_array().unwrap())
            .filter(|(e, _)| e["field"] == "math")
            .map(|(_, w)| w.as_f64().unwrap())
            .sum();
        assert!((math - 0.3).abs() < 1e-9, "{math}");
        assert!(row["observation"]["feedback"]["math"].is_f64());
        // Float32, the default, is left out of the record.
        assert!(row.get("train_precision").is_none() && row.get("observe_precision").is_none());
    }
    // Under `auto` every stage records what it resolved to on this machine.
    let auto = tmp.path().join("auto");
    let precision = ["train.precision=\"auto\"", "observe.precision=\"auto\"", "stages=2"];
    mixagent().args(cpt_args_with(&auto, "fixed:0.7", &precision)).assert().success();
    let resolved = if mixagent_lm::cpu_has_bf16() { Some("bf16") } else { None };
    for row in read(&auto.join("run.json"))["stages"].as_array().unwrap() {
        assert_eq!(row.get("train_precision").and_then(Value::as_str), resolved, "{row}");
        assert_eq!(row.get("observe_precision").and_then(Value::as_str), resolved, "{row}");
    }
    // The steered model is evaluable as a run folder.
    mixagent().args(["eval", "--suite", "feedback"]).arg(&fixed).assert().success();

    // ODM carries state between stages; kill a run after its second stage and resume it. At
    // field level (2 arms): over the 30 domains its exploration keeps it uniform for ~90 steps.
    let odm_args = |out: &Path| cpt_args_with(out, "odm", &["space.level=\"fields\""]);
    let clean = tmp.path().join("clean");
    mixagent().args(odm_args(&clean)).assert().success();
    let killed = tmp.path().join("killed");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mixagent"))
        .args(odm_args(&killed))
        .env("MIXAGENT_LOG", "warn")
        .spawn()
        .unwrap();
    let marker = killed.join("checkpoints/stage-002/run.json");
    let start = Instant::now();
    while !marker.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "the run never reached stage 2");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    mixagent().args(odm_args(&killed)).assert().success();
    let (a, b) = (
        without_times(read(&clean.join("run.json"))),
        without_times(read(&killed.join("run.json"))),
    );
    assert_eq!(b["stages"].as_array().unwrap().len(), 5, "each stage exactly once");
    assert_eq!(a, b, "the resumed run differs from the clean one");
    let first = a["stages"][0]["weights"].clone();
    assert_ne!(a["stages"][4]["weights"], first, "ODM moved its weights");
    // Exported, each field-level entry becomes its field's domains (a trainer has no dataset
    // named after a field), split by their training tokens.
    let export = mixagent()
        .args(["export", "--format", "megatron", "--path-template", "/data/{domain}", "--run"])
        .arg(&clean)
        .assert()
        .success();
    let megatron: Value = serde_json::from_slice(&export.get_output().stdout).unwrap();
    let paths = megatron["stages"][0]["data_path"].as_str().unwrap();
    let words: Vec<&str> = paths.split_whitespace().collect();
    assert!(
        words.contains(&"/data/brown_press")
            && words.contains(&"/data/math_algebra")
            && !words.contains(&"/data/general")
            && !words.contains(&"/data/math"),
        "{paths}"
    );

    // Another policy into the same folder is refused; unknown policies name the known ones.
    mixagent()
        .args(cpt_args_with(&killed, "dbl", &["space.level=\"fields\""]))
        .assert()
        .failure()
        .stderr(contains("policy `odm`"));
    mixagent()
        .args(cpt_args(&tmp.path().join("x"), "regmx"))
        .assert()
        .failure()
        .stderr(contains("fixed:<source share>"));
    mixagent()
        .args(cpt_args(&tmp.path().join("y"), "agent:/nowhere"))
        .assert()
        .failure()
        .stderr(contains("train-agent"));
}

#[test]
fn a_branch_from_a_runs_checkpoint_is_the_whole_run_up_to_its_stop() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let schedule = |name: &str, stages: Value| {
        let path = tmp.path().join(format!("{name}.json"));
        std::fs::write(&path, json!({ "name": name, "stages": stages }).to_string()).unwrap();
        format!("schedule:{}", path.display())
    };
    let even = json!({"brown_press": 1.0, "math_algebra": 1.0});
    let prefix = schedule("prefix", json!([even]));
    let branched = json!([even, even, {"brown_fiction": 3.0, "math_arithmetic": 1.0}, even]);
    let branch = schedule("branch", branched);
    // The prefix's first two stages, then the branch from its checkpoint for two more.
    let stem = tmp.path().join("prefix-run");
    mixagent().args(cpt_args_with(&stem, &prefix, &[])).args(["--until", "2"]).assert().success();
    assert_eq!(read(&stem.join("run.json"))["stages"].as_array().unwrap().len(), 2);
    let forked = tmp.path().join("forked");
    let fork_args = || {
        let mut a = cpt_args_with(&forked, &branch, &[]);
        a.extend(["--from".into(), stem.clone().into(), "--until".into(), "4".into()]);
        a
    };
    mixagent().args(fork_args()).assert().success();
    // The whole run of the branch's schedule, from the base.
    let whole = tmp.path().join("whole");
    mixagent().args(cpt_args_with(&whole, &branch, &[])).assert().success();
    let (f, w) = (
        without_times(read(&forked.join("run.json"))),
        without_times(read(&whole.join("run.json"))),
    );
    assert_eq!(f["policy"], json!(branch));
    assert_eq!(f["policy_identity"], w["policy_identity"]);
    assert_eq!(f["stages"].as_array().unwrap().len(), 4);
    assert_eq!(f["stages"].as_array().unwrap()[..], w["stages"].as_array().unwrap()[..4]);
    assert_eq!(f["initial"], w["initial"]);
    // Run again, the finished branch is left as it is.
    mixagent().args(fork_args()).assert().success();
    assert_eq!(without_times(read(&forked.join("run.json"))), f);
    // A branch whose policy would have trained the copied stages otherwise is refused.
    let departs = schedule("departs", json!([even, {"brown_fiction": 1.0, "math_algebra": 1.0}]));
    mixagent()
        .args(cpt_args_with(&tmp.path().join("departs"), &departs, &[]))
        .args(["--until", "3", "--from"])
        .arg(&stem)
        .assert()
        .failure()
        .stderr(contains("would not have trained stage 1 as the run it starts from did"));
    // A stop past the run's stages, and a start from a run without checkpoints, are refused.
    mixagent()
        .args(cpt_args_with(&tmp.path().join("late"), &branch, &[]))
        .args(["--until", "6"])
        .assert()
        .failure()
        .stderr(contains("cannot stop after stage 6: the run has 5 stages"));
    mixagent()
        .args(cpt_args_with(&tmp.path().join("orphan"), &branch, &[]))
        .args(["--from"])
        .arg(tmp.path().join("nowhere"))
        .assert()
        .failure()
        .stderr(contains("has no checkpoint to start from"));
}

#[test]
fn a_regrouped_space_steers_merged_domains() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let groups = r#"space.groups=[["brown_fiction", "brown_press", "brown_popular"], ["math_arithmetic", "math_algebra"]]"#;
    let out = tmp.path().join("dbl");
    let args = cpt_args_with(&out, "dbl", &["space.level=\"groups\"", groups, "stages=2"]);
    mixagent().args(&args).assert().success().stdout(contains("balanced"));
    let run = read(&out.join("run.json"));
    let names: Vec<&str> =
        run["space"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    // Each group is named by its members in the corpus's order and stands where the first
    // of them stood.
    let brown = names.iter().position(|n| n.contains('+') && n.contains("brown")).unwrap();
    assert_eq!(names[brown], "brown_press+brown_popular+brown_fiction");
    assert_eq!(names[brown + 1], "brown_learned");
    assert!(names.contains(&"math_algebra+math_arithmetic"), "{names:?}");
    assert!(names.contains(&"brown_learned") && !names.contains(&"brown_press"), "{names:?}");
    // The merged entry's tokens were read from its members, recorded by corpus domain.
    let tokens = run["stages"][0]["tokens_by_domain"].as_object().unwrap();
    let read_from = |d: &str| tokens.get(d).and_then(Value::as_u64).unwrap_or(0);
    let merged: u64 =
        ["brown_fiction", "brown_press", "brown_popular"].iter().map(|d| read_from(d)).sum();
    assert!(merged > 0 && !tokens.keys().any(|k| k.contains('+')), "{tokens:?}");
    // Exported, each group becomes its domains (a trainer has no dataset named after a group),
    // split by their training tokens; pre-flight reads the groups as entries.
    let export = mixagent()
        .args(["export", "--format", "megatron", "--path-template", "/data/{domain}", "--run"])
        .arg(&out)
        .assert()
        .success();
    let megatron: Value = serde_json::from_slice(&export.get_output().stdout).unwrap();
    let paths = megatron["stages"][0]["data_path"].as_str().unwrap();
    assert!(paths.contains("/data/brown_fiction") && !paths.contains('+'), "{paths}");
    mixagent()
        .args(["preflight", "--run"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("brown_press+brown_popular+brown_fiction"));
    // A group across fields is refused before training, naming both.
    let bad = r#"space.groups=[["brown_press", "math_algebra"]]"#;
    mixagent()
        .args(cpt_args_with(&tmp.path().join("bad"), "dbl", &["space.level=\"groups\"", bad]))
        .assert()
        .failure()
        .stderr(contains("mixes fields"))
        .stderr(contains("math_algebra"));
}

#[test]
fn compare_runs_every_policy_over_seeds_and_tables_them() {
    if !raw_available() {
        return;
    }
    let (corpus, base) = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("compare.toml");
    std::fs::write(
        &cfg,
        format!(
            "run = {:?}\nset = [\"corpus={}\", \"base={}\", \"stages=2\", \"stage_tokens=4096\"]\nseeds = [0, 1]\npolicies = [\"fixed:0.7\", \"odm\"]\ntask_items = 8\nstatic_observe_items = 6\n",
            config().display().to_string(),
            corpus.display(),
            base.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("cmp");
    let compare = |out: &Path| {
        let mut c = mixagent();
        c.args(["compare", "--workers", "2", "--threads", "1", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(out);
        c
    };
    let run = || compare(&out);
    run().assert().success().stdout(contains("| fixed:0.7 | 2 |")).stdout(contains("| odm | 2 |"));
    // The fixed ratio reads no feedback, so its runs observed `static_observe_items`; ODM's
    // the run config's.
    let observed = |slug: &str| {
        read(&out.join(format!("runs/{slug}/seed-0/run.json")))["config"]["observe"]
            ["items_per_field"]
            .clone()
    };
    assert_eq!((observed("fixed_0.7"), observed("odm")), (6.into(), 16.into()));
    let json = read(&out.join("table.json"));
    let table = &json["feedback"];
    assert_eq!(table["rows"].as_array().unwrap().len(), 2);
    let fixed =
        table["rows"].as_array().unwrap().iter().find(|r| r["policy"] == "fixed:0.7").unwrap();
    assert!((fixed["target_share"].as_f64().unwrap() - 0.3).abs() < 1e-9);
    assert!(fixed["balanced"][1].as_f64().unwrap() >= 0.0, "an interval over two seeds");
    // Seeds differ (data order), so the two runs of a policy are not copies.
    let a = read(&out.join("runs/fixed_0.7/seed-0/run.json"));
    let b = read(&out.join("runs/fixed_0.7/seed-1/run.json"));
    assert_ne!(a["stages"][1]["observation"], b["stages"][1]["observation"]);
    // Every final model and the base have benchmark scores: the base row first, then one
    // row per policy over both seeds, each task scored on its 8 items.
    let bench = &json["benchmarks"];
    assert_eq!(bench["base"]["seeds"], 1);
    let rows = bench["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["seeds"] == 2));
    let tasks = bench["tasks"].as_array().unwrap();
    assert!(tasks.iter().any(|t| t[1] == "general") && tasks.iter().any(|t| t[1] == "math"));
    assert!(bench["items"].as_object().unwrap().values().all(|n| n.as_u64() <= Some(8)));
    let md = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(md.contains("| base (before CPT) | 1 |") && md.contains("overall avg"), "{md}");
    // The plots and the self-contained report.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 2, "mixture and scores figures inlined");
    assert!(!html.contains("src=\"http") && !html.contains("<script"), "self-contained");
    assert!(html.contains("Benchmarks of the final models") && html.contains("odm"));
    let mixture = std::fs::read_to_string(out.join("mixture.svg")).unwrap();
    assert!(mixture.contains("<polygon") && !mixture.contains("NaN"));
    screenshot(&out.join("report.html"), &tmp.path().join("report.png"));
    // A rerun finds every run finished and evaluated and only rebuilds the tables.
    run().assert().success().stderr(contains("(0 jobs to do"));
    // A finished run trained from another base (copied from another machine, say) is refused,
    // not tabled.
    let copied = out.join("runs/odm/seed-1/run.json");
    let original = std::fs::read_to_string(&copied).unwrap();
    let mut other = read(&copied);
    other["base"]["fingerprint"] = "0123456789abcdef".into();
    std::fs::write(&copied, other.to_string()).unwrap();
    run()
        .assert()
        .failure()
        .stderr(contains("runs/odm/seed-1 (trained from base 0123456789abcdef"));
    // Unless the config names that base as an equivalent copy (the same pretraining on another
    // machine): then the run is tabled and the report says which base trained how many runs.
    let plain = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{plain}equivalent_bases = [\"0123456789abcdef\"]\n")).unwrap();
    run().assert().success().stderr(contains("(0 jobs to do"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("0123456789abcdef (1 runs)") && html.contains("(3 runs)"), "{html}");
    // A listed base must be the same command's output: another model size is refused.
    other["base"]["params"] = 7.into();
    std::fs::write(&copied, other.to_string()).unwrap();
    run()
        .assert()
        .failure()
        .stderr(contains("an equivalent base must come from the same pretrain command"));
    std::fs::write(&cfg, plain).unwrap();
    // So is one run on the corpus as it was before it was prepared again (other feedback).
    let mut other = read(&copied);
    assert!(other["corpus_fingerprint"].as_str().is_some_and(|f| f.len() == 16), "{other}");
    other["corpus_fingerprint"] = "0123456789abcdef".into();
    std::fs::write(&copied, other.to_string()).unwrap();
    run()
        .assert()
        .failure()
        .stderr(contains("runs/odm/seed-1 (run on corpus"))
        .stderr(contains("fingerprint 0123456789abcdef), but the corpus is"));
    std::fs::write(&copied, original).unwrap();
    // `final_items`: the final score is read from the base and every final model scored on
    // that many feedback items (no run is trained again), not from the runs' last observation.
    let plain = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{plain}final_items = 24\n")).unwrap();
    run().assert().success().stderr(contains("(5 jobs to do"));
    let feedback = |path: &Path, field: &str| {
        let report = read(path);
        let f = report["feedback"].as_array().unwrap().iter().find(|f| f["field"] == field);
        let f = f.unwrap().clone();
        assert_eq!(f["items"], 24, "{}", path.display());
        f["feedback"].as_f64().unwrap()
    };
    let base_general = feedback(&out.join("base-final-feedback-24.json"), "general");
    let expected = (0..2)
        .map(|s| {
            let run = out.join(format!("runs/fixed_0.7/seed-{s}/final-feedback-24.json"));
            (feedback(&run, "general") - base_general) / base_general.abs()
        })
        .sum::<f64>()
        / 2.0;
    let rows = read(&out.join("table.json"))["feedback"]["rows"].clone();
    let fixed = rows.as_array().unwrap().iter().find(|r| r["policy"] == "fixed:0.7").unwrap();
    let general = fixed["fields"]["general"][0].as_f64().unwrap();
    assert!((general - expected).abs() < 1e-9, "{general} vs {expected}");
    // A final score against a base scored on other items is refused, naming both files.
    let base_final = out.join("base-final-feedback-24.json");
    let scored = std::fs::read_to_string(&base_final).unwrap();
    let mut other = read(&base_final);
    other["feedback"][0]["fingerprint"] = "0123456789abcdef".into();
    std::fs::write(&base_final, other.to_string()).unwrap();
    run().assert().failure().stderr(contains("another feedback suite"));
    std::fs::write(&base_final, scored).unwrap();
    // The records a reading keeps across machines (scripts/runs-archive.sh): no checkpoints,
    // yet a compare on the unpacked folder finds every run finished and scored, and tables it
    // as the original did.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/runs-archive.sh");
    let (archive, moved) = (tmp.path().join("runs.tar.xz"), tmp.path().join("moved"));
    for args in [
        ["pack", out.to_str().unwrap(), archive.to_str().unwrap()],
        ["unpack", archive.to_str().unwrap(), moved.to_str().unwrap()],
    ] {
        let status = std::process::Command::new("bash").arg(&script).args(args).status().unwrap();
        assert!(status.success(), "runs-archive {args:?}");
    }
    assert!(moved.join("runs/odm/seed-0/final-feedback-24.json").exists());
    assert!(!moved.join("runs/odm/seed-0/checkpoints").exists());
    compare(&moved).assert().success().stderr(contains("(0 jobs to do"));
    assert_eq!(
        read(&moved.join("table.json"))["feedback"],
        read(&out.join("table.json"))["feedback"]
    );
    // A record archived before it was scored has no checkpoint to score it with: it is trained
    // again (the same seed gives the same run) and scored, not left to fail the evaluation.
    std::fs::remove_file(moved.join("runs/odm/seed-0/final-feedback-24.json")).unwrap();
    compare(&moved)
        .assert()
        .success()
        .stderr(contains("(1 jobs to do"))
        .stderr(contains("runs/odm/seed-0 is finished but unscored and has no checkpoint"));
    assert_eq!(
        read(&moved.join("table.json"))["feedback"],
        read(&out.join("table.json"))["feedback"]
    );
    std::fs::write(&cfg, plain).unwrap();
    // A bad policy is reported with the log that says why.
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg).unwrap().replace("\"odm\"", "\"odm\", \"regmx\""),
    )
    .unwrap();
    run().assert().failure().stderr(contains("regmx seed 0")).stderr(contains(".log"));
}

/// Renders `html` in headless Chromium (Debian `chromium`; `scripts/test.sh` installs it) and
/// checks the screenshot: a PNG of the window's size, not a blank page.
fn screenshot(html: &Path, png: &Path) {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no headless Chromium: install Debian `chromium` (scripts/test.sh does)");
    let profile = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,1800")
        .arg(format!("file://{}", html.canonicalize().unwrap().display()))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let bytes = std::fs::read(png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), (1400, 1800), "IHDR width and height");
    // A blank white page of this size compresses to a few kB; tables and plots do not.
    assert!(
        bytes.len() > 30_000,
        "screenshot of {} is {} bytes: blank?",
        html.display(),
        bytes.len()
    );
}

#[test]
fn demo_outside_the_repository_root_says_where_to_run_it() {
    let tmp = tempfile::tempdir().unwrap();
    mixagent()
        .current_dir(tmp.path())
        .arg("demo")
        .assert()
        .failure()
        .stderr(contains("configs/default.toml not found"))
        .stderr(contains("repository root"));
    for bad in ["1.5", "NaN", "-0.1"] {
        mixagent()
            .current_dir(tmp.path())
            .args(["demo".to_string(), format!("--base-math={bad}")])
            .assert()
            .failure()
            .stderr(contains(format!("--base-math {bad} is not a share in [0, 1)")));
    }
}

/// The agent's cpt run seen from outside: `mixagent next` on a state holding the run's first
/// stage decides what cpt decided for its second; `export` and `preflight` read the run; a
/// policy that reads feedback has no schedule to export.
fn controller_export_and_preflight(agent: &Path, run_dir: &Path, tmp: &Path) {
    let (corpus, _) = fixture();
    let run = read(&run_dir.join("run.json"));
    let manifest = mixagent_shard::Manifest::load(corpus).unwrap();
    let domains: Vec<Value> = run["space"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap();
            let d = manifest.domains.iter().find(|d| d.name == name).unwrap();
            serde_json::json!({"name": name, "field": e["field"], "tokens": d.train.tokens})
        })
        .collect();
    let stage0 = &run["stages"][0];
    let names: Vec<&str> = domains.iter().map(|d| d["name"].as_str().unwrap()).collect();
    let weights: serde_json::Map<String, Value> = names
        .iter()
        .zip(stage0["weights"].as_array().unwrap())
        .map(|(n, w)| (n.to_string(), w.clone()))
        .collect();
    let state = serde_json::json!({
        "format_version": 1,
        "policy": format!("agent:{}", agent.display()),
        "total_stages": 2,
        "domains": domains,
        "initial": run["initial"],
        "stages": [{"weights": weights, "observation": stage0["observation"], "tokens": stage0["tokens"]}],
    });
    let state_path = tmp.join("state.json");
    std::fs::write(&state_path, serde_json::to_string(&state).unwrap()).unwrap();
    let out = mixagent().args(["next", "--state"]).arg(&state_path).assert().success();
    let answer: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(answer["stage"], 1);
    for (n, w) in names.iter().zip(run["stages"][1]["weights"].as_array().unwrap()) {
        let got = answer["weights"][n].as_f64().unwrap();
        assert!((got - w.as_f64().unwrap()).abs() < 1e-12, "{n}: next {got} vs cpt {w}");
    }
    // A state whose feedback lacks a field is refused, naming the file and the field.
    let mut bad = state.clone();
    bad["initial"]["feedback"].as_object_mut().unwrap().remove("math");
    std::fs::write(&state_path, serde_json::to_string(&bad).unwrap()).unwrap();
    mixagent()
        .args(["next", "--state"])
        .arg(&state_path)
        .assert()
        .failure()
        .stderr(contains("state.json"))
        .stderr(contains("no feedback for field `math`"));

    let out = mixagent()
        .args(["export", "--format", "megatron", "--path-template", "/data/{domain}", "--run"])
        .arg(run_dir)
        .assert()
        .success();
    let megatron: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(megatron["stages"].as_array().unwrap().len(), 2);
    assert!(megatron["stages"][0]["data_path"].as_str().unwrap().contains("/data/brown_press"));
    mixagent()
        .args(["preflight", "--run"])
        .arg(run_dir)
        .assert()
        .success()
        .stdout(contains("pre-flight: 2 stages"))
        .stdout(contains("brown_press"));
    mixagent()
        .args(["export", "--format", "hf", "--policy", &format!("agent:{}", agent.display())])
        .arg("--config")
        .arg(config())
        .args(["--set", &format!("corpus={}", corpus.display())])
        .assert()
        .failure()
        .stderr(contains("decides each stage from the model's feedback"));
    let nanotron = tmp.join("fixed.yaml");
    mixagent()
        .args(["export", "--format", "nanotron", "--policy", "fixed:0.7", "--config"])
        .arg(config())
        .args(["--set", &format!("corpus={}", corpus.display()), "--out"])
        .arg(&nanotron)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&nanotron).unwrap().contains("start_training_step: 1"));
}

#[test]
fn headroom_measures_the_gates_with_paired_seeds_and_resumes() {
    if !raw_available() {
        return;
    }
    let (corpus, base) = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("headroom.toml");
    let write = |confirm: &str| {
        std::fs::write(
            &cfg,
            format!(
                "run = {:?}\nset = [\"corpus={}\", \"base={}\", \"stages=2\", \"stage_tokens=2048\"]\nproxy_set = [\"base={}\"]\nbranch_set = [\"observe.items_per_field=12\"]\nselection_seeds = [0, 1]\nrelevance_seeds = [0, 2]\nconfirm_seeds = {confirm}\nbranch_seeds = [5, 6, 7]\nstatics = 2\ntask_items = 8\nfinal_items = 16\n",
                config().display().to_string(),
                corpus.display(),
                base.display(),
                base.display()
            ),
        )
        .unwrap()
    };
    // Confirming on a seed the choice was made on is refused.
    write("[1, 5]");
    let out = tmp.path().join("hr");
    let run = || {
        let mut c = mixagent();
        c.args(["headroom", "--workers", "2", "--threads", "1", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out);
        c
    };
    run().assert().failure().stderr(contains("both a selection and a confirmation seed"));
    write("[5, 6]");
    run().assert().success().stdout(contains("| G1 |")).stdout(contains("reward variance ("));
    let report = read(&out.join("headroom.json"));
    // 16 general + 13 math domains, each with its help over the 2 relevance seeds (0 and 2:
    // their own key, apart from the selection seeds 0 and 1).
    let relevance = report["relevance"].as_array().unwrap();
    assert_eq!(relevance.len(), 29);
    assert!(relevance.iter().all(|r| r["help"]["n"] == 2), "{relevance:?}");
    let seeds_run: std::collections::BTreeSet<String> =
        std::fs::read_dir(out.join("relevance/runs"))
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
            .map(|s| s.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(seeds_run, ["seed-0", "seed-2"].map(String::from).into());
    let md = std::fs::read_to_string(out.join("headroom.md")).unwrap();
    assert!(md.contains("relevance seeds [0, 2], selection seeds [0, 1]"), "{md}");
    let gates: Vec<&str> =
        report["gates"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(gates, ["G0", "G1", "G2", "G3", "G4", "G5"]);
    // G5 was read from three mixtures branched at the middle stage (uniform and the two static
    // draws) on the branch seeds, with the static mixtures' replicated runs beside it.
    assert!(report["gates"][5]["pass"].is_boolean(), "{}", report["gates"][5]);
    assert!(report["gates"][5]["figure"].as_str().unwrap().contains("shared state"));
    assert_eq!(report["branch"]["stage"], 1);
    assert_eq!(report["branch"]["shared_prefix"], true);
    assert_eq!(report["branch"]["model"], "proxy");
    assert_eq!(
        (report["branch"]["mixtures"].as_u64(), report["branch"]["seeds"].as_u64()),
        (Some(3), Some(3)),
        "three mixtures on the three `branch_seeds`"
    );
    assert!(report["mixture_share"]["per_stage"].as_array().is_some_and(|v| !v.is_empty()));
    // `branch_set` reached the branch runs only.
    let observed = |phase: &str| {
        let first = |dir: PathBuf| std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
        let run = first(first(out.join(phase).join("runs")));
        read(&run.join("run.json"))["config"]["observe"]["items_per_field"].clone()
    };
    assert_eq!((observed("branch"), observed("statics-proxy")), (12.into(), 16.into()));
    // Each branch ran from its seed's shared prefix to the run's end (one stage after the
    // branched one), and left no checkpoints behind.
    let branch_runs: Vec<PathBuf> = std::fs::read_dir(out.join("branch/runs"))
        .unwrap()
        .flat_map(|p| std::fs::read_dir(p.unwrap().path()).unwrap())
        .map(|r| r.unwrap().path())
        .collect();
    assert_eq!(branch_runs.len(), 9, "three mixtures × three seeds");
    for run in &branch_runs {
        assert_eq!(read(&run.join("run.json"))["stages"].as_array().unwrap().len(), 2);
        assert!(!run.join("checkpoints").exists(), "{}", run.display());
    }
    assert!(!out.join("branch/prefix").exists());
    // A finished branch run of other settings is refused, not read into G5.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let other = text.replace("observe.items_per_field=12", "observe.items_per_field=13");
    std::fs::write(&cfg, other).unwrap();
    run().assert().failure().stderr(contains("branch runs were run with other settings"));
    std::fs::write(&cfg, text).unwrap();
    // G0 was measured: the base and a target-only model were scored on the benchmark suite.
    assert!(report["gates"][0]["pass"].is_boolean(), "{}", report["gates"][0]);
    assert!(out.join("benchmarks/base-eval-full.json").exists());
    // ... the base once: G0 reuses the confirm phase's score of it.
    assert!(out.join("confirm/logs/base-eval.log").exists());
    assert!(!out.join("benchmarks/logs/base-eval.log").exists());
    // G2's benchmark half: the confirmation runs were scored too, paired over both seeds.
    assert_eq!(report["benchmark_gain"]["overall"]["n"], 2, "{}", report["benchmark_gain"]);
    assert!(report["benchmark_gain"]["tasks"].as_array().is_some_and(|t| !t.is_empty()));
    assert!(report["gates"][2]["figure"].as_str().unwrap().contains("benchmark average"));
    // uniform, proportional, two draws, and the two relevance-built mixtures when they exist.
    assert!(report["statics"].as_array().unwrap().len() >= 4);
    assert_eq!(
        report["statics"].as_array().unwrap().len(),
        report["statics_on_proxy"].as_array().unwrap().len()
    );
    // uniform, the best static and the dynamic schedules (anneal-helpful only when every field
    // has a helpful domain).
    let confirmed: Vec<&str> = report["confirm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    for label in ["uniform", "best-static", "ramp", "ramp-down", "target-then-replay", "anneal-top"]
    {
        assert!(confirmed.contains(&label), "{label} not in {confirmed:?}");
    }
    // A schedule equal to the best static mixture at every stage is not run again.
    if report["statics"][0]["label"] == "helpful-only" {
        assert!(!confirmed.contains(&"anneal-helpful"), "{confirmed:?}");
    }
    for row in report["confirm"].as_array().unwrap() {
        let seeds: Vec<u64> = row["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["seed"].as_u64().unwrap())
            .collect();
        assert_eq!(seeds, [5, 6], "{}", row["label"]);
    }
    // Every phase read its final scores from the base and the final models scored on 16
    // feedback items a field, not from the runs' last observation.
    let uniform = &report["confirm"][0];
    assert_eq!(uniform["label"], "uniform");
    let spec = uniform["spec"].as_str().unwrap();
    let dir = out.join("confirm/runs").join(mixagent_report::policy_slug(spec));
    let feedback = |path: &Path| -> Vec<f64> {
        let report = read(path);
        let f = report["feedback"].as_array().unwrap().clone();
        assert!(f.iter().all(|f| f["items"] == 16), "{}", path.display());
        f.iter().map(|f| f["feedback"].as_f64().unwrap()).collect()
    };
    let base = feedback(&out.join("confirm/base-final-feedback-16.json"));
    let last = feedback(&dir.join("seed-5/final-feedback-16.json"));
    let expected = (0..2).map(|i| (last[i] - base[i]) / base[i].abs()).sum::<f64>() / 2.0;
    let outcome = &uniform["outcomes"][0];
    assert_eq!(outcome["seed"], 5);
    let balanced = outcome["balanced"].as_f64().unwrap();
    assert!((balanced - expected).abs() < 1e-9, "{balanced} vs {expected}");
    assert!(out.join("relevance.svg").exists());
    // Rerun: every run is finished, nothing is retrained, the report is the same.
    run().assert().success();
    assert_eq!(read(&out.join("headroom.json")), report);

    // Relevance beside uniform: half a field's uniform share on each of its domains in turn,
    // against a uniform run of the same seed, in a phase of its own (the single-domain runs
    // stay where they are).
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}relevance = \"beside-uniform\"\n")).unwrap();
    run()
        .assert()
        .success()
        .stdout(contains("half of the domain's field's share moved onto the domain"));
    let beside = read(&out.join("headroom.json"));
    assert_eq!(beside["relevance_method"], "beside-uniform");
    let relevance = beside["relevance"].as_array().unwrap();
    assert_eq!(relevance.len(), 29);
    assert!(relevance.iter().all(|r| r["help"]["n"] == 2), "{relevance:?}");
    // A domain's help is its field's change minus the uniform run's, seed by seed.
    let phase = out.join("relevance-beside-uniform");
    let run_of = |label: &str| {
        let schedule = std::fs::read_dir(out.join("schedules"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{label}-")))
            .unwrap_or_else(|| panic!("no schedule named {label}"));
        let spec = format!("schedule:{}", std::fs::canonicalize(schedule).unwrap().display());
        phase.join("runs").join(mixagent_report::policy_slug(&spec))
    };
    // The run moves half of general's share onto brown_press and keeps the field split.
    let schedule = std::fs::read_dir(out.join("schedules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("beside-brown_press-"))
        .unwrap();
    let weights = read(&schedule)["stages"][0].as_object().unwrap().clone();
    let total: f64 = weights.values().map(|w| w.as_f64().unwrap()).sum();
    let general: f64 = relevance
        .iter()
        .filter(|r| r["field"] == "general")
        .map(|r| weights[r["domain"].as_str().unwrap()].as_f64().unwrap())
        .sum();
    assert!((general / total - 16.0 / 29.0).abs() < 1e-9, "{weights:?}");
    let press_share = weights["brown_press"].as_f64().unwrap() / total;
    assert!((press_share - (0.5 / 29.0 + 0.5 * 16.0 / 29.0)).abs() < 1e-9, "{press_share}");
    let base = feedback(&phase.join("base-final-feedback-16.json"));
    let change = |label: &str, seed: u64| {
        let f = feedback(&run_of(label).join(format!("seed-{seed}/final-feedback-16.json")));
        (f[0] - base[0]) / base[0].abs() // general: the first field
    };
    let press = relevance.iter().find(|r| r["domain"] == "brown_press").unwrap();
    let expected =
        [0, 2].map(|s| change("beside-brown_press", s) - change("uniform", s)).iter().sum::<f64>()
            / 2.0;
    let help = press["help"]["mean"].as_f64().unwrap();
    assert!((help - expected).abs() < 1e-9, "{help} vs {expected}");

    // G5 over the mixtures a collection trains an agent on: the branched stage of the plan's
    // first trajectories (the run config and the branch phase's overrides), beside uniform.
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}branch_mixtures = \"collection\"\nbranches = 4\n"))
        .unwrap();
    run().assert().success().stderr(contains("the collection's first trajectories"));
    let report = read(&out.join("headroom.json"));
    assert_eq!(report["branch"]["mixtures"], 4, "{}", report["branch"]);
    assert!(report["gates"][5]["figure"].as_str().unwrap().contains("each field's half alone"));
    let plan_dir = tmp.path().join("plan");
    mixagent()
        .args(["trajectories", "sample", "--config"])
        .arg(config())
        .args(["--set", &format!("corpus={}", fixture().0.display())])
        .args(["--set", &format!("base={}", fixture().1.display()), "--set", "stages=2"])
        .args(["--set", "stage_tokens=2048", "--out"])
        .arg(&plan_dir)
        .assert()
        .success();
    let plan = read(&plan_dir.join("plan.json"));
    let names: Vec<&str> =
        plan["space"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    for i in 0..3 {
        let schedule = std::fs::read_dir(out.join("schedules"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(&format!("branch-{:02}-", i + 1))
                    && read(p)["stages"][1].as_object().unwrap().len() == names.len()
                    && (0..names.len()).all(|j| {
                        let w = read(p)["stages"][1][names[j]].as_f64().unwrap();
                        let planned = plan["trajectories"][i]["mixtures"][1][j].as_f64().unwrap();
                        (w - planned).abs() < 1e-12
                    })
            });
        assert!(schedule.is_some(), "no branch schedule holds trajectory {i}'s stage 1");
    }
    // The same branches on the target model, in a folder of their own.
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}branch_on_target = true\n")).unwrap();
    run().assert().success().stderr(contains("seeds on the target"));
    let report = read(&out.join("headroom.json"));
    assert_eq!(report["branch"]["model"], "target", "{}", report["branch"]);
    assert_eq!(report["branch"]["mixtures"], 4, "{}", report["branch"]);
    assert!(out.join("branch-target/runs").is_dir());
}

/// A user's corpus with fields of its own (`source`, `target`), as JSONL.
fn user_corpus(dir: &Path, extra: &str) -> PathBuf {
    let words = ["river", "stone", "market", "lantern", "orchard", "harbour", "violin", "meadow"];
    let mut jsonl = String::new();
    for (domain, field, k) in [
        ("letters", "source", 0),
        ("stories", "source", 2),
        ("proofs", "target", 4),
        ("tables", "target", 6),
    ] {
        for i in 0..40 {
            let text: Vec<String> =
                (0..60).map(|j| format!("{}{}", words[(k + i * j) % 8], (i + j) % 10)).collect();
            let sentences: Vec<String> = text.chunks(10).map(|c| c.join(" ")).collect();
            jsonl.push_str(&serde_json::json!({"text": sentences.join(". ") + ".", "domain": domain, "field": field}).to_string());
            jsonl.push('\n');
        }
    }
    std::fs::write(dir.join("corpus.jsonl"), jsonl).unwrap();
    let cfg = dir.join("corpus.toml");
    std::fs::write(&cfg, format!("vocab_size = 300\nheldout_fraction = 0.2\n[[source]]\ntype = \"jsonl\"\npath = \"corpus.jsonl\"\n{extra}")).unwrap();
    let out = dir.join("corpus");
    mixagent().args(["prepare", "--config"]).arg(&cfg).arg("--out").arg(&out).assert().success();
    out
}

#[test]
fn a_users_corpus_with_its_own_fields_runs_end_to_end_or_fails_before_the_first_run() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The user's own benchmark task for `target`, beside the corpus config.
    let item = |p: &str, a: &str, b: &str| {
        serde_json::json!({"task": "my_pairs", "field": "target", "prompt": p, "options": [a, b], "correct": 0})
            .to_string()
    };
    std::fs::write(
        tmp.path().join("tasks.jsonl"),
        [item("The lantern", " meadow", " violin"), item("A stone", " river", " orchard")]
            .join("\n"),
    )
    .unwrap();
    let corpus = user_corpus(tmp.path(), "[[task]]\npath = \"tasks.jsonl\"\n");
    let base = tmp.path().join("base");
    let pretrain = |field: &[&str]| {
        let mut c = mixagent();
        c.args(["pretrain", "--preset", "smoke", "--tokens", "8192", "--threads", "1"])
            .args(field)
            .args(["--batch-size", "4", "--seq-len", "64", "--corpus"])
            .arg(&corpus)
            .arg("--out")
            .arg(&base);
        c
    };
    // A built-in field name is refused naming the flag and the corpus's own fields ...
    pretrain(&["--field", "general"])
        .assert()
        .failure()
        .stderr(contains("--field `general`: no such field"))
        .stderr(contains("(it has: source, target)"));
    // ... and without `--field` the base learns the corpus's first field.
    pretrain(&[]).assert().success();
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("run.json")).unwrap()).unwrap();
    assert!(run.to_string().contains("\"source\""), "{run}");
    assert!(!run.to_string().contains("\"target\""), "{run}");
    // `eval` reads every field of the corpus by default.
    mixagent()
        .args(["eval", "--threads", "1", "--items", "4", "--windows", "1"])
        .arg(&base)
        .assert()
        .success()
        .stdout(contains("source"))
        .stdout(contains("target"));
    let compare = |corpus: &Path, out: &Path| {
        let cfg = out.with_extension("toml");
        std::fs::write(
            &cfg,
            format!(
                "run = {:?}\nset = [\"corpus={}\", \"base={}\", \"stages=2\", \"stage_tokens=1024\", 'space.fields=[\"source\", \"target\"]', \"observe.items_per_field=4\"]\nseeds = [0]\npolicies = [\"uniform\"]\n",
                config().display().to_string(),
                corpus.display(),
                base.display()
            ),
        )
        .unwrap();
        let mut c = mixagent();
        c.args(["compare", "--workers", "1", "--threads", "1", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(out);
        c
    };
    // Its fields get the text tasks of their held-out documents, and `target` the user's own.
    let out = tmp.path().join("cmp");
    compare(&corpus, &out).assert().success().stdout(contains("| uniform | 1 |"));
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    for task in ["Benchmarks", "source_word_order", "target_word_order", "my_pairs"] {
        assert!(table.contains(task), "{task} missing from:\n{table}");
    }
    // Feedback sets for `source` only: refused before any run starts, naming the fix.
    let dir = tmp.path().join("partial");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("val.jsonl"),
        "{\"prompt\": \"The river\", \"answer\": \" stone\", \"field\": \"source\"}\n",
    )
    .unwrap();
    let partial = user_corpus(&dir, "[[feedback]]\nbuilder = \"jsonl\"\npath = \"val.jsonl\"\n");
    let out = tmp.path().join("cmp2");
    compare(&partial, &out)
        .assert()
        .failure()
        .stderr(contains("feedback suite of field `target`"))
        .stderr(contains("add a [[feedback]] table for `target`"));
    assert!(!out.join("runs").exists(), "no run started");
}

/// `bench collect` measures a collection against a baseline binary on the same plan. With this
/// binary as its own baseline the two collections must agree to the bit (the check the bench
/// prints would show any nondeterminism), and the table has both rows and their ratio.
#[test]
fn bench_collect_runs_both_binaries_on_one_plan_and_compares_them() {
    if !raw_available() {
        return;
    }
    let (corpus, _) = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = mixagent()
        .current_dir(&root)
        .args(["bench", "collect", "--scales", "smoke", "--trajectories", "1", "--repeats", "1"])
        .arg("--baseline")
        .arg(assert_cmd::cargo::cargo_bin("mixagent"))
        .arg("--corpus")
        .arg(corpus)
        .arg("--work")
        .arg(tmp.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("| smoke | baseline |") && text.contains("| smoke | this |"), "{text}");
    assert!(text.contains("smoke: this / baseline = "), "{text}");
    assert!(
        text.contains("same planned mixtures: true; largest difference of an observation: feedback 0.0e0, held-out loss 0.0e0"),
        "{text}"
    );
}

#[test]
fn mixmin_trains_a_proxy_per_entry_solves_the_mixture_and_runs_it_as_a_policy() {
    if !raw_available() {
        return;
    }
    let (corpus, base) = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mixmin");
    let run = || {
        let mut c = mixagent();
        c.args(["mixmin", "--workers", "2", "--threads", "1", "--run"]).arg(config());
        for s in [
            format!("corpus={}", corpus.display()),
            format!("base={}", base.display()),
            "stages=2".into(),
            "stage_tokens=2048".into(),
        ] {
            c.args(["--set", &s]);
        }
        c.arg("--out").arg(&out);
        c
    };
    run().assert().success().stdout(contains("predicted balanced score: MixMin"));
    let r = read(&out.join("mixmin.json"));
    let weights = r["weights"].as_object().unwrap();
    let plan = read(
        &out.join("proxies/runs")
            .read_dir()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("seed-0/run.json"),
    );
    assert_eq!(weights.len(), plan["space"].as_array().unwrap().len(), "one weight per entry");
    let sum: f64 = weights.values().map(|w| w.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-9 && weights.values().all(|w| w.as_f64().unwrap() >= 0.0));
    // The solution is the optimum of a concave objective over the simplex: at least as good
    // as uniform and as every entry alone.
    let p = &r["predicted"];
    let best = p["mixmin"].as_f64().unwrap();
    assert!(best >= p["uniform"].as_f64().unwrap() - 1e-9, "{p}");
    assert!(p["single"].as_object().unwrap().values().all(|s| best >= s.as_f64().unwrap() - 1e-9));
    // A rerun resumes: every proxy is finished and the same mixture comes out.
    run().assert().success().stderr(contains("(0 jobs to do"));
    assert_eq!(read(&out.join("mixmin.json"))["weights"], r["weights"]);
    // The mixture steers a CPT run as the static policy `mixmin:DIR`.
    let cpt = tmp.path().join("cpt");
    mixagent()
        .args(cpt_args_with(&cpt, &format!("mixmin:{}", out.display()), &["stages=2"]))
        .assert()
        .success();
    let steered = read(&cpt.join("run.json"));
    let space: Vec<&str> =
        steered["space"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    for row in steered["stages"].as_array().unwrap() {
        for (name, w) in space.iter().zip(row["weights"].as_array().unwrap()) {
            let want = weights[*name].as_f64().unwrap();
            assert!((w.as_f64().unwrap() - want).abs() < 1e-9, "{name}: {w} vs {want}");
        }
    }
}
