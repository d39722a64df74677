//! CLI tests of `prepare` and `corpus stats` on the real binary: a small fixture corpus
//! (JSONL, per-domain folders, unlabelled text clustered into domains), every bad input of the
//! foundation issue, and the real `smoke` corpus when the raw sources are installed.

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;

mod common;
use common::{mixagent, prepare_smoke, raw_available};

/// Sentences that differ between domains so BPE and k-means have something to find.
fn sentence(topic: &str, i: usize) -> String {
    match topic {
        "news" => format!(
            "The council met on day {i} and the mayor said the budget for road number {i} would rise."
        ),
        "recipes" => format!(
            "Whisk {i} eggs with butter and sugar, then bake the cake for {} minutes in a hot oven.",
            i % 50 + 10
        ),
        "algebra" => format!("Question: Solve {i}*x + {} = {} for x.\nAnswer: 3", i % 7, i * 3 + i % 7),
        _ => format!("def f_{i}(x):\n    return x * {i} + {}\n", i % 11),
    }
}

/// A fixture with a JSONL source (two general domains), a folder source (math) and an
/// unlabelled folder clustered into two code domains.
fn fixture(dir: &Path) -> PathBuf {
    let mut jsonl = String::new();
    for i in 0..60 {
        for topic in ["news", "recipes"] {
            let text: String = (0..4).map(|j| sentence(topic, i * 4 + j) + " ").collect();
            let line = serde_json::json!({"text": text, "domain": topic, "field": "general"});
            jsonl.push_str(&line.to_string());
            jsonl.push('\n');
        }
    }
    fs::write(dir.join("general.jsonl"), jsonl).unwrap();
    let alg = dir.join("math/algebra");
    fs::create_dir_all(&alg).unwrap();
    for i in 0..40 {
        let text: String = (0..5).map(|j| sentence("algebra", i * 5 + j) + "\n").collect();
        fs::write(alg.join(format!("{i:03}.txt")), text).unwrap();
    }
    let code = dir.join("unlabelled");
    fs::create_dir_all(&code).unwrap();
    for i in 0..40 {
        let text: String = if i % 2 == 0 {
            (0..5).map(|j| sentence("code", i * 5 + j)).collect()
        } else {
            (0..5)
                .map(|j| {
                    format!(
                        "fn g_{}(x: u32) -> u32 {{\n    x.wrapping_mul({j}) // rust\n}}\n",
                        i * 5 + j
                    )
                })
                .collect()
        };
        fs::write(code.join(format!("{i:03}.txt")), text).unwrap();
    }
    let cfg = dir.join("fixture.toml");
    fs::write(
        &cfg,
        "seed = 7\nheldout_fraction = 0.1\nvocab_size = 400\nmin_doc_chars = 20\n\
         [[source]]\ntype = \"jsonl\"\npath = \"general.jsonl\"\n\
         [[source]]\ntype = \"folders\"\npath = \"math\"\nfield = \"math\"\n\
         [[source]]\ntype = \"cluster\"\npath = \"unlabelled\"\nfield = \"code\"\nk = 2\nprefix = \"code\"\n",
    )
    .unwrap();
    cfg
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn stats(corpus: &Path) -> assert_cmd::assert::Assert {
    mixagent().args(["corpus", "stats", "--corpus"]).arg(corpus).assert()
}

#[test]
fn prepare_fixture_then_stats_and_bad_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = fixture(tmp.path());
    let out = tmp.path().join("corpus");
    let prepare = |out: &Path, extra: &[&str]| {
        mixagent()
            .args(["prepare", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(out)
            .args(extra)
            .assert()
    };
    prepare(&out, &[]).success().stdout(
        contains("news")
            .and(contains("recipes"))
            .and(contains("algebra"))
            .and(contains("code_c0"))
            .and(contains("code_c1")),
    );
    let m = manifest(&out);
    let domains = m["domains"].as_array().unwrap();
    let names: Vec<&str> = domains.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["news", "recipes", "algebra", "code_c0", "code_c1"]);
    for d in domains {
        assert!(d["train"]["tokens"].as_u64().unwrap() > 0, "{d}");
        assert!(d["heldout"]["docs"].as_u64().unwrap() > 0, "{d}");
    }
    // k-means put the Python and the Rust files into different domains.
    let docs = |d: &serde_json::Value| {
        d["train"]["docs"].as_u64().unwrap() + d["heldout"]["docs"].as_u64().unwrap()
    };
    assert_eq!([docs(&domains[3]), docs(&domains[4])], [20, 20]);
    stats(&out).success().stdout(contains("[all]"));

    // Same config, same seed: byte-identical manifest and shards.
    let again = tmp.path().join("again");
    prepare(&again, &[]).success();
    let same = |rel: &str| fs::read(out.join(rel)).unwrap() == fs::read(again.join(rel)).unwrap();
    assert!(same("manifest.json") && same("news/train-00000.bin") && same("tokenizer.json"));
    // The manifest carries a corpus fingerprint, and `corpus stats` prints it.
    let fp = m["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fp.len(), 16, "{fp}");
    stats(&out).success().stdout(contains(format!("corpus fingerprint {fp}")));
    // Another seed is another corpus: another fingerprint.
    let reseeded = tmp.path().join("reseeded");
    prepare(&reseeded, &["--set", "seed=8"]).success();
    assert_ne!(manifest(&reseeded)["fingerprint"].as_str().unwrap(), fp);

    // An existing output folder is kept unless --force.
    prepare(&out, &[]).failure().stderr(contains("--force"));

    // Unknown config keys, at the top and inside a source.
    prepare(&tmp.path().join("x"), &["--set", "vocab_sise=3"])
        .failure()
        .stderr(contains("vocab_sise"));
    let bad = tmp.path().join("bad.toml");
    fs::write(
        &bad,
        "[[source]]\ntype = \"builtin\"\nsource = \"brown\"\nfield = \"general\"\nraw = 1\n",
    )
    .unwrap();
    mixagent().args(["prepare", "--config"]).arg(&bad).assert().failure().stderr(contains("raw"));

    // A pretrain weight for a domain no source gives, or a negative one; a good one is recorded.
    let text = fs::read_to_string(&cfg).unwrap();
    let weighted = tmp.path().join("weighted.toml");
    let with = |weights: &str| {
        fs::write(
            &weighted,
            text.replacen("[[source]]", &format!("[pretrain_weights]\n{weights}\n[[source]]"), 1),
        )
        .unwrap();
        mixagent()
            .args(["prepare", "--config"])
            .arg(&weighted)
            .arg("--out")
            .arg(tmp.path().join("w"))
            .assert()
    };
    with("nope = 0.2").failure().stderr(contains("`nope`").and(contains("news, recipes")));
    with("news = -1.0").failure().stderr(contains("pretrain_weights.news"));
    with("recipes = 0.25").success();
    assert_eq!(manifest(&tmp.path().join("w"))["pretrain_weights"]["recipes"], 0.25);

    // An empty domain after cleaning names the domain, and leaves no output behind.
    let tiny = tmp.path().join("tiny.jsonl");
    fs::write(&tiny, "{\"text\":\"short\",\"domain\":\"stub\",\"field\":\"general\"}\n").unwrap();
    let empty = tmp.path().join("empty.toml");
    fs::write(&empty, "[[source]]\ntype = \"jsonl\"\npath = \"tiny.jsonl\"\n").unwrap();
    let e = tmp.path().join("e");
    mixagent()
        .args(["prepare", "--config"])
        .arg(&empty)
        .arg("--out")
        .arg(&e)
        .assert()
        .failure()
        .stderr(contains("`stub`"));
    assert!(!e.exists() && !tmp.path().join(".e.partial").exists());

    // A truncated shard, a flipped byte, a shard of another tokenizer: stats names the file.
    let shard = out.join("recipes/train-00000.bin");
    let good = fs::read(&shard).unwrap();
    fs::write(&shard, &good[..good.len() - 5]).unwrap();
    stats(&out).failure().stderr(contains("recipes/train-00000.bin").and(contains("truncated")));
    let mut flipped = good.clone();
    flipped[100] ^= 0xff;
    fs::write(&shard, &flipped).unwrap();
    stats(&out).failure().stderr(contains("checksum"));
    let other = tmp.path().join("other");
    prepare(&other, &["--set", "vocab_size=300"]).success();
    fs::copy(other.join("recipes/train-00000.bin"), &shard).unwrap();
    stats(&out).failure().stderr(contains("tokenizer fingerprint"));

    // A manifest of another format version.
    let text = fs::read_to_string(again.join("manifest.json"))
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 7");
    fs::write(again.join("manifest.json"), text).unwrap();
    stats(&again).failure().stderr(contains("format version 7"));
}

#[test]
fn prepare_real_smoke_corpus_has_the_domains_the_design_asks_for() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = prepare_smoke(tmp.path());
    let m = manifest(&out);
    // Every built-in source is pinned: its raw folder names the package files it came from
    // (no source read from the machine's own installation), and a second preparation is the
    // same corpus, fingerprint for fingerprint.
    for (source, stamp) in m["sources"].as_object().unwrap() {
        assert_ne!(stamp, "unstamped", "{source}: re-run scripts/setup.sh");
    }
    let again = tmp.path().join("again");
    mixagent()
        .args(["prepare", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml"))
        .arg("--out")
        .arg(&again)
        .assert()
        .success();
    assert_eq!(manifest(&again)["fingerprint"], m["fingerprint"]);
    // The same feedback items scored as pairing are another observation: the manifest says so and
    // the fingerprint differs; nothing else does.
    let pmi = tmp.path().join("pairing");
    mixagent()
        .args(["prepare", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml"))
        .args(["--set", "feedback_scoring.math=\"pairing\"", "--out"])
        .arg(&pmi)
        .assert()
        .success();
    let mp = manifest(&pmi);
    assert_eq!(mp["feedback_scoring"], serde_json::json!({"math": "pairing"}));
    assert!(m.get("feedback_scoring").is_none(), "likelihood-only corpora keep their manifest");
    assert_ne!(mp["fingerprint"], m["fingerprint"]);
    assert_eq!(mp["domains"], m["domains"]);
    assert_eq!(
        fs::read(pmi.join("feedback.jsonl")).unwrap(),
        fs::read(out.join("feedback.jsonl")).unwrap()
    );
    // The feedback items the cap left out are kept apart, disjoint from the feedback, and the
    // math benchmark `answer_kind` is built from them.
    let lines = |f: &str| -> Vec<serde_json::Value> {
        fs::read_to_string(out.join(f))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (fb, rest) = (lines("feedback.jsonl"), lines("feedback-rest.jsonl"));
    let rest_math = rest.iter().filter(|r| r["field"] == "math").count();
    assert_eq!(m["feedback_rest"]["math"].as_u64().unwrap() as usize, rest_math);
    assert!(rest_math >= 400, "{rest_math} left-out math items");
    let fb_prompts: std::collections::HashSet<&str> =
        fb.iter().map(|f| f["prompt"].as_str().unwrap()).collect();
    assert!(rest.iter().all(|r| !fb_prompts.contains(r["prompt"].as_str().unwrap())));
    let typed = mixagent_shard::Manifest::load(&out).unwrap();
    let tasks =
        mixagent_eval::living::living_tasks(&out, &typed, &["math".into()], 400, 0).unwrap();
    let kind = tasks.iter().find(|t| t.name == "answer_kind").expect("answer_kind is built");
    assert_eq!(kind.items.len(), 400);
    for name in ["problem_agreement", "problem_cloze", "problem_word_order"] {
        let t = tasks.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name}"));
        // One agreement item per verb context: the generated statements have a few dozen
        // (`What is`, `Which is`, `minutes are`, …), many statements each.
        let (low, high) = if name == "problem_agreement" { (1, 80) } else { (100, 400) };
        assert!((low..=high).contains(&t.items.len()), "{name}: {} items", t.items.len());
    }
    // The general feedback's left-out items give the genre tasks: sentences that no feedback
    // item's text contains.
    let general =
        mixagent_eval::living::living_tasks(&out, &typed, &["general".into()], 400, 0).unwrap();
    let fb_text: Vec<String> = fb
        .iter()
        .filter(|f| f["field"] == "general")
        .map(|f| {
            let text =
                format!("{} {}", f["prompt"].as_str().unwrap(), f["answer"].as_str().unwrap());
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect();
    for name in ["genre_agreement", "genre_cloze", "genre_word_order"] {
        let t = general.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name}"));
        assert!(t.items.len() >= 100, "{name}: {} items", t.items.len());
        for it in &t.items {
            let sentence = format!("{}{}", it.prompt, it.options[it.correct]);
            assert!(!fb_text.iter().any(|f| f.contains(&sentence)), "{name}: {sentence}");
        }
    }
    // Which tasks read the training domains' own held-out documents (shown in a comparison,
    // not averaged where a field has evaluation-only tasks) and which evaluation-only text.
    let training: Vec<&str> =
        general.iter().chain(&tasks).filter(|t| t.training_text).map(|t| t.name.as_str()).collect();
    for name in ["agreement", "cloze", "word_order", "math_agreement", "answer_pairing"] {
        assert!(training.contains(&name), "{name} reads training text: {training:?}");
    }
    for name in ["genre_cloze", "problem_cloze", "answer_kind", "comparison"] {
        assert!(!training.contains(&name), "{name} is evaluation-only: {training:?}");
    }
    // The math feedback is a held-out split of training domains: every item's question is one
    // of those domains' held-out documents, restyled; the fresh problems of the same domains'
    // modules are scored by none (`scored_parts = []`) and go to the rest, where the
    // benchmarks find them; the nine held-out modules go nowhere (`benchmarks = false`).
    let split_set = "held-out split:math_arithmetic+math_numbers+math_measurement";
    let held_text: String = ["math_arithmetic", "math_numbers", "math_measurement"]
        .iter()
        .map(|d| fs::read_to_string(out.join(d).join("heldout.jsonl")).unwrap())
        .collect();
    let fb_math: Vec<&serde_json::Value> = fb.iter().filter(|f| f["field"] == "math").collect();
    assert_eq!(fb_math.len(), 256);
    for f in &fb_math {
        assert_eq!(f["set"], split_set);
        // (A prompt past 300 characters keeps its tail, which the restyling leaves as it is.)
        let p = f["prompt"].as_str().unwrap();
        let q = p.strip_prefix("Problem: ").unwrap_or(p).strip_suffix("\nAnswer:").unwrap();
        let escaped = serde_json::to_string(&format!("{q}\nAnswer:")).unwrap();
        assert!(held_text.contains(escaped.trim_matches('"')), "{q}");
    }
    let fresh = "mathematics_dataset_fresh:arithmetic__add_or_sub+21 more";
    let rest_sets: std::collections::BTreeSet<&str> =
        rest.iter().filter(|r| r["field"] == "math").map(|r| r["set"].as_str().unwrap()).collect();
    // (The split's items beyond the feedback's cap join them: the same generators.)
    assert!(rest_sets.contains(fresh), "{rest_sets:?}");
    assert!(rest_sets.iter().all(|s| [fresh, split_set].contains(s)), "{rest_sets:?}");
    assert!(rest_math >= 400, "{rest_math} fresh math items");

    // A narrowed math feedback (`scored_parts`) instead: the same shards, the math feedback
    // from the numbers modules only, and the other held-out modules' items in the rest.
    let smoke =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml"))
            .unwrap();
    let split_table = smoke.find("builder = \"held_out_split\"").expect("a held_out_split table");
    let (head, tail) = smoke.split_at(split_table);
    let tail = &tail[tail.find("[[feedback]]").expect("a table after the split")..];
    let none_scored = "scored_parts = []\nbenchmarks = false\n";
    assert!(tail.contains(none_scored), "configs/smoke.toml's nine modules are scored by none");
    let numbers_scored = "scored_parts = [\"numbers__place_value\", \"numbers__round_number\"]\n";
    let head = head.strip_suffix("[[feedback]]\n").expect("the split table's header");
    let narrowed = format!("{head}{}", tail.replace(none_scored, numbers_scored));
    fs::write(tmp.path().join("narrowed.toml"), narrowed).unwrap();
    let narrow = tmp.path().join("narrow");
    mixagent()
        .args(["prepare", "--config"])
        .arg(tmp.path().join("narrowed.toml"))
        .arg("--out")
        .arg(&narrow)
        .assert()
        .success();
    let mn = manifest(&narrow);
    assert_eq!(mn["domains"], m["domains"]);
    for d in m["domains"].as_array().unwrap() {
        for shard in d["train"]["shards"].as_array().unwrap() {
            let shard = shard.as_str().unwrap();
            assert_eq!(fs::read(narrow.join(shard)).unwrap(), fs::read(out.join(shard)).unwrap());
        }
    }
    assert_ne!(mn["fingerprint"], m["fingerprint"]);
    let items = |dir: &Path, f: &str| -> Vec<serde_json::Value> {
        fs::read_to_string(dir.join(f))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["field"] == "math")
            .collect()
    };
    let numbers = "mathematics_dataset:numbers__place_value+numbers__round_number";
    let fb_math = items(&narrow, "feedback.jsonl");
    assert!(fb_math.len() >= 100, "{} numbers items", fb_math.len());
    assert!(fb_math.iter().all(|r| r["set"] == numbers), "{:?}", fb_math[0]);
    let rest_math = items(&narrow, "feedback-rest.jsonl");
    let others = rest_math
        .iter()
        .filter(|r| r["set"] == "mathematics_dataset:arithmetic__mixed+6 more")
        .count();
    assert!(others >= 100, "{others} items of the other held-out modules in the rest");
    let typed = mixagent_shard::Manifest::load(&narrow).unwrap();
    let tasks =
        mixagent_eval::living::living_tasks(&narrow, &typed, &["math".into()], 400, 0).unwrap();
    let problem = tasks.iter().find(|t| t.name == "problem_cloze").expect("problem_cloze");
    assert!(problem.items.len() >= 100, "problem_cloze: {}", problem.items.len());

    let domains = m["domains"].as_array().unwrap();
    let count = |f: &str| domains.iter().filter(|d| d["field"] == f).count();
    assert!(count("general") >= 8, "general: {}", count("general"));
    assert!(count("math") >= 6, "math: {}", count("math"));
    assert!(count("code") >= 4, "code: {}", count("code"));
    for d in domains {
        let bytes = d["train"]["bytes"].as_f64().unwrap();
        let tokens = d["train"]["tokens"].as_f64().unwrap();
        // A trained BPE compresses every domain: between 1.3 and 8 bytes per token.
        assert!(
            (1.3..8.0).contains(&(bytes / tokens)),
            "{}: {} bytes/token",
            d["name"],
            bytes / tokens
        );
    }
}

/// `scripts/debian.sh` (how `scripts/setup.sh` fetches the pinned Debian packages), run against a
/// fake `apt-get`/`apt-cache` whose archive offers only version 9.9-1: a pin found in the cache
/// is used without asking the archive; a pin the archive lost fails under
/// `MIXAGENT_STRICT_PINS=1` with both versions named, and otherwise is replaced by the offered
/// version with a warning; a package without a pin is refused.
#[test]
fn setup_takes_pinned_debian_versions_and_says_when_a_pin_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let fake_get = r#"#!/bin/sh
[ "$1" = update ] && exit 0
case "$2" in
  *=9.9-1) touch "${2%%=*}_9.9-1_all.deb" ;;
  *) echo "E: Version '${2#*=}' for '${2%%=*}' was not found" >&2; exit 100 ;;
esac
"#;
    let fake_cache = "#!/bin/sh\necho \"$2:\"\necho '  Candidate: 9.9-1'\n";
    for (name, text) in [("apt-get", fake_get), ("apt-cache", fake_cache)] {
        let p = bin.join(name);
        fs::write(&p, text).unwrap();
        std::process::Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    }
    let cache = dir.path().join("cache");
    fs::create_dir_all(cache.join("deb")).unwrap();
    // A cached .deb of the pinned version (the epoch's ':' written as apt writes it).
    fs::write(cache.join("deb/wordnet-base_1%3a3.0-37_all.deb"), "").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/debian.sh");
    let run = |call: &str, strict: bool| {
        let harness = format!(
            "set -Eeuo pipefail\nCACHE={cache}; WORK=$(mktemp -d)\n\
             log() {{ echo \"setup: $*\" >&2; }}\n\
             find_one() {{ compgen -G \"$1/$2\" | sort | tail -n 1 || true; }}\n\
             source {script}\n{call}\n",
            cache = cache.display(),
            script = script.display(),
        );
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c").arg(harness);
        cmd.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()));
        if strict {
            cmd.env("MIXAGENT_STRICT_PINS", "1");
        } else {
            cmd.env_remove("MIXAGENT_STRICT_PINS");
        }
        cmd.output().unwrap()
    };
    let text = |o: &std::process::Output| {
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    let cached = run("deb_get wordnet-base", true);
    let (out, err) = text(&cached);
    assert!(cached.status.success(), "{err}");
    assert!(out.trim().ends_with("deb/wordnet-base_1%3a3.0-37_all.deb"), "{out}");
    assert!(!err.contains("downloading"), "a cached pin must not be fetched: {err}");

    let strict = run("deb_get dict-foldoc", true);
    let (_, err) = text(&strict);
    assert!(!strict.status.success());
    assert!(
        err.contains("dict-foldoc 20230119-1 (pinned in scripts/setup.sh) is not in the archive")
            && err.contains("it offers: 9.9-1"),
        "{err}"
    );

    let lenient = run("deb_get dict-foldoc", false);
    let (out, err) = text(&lenient);
    assert!(lenient.status.success(), "{err}");
    assert!(out.trim().ends_with("deb/dict-foldoc_9.9-1_all.deb"), "{out}");
    assert!(
        err.contains("WARNING: Debian package dict-foldoc 20230119-1 (pinned) is gone"),
        "{err}"
    );

    let unpinned = run("deb_get cowsay", false);
    let (_, err) = text(&unpinned);
    assert!(!unpinned.status.success());
    assert!(err.contains("cowsay has no version pin in DEB_PIN"), "{err}");
}
