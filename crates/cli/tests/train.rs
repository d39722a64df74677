//! CLI tests of `pretrain` and `cpt` on the real `smoke` corpus: the loss falls on real data,
//! CPT under a schedule logs per-domain losses, and a base from another corpus is refused.

use std::fs;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

mod common;
use common::{mixagent, prepare_smoke, raw_available};

/// The small training settings every run of these tests shares.
const COMMON: [&str; 8] =
    ["--threads", "2", "--batch-size", "8", "--seq-len", "64", "--warmup-steps", "5"];

/// `mixagent pretrain` of the smoke preset on `tokens` of `corpus` into `out`, with the common
/// settings; the caller adds its own flags and asserts.
fn pretrain(corpus: &Path, out: &Path, tokens: &str) -> assert_cmd::Command {
    let mut cmd = mixagent();
    cmd.args(["pretrain", "--preset", "smoke", "--tokens", tokens, "--corpus"])
        .arg(corpus)
        .arg("--out")
        .arg(out)
        .args(COMMON);
    cmd
}

fn metrics(run: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn pretrain_then_cpt_on_the_real_smoke_corpus() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = prepare_smoke(tmp.path());

    // Base: smoke preset on the general field only.
    let base = tmp.path().join("base");
    pretrain(&corpus, &base, "40960")
        .args(["--checkpoint-every", "40"])
        .assert()
        .success()
        .stdout(contains("80 steps"));
    let m = metrics(&base);
    let first = m[0]["loss"].as_f64().unwrap();
    let last = m.last().unwrap()["loss"].as_f64().unwrap();
    assert!(last < first - 0.5, "pretraining loss on real text should fall: {first} → {last}");
    assert!(m.iter().all(|l| l["domain_loss"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("math"))));

    // Another source mix (`--mix`): only the listed domains, weights normalised; a domain
    // that does not exist or a NaN weight is refused with the reason.
    let mixed = tmp.path().join("base-mix");
    pretrain(&corpus, &mixed, "4096")
        .args(["--mix", "brown_press=1,dictionary=3"])
        .assert()
        .success();
    let spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(mixed.join("run.json")).unwrap()).unwrap();
    assert_eq!(spec["schedule"]["stages"][0]["weights"]["dictionary"], 0.75);
    let seen: Vec<String> = metrics(&mixed)
        .iter()
        .flat_map(|l| l["domain_loss"].as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert!(seen.iter().all(|d| d == "brown_press" || d == "dictionary"), "{seen:?}");
    assert_eq!(spec["space"]["fields"], serde_json::json!(["general"]));
    // Domains of another field join the mix, and their field the space (source first).
    let with_math = tmp.path().join("base-mix-math");
    pretrain(&corpus, &with_math, "4096")
        .args(["--mix", "math_algebra=1,brown_press=3"])
        .assert()
        .success();
    let spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(with_math.join("run.json")).unwrap()).unwrap();
    assert_eq!(spec["space"]["fields"], serde_json::json!(["general", "math"]));
    assert_eq!(spec["schedule"]["stages"][0]["weights"]["math_algebra"], 0.25);
    for (bad, says) in
        [("brown_pres=1", "--mix `brown_pres`: no such domain"), ("dictionary=NaN", "finite")]
    {
        pretrain(&corpus, &tmp.path().join("bad-mix"), "4096")
            .args(["--mix", bad])
            .assert()
            .failure()
            .stderr(contains(says));
    }

    // A base that has read a little of another field (`--also math=0.2`): math domains are
    // trained on; a share that leaves nothing for the source field is refused.
    let also = tmp.path().join("base-also");
    pretrain(&corpus, &also, "4096").args(["--also", "math=0.2"]).assert().success();
    let spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(also.join("run.json")).unwrap()).unwrap();
    // The corpus config puts distractors at a small share (`pretrain_weights`), so the base
    // reads a domain-level mixture: math's domains sum to 0.2, and a distractor gets its
    // token share × 0.2 of its field.
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(corpus.join("manifest.json")).unwrap()).unwrap();
    let weights = spec["schedule"]["stages"][0]["weights"].as_object().unwrap();
    let field_of = |d: &str| {
        manifest["domains"].as_array().unwrap().iter().find(|e| e["name"] == d).unwrap()["field"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let math: f64 = weights
        .iter()
        .filter(|(d, _)| field_of(d) == "math")
        .map(|(_, w)| w.as_f64().unwrap())
        .sum();
    assert!((math - 0.2).abs() < 1e-9, "{weights:?}");
    let tokens = |d: &str| {
        manifest["domains"].as_array().unwrap().iter().find(|e| e["name"] == d).unwrap()["train"]
            ["tokens"]
            .as_f64()
            .unwrap()
    };
    let ratio = weights["licenses"].as_f64().unwrap() / weights["brown_press"].as_f64().unwrap();
    assert!((ratio - 0.2 * tokens("licenses") / tokens("brown_press")).abs() < 1e-9, "{ratio}");
    assert_eq!(spec["space"]["level"], "domains");
    assert_eq!(spec["space"]["fields"], serde_json::json!(["general", "math"]));
    for (bad, says) in [("math=1.5", "must be in (0, 1)"), ("general=0.1", "other than `general`")]
    {
        pretrain(&corpus, &tmp.path().join("bad-also"), "4096")
            .args(["--also", bad])
            .assert()
            .failure()
            .stderr(contains(says));
    }

    // CPT under a two-stage schedule over the field-level space.
    let schedule = tmp.path().join("ramp.toml");
    fs::write(
        &schedule,
        "[space]\nlevel = \"fields\"\nfields = [\"general\", \"math\"]\n\
         [[stages]]\ntokens = 10240\nweights = { general = 0.8, math = 0.2 }\n\
         [[stages]]\ntokens = 10240\nweights = { general = 0.2, math = 0.8 }\n",
    )
    .unwrap();
    let cpt = tmp.path().join("cpt");
    mixagent()
        .args(["cpt", "--base"])
        .arg(&base)
        .arg("--schedule")
        .arg(&schedule)
        .arg("--out")
        .arg(&cpt)
        .args(COMMON)
        .assert()
        .success();
    let m = metrics(&cpt);
    assert_eq!(m.last().unwrap()["stage"], 1);
    assert!(m.iter().any(|l| l["domain_loss"]
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("math_"))));

    // A schedule naming an unknown field, and a base from a corpus with another tokenizer.
    let bad = tmp.path().join("bad.toml");
    fs::write(&bad, "[space]\nlevel = \"fields\"\nfields = [\"general\", \"poetry\"]\n[[stages]]\ntokens = 1000\nweights = { general = 1.0 }\n").unwrap();
    mixagent()
        .args(["cpt", "--base"])
        .arg(&base)
        .arg("--schedule")
        .arg(&bad)
        .arg("--out")
        .arg(tmp.path().join("x"))
        .assert()
        .failure()
        .stderr(contains("`poetry`"));
    let other = tmp.path().join("other");
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    mixagent()
        .args(["prepare", "--config"])
        .arg(&cfg)
        .args(["--set", "seed=99", "--out"])
        .arg(&other)
        .assert()
        .success();
    mixagent()
        .args(["cpt", "--base"])
        .arg(&base)
        .arg("--schedule")
        .arg(&schedule)
        .arg("--corpus")
        .arg(&other)
        .arg("--out")
        .arg(tmp.path().join("y"))
        .args(COMMON)
        .assert()
        .failure()
        .stderr(contains("tokenizer"));
}

fn feedback_of(report: &Path) -> (f64, f64) {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    let get = |field: &str| {
        v["feedback"].as_array().unwrap().iter().find(|f| f["field"] == field).unwrap()["feedback"]
            .as_f64()
            .unwrap()
    };
    (get("general"), get("math"))
}

/// The feedback signal means something: target-only CPT raises target feedback and lowers
/// source feedback; CPT on the source field's relevant domains (the Brown genres that the
/// general feedback's held-out genres come from) ends with higher source and lower target
/// feedback than it. (CPT on the whole general field at its natural token shares no longer
/// raises general feedback: the base read the distractors at a fifth of their share, and
/// more of them hurts. That is the version-2 environment working as built.)
#[test]
fn feedback_moves_with_the_mixture() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = prepare_smoke(tmp.path());
    let base = tmp.path().join("base");
    pretrain(&corpus, &base, "81920").assert().success();
    let eval = |run: &Path, name: &str| {
        let out = tmp.path().join(format!("{name}.json"));
        mixagent()
            .arg("eval")
            .arg(run)
            .args(["--items", "64", "--windows", "2", "--threads", "2", "--json"])
            .arg(&out)
            .assert()
            .success()
            .stdout(contains("general").and(contains("math")));
        feedback_of(&out)
    };
    let (g0, m0) = eval(&base, "base");
    // The same corpus with its math feedback scored as pairing (what its manifest says): a
    // log-probability of a two-way choice, between log 0.5 - 0.5 and 0 for a model with little
    // pairing skill, on the same items as likelihood but another suite fingerprint.
    let pairing = tmp.path().join("pairing-corpus");
    fs::create_dir(&pairing).unwrap();
    for e in fs::read_dir(&corpus).unwrap().flatten() {
        if e.file_name() != "manifest.json" {
            std::os::unix::fs::symlink(e.path(), pairing.join(e.file_name())).unwrap();
        }
    }
    let mut m: serde_json::Value =
        serde_json::from_slice(&fs::read(corpus.join("manifest.json")).unwrap()).unwrap();
    m["feedback_scoring"] = serde_json::json!({"math": "pairing"});
    fs::write(pairing.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let report = tmp.path().join("pairing.json");
    mixagent()
        .arg("eval")
        .arg(&base)
        .args(["--items", "64", "--windows", "1", "--threads", "2", "--corpus"])
        .arg(&pairing)
        .arg("--json")
        .arg(&report)
        .assert()
        .success();
    let (g_pair, m_pair) = feedback_of(&report);
    assert_eq!(g_pair, g0, "general is still scored by likelihood");
    assert!(m_pair < 0.0 && m_pair > 0.5f64.ln() - 0.5, "pairing math feedback {m_pair}");
    let fingerprint = |r: &Path| {
        let v: serde_json::Value = serde_json::from_slice(&fs::read(r).unwrap()).unwrap();
        v["feedback"].as_array().unwrap().iter().find(|f| f["field"] == "math").unwrap()
            ["fingerprint"]
            .clone()
    };
    assert_ne!(fingerprint(&report), fingerprint(&tmp.path().join("base.json")));
    let cpt = |field: &str| {
        let schedule = tmp.path().join(format!("{field}.toml"));
        let (level, weights) = if field == "math" {
            ("fields", "math = 1.0")
        } else {
            ("domains", "brown_press = 0.25, brown_popular = 0.25, brown_learned = 0.25, brown_fiction = 0.25")
        };
        fs::write(
            &schedule,
            format!("[space]\nlevel = \"{level}\"\nfields = [\"general\", \"math\"]\n[[stages]]\ntokens = 40960\nweights = {{ {weights} }}\n"),
        )
        .unwrap();
        let out = tmp.path().join(format!("cpt-{field}"));
        mixagent()
            .args(["cpt", "--base"])
            .arg(&base)
            .arg("--schedule")
            .arg(&schedule)
            .arg("--out")
            .arg(&out)
            .args(COMMON)
            .assert()
            .success();
        eval(&out, field)
    };
    let (g_math, m_math) = cpt("math");
    let (g_gen, m_gen) = cpt("general");
    eprintln!("base general {g0:.3} math {m0:.3}; math-only {g_math:.3} {m_math:.3}; general-only {g_gen:.3} {m_gen:.3}");
    assert!(m_math > m0 + 0.1, "math-only CPT should raise math feedback: {m0} → {m_math}");
    assert!(g_math < g0, "math-only CPT should lower general feedback: {g0} → {g_math}");
    assert!(g_gen > g0, "CPT on the Brown domains should raise general feedback: {g0} → {g_gen}");
    assert!(g_gen > g_math && m_gen < m_math, "general-only vs math-only should trade off");
}

/// `bench batched` runs both sides on a synthetic corpus and tables them.
#[test]
fn bench_batched_tables_separate_against_stacked_proxies() {
    mixagent()
        .args(["bench", "batched", "--preset", "smoke", "--proxies", "2", "--steps", "1"])
        .args(["--repeats", "1", "--batch-size", "4", "--seq-len", "32"])
        .assert()
        .success()
        .stdout(contains("| proxies | separate ms / proxy-step").and(contains("| 2 |")));
}
