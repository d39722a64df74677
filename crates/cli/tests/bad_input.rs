//! The bad-input table of `docs/bad-input.md`, run: each row's command on the broken files it
//! names must exit with the row's code and say the row's excerpt on standard error. The table
//! is the specification; a row added there is tested here.

use std::path::{Path, PathBuf};

mod common;
use common::{mixagent, prepare_smoke, raw_available};

struct Row {
    command: String,
    excerpt: String,
    exit: i32,
}

fn rows() -> Vec<Row> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bad-input.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    let start = text.find("<!-- cases").expect("the cases marker");
    let end = text.find("<!-- end cases -->").expect("the end marker");
    text[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| bad input"))
        .map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 4, "a row of 4 cells: {l}");
            Row {
                command: cells[1].trim_matches('`').to_string(),
                excerpt: cells[2].to_string(),
                exit: cells[3].parse().expect("an exit code"),
            }
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Mounted tmpfs folders, unmounted when dropped.
struct Mounts(Vec<PathBuf>);

impl Drop for Mounts {
    fn drop(&mut self) {
        for m in &self.0 {
            let _ = std::process::Command::new("umount").arg(m).status();
        }
    }
}

fn mount_tmpfs(dir: &Path, options: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

/// The broken files the rows name, in `bad`.
fn build_fixtures(smoke: &Path, bad: &Path) {
    let manifest = std::fs::read_to_string(smoke.join("manifest.json")).unwrap();
    let write = |rel: &str, text: &str| {
        let p = bad.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("truncated-manifest/manifest.json", &manifest[..300]);
    write("old-run/run.json", r#"{"model": {}, "corpus": "data/default"}"#);
    let mut old: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    old["format_version"] = 99.into();
    write("old-manifest/manifest.json", &old.to_string());
    for (name, damage) in [("corrupt-shard", 0), ("truncated-shard", 1)] {
        let dir = bad.join(name);
        copy_dir(smoke, &dir);
        let shard = dir.join("brown_press/train-00000.bin");
        let mut bytes = std::fs::read(&shard).unwrap();
        let n = bytes.len();
        if damage == 0 {
            bytes[n - 20] ^= 0xFF;
        } else {
            bytes.truncate(n - 100);
        }
        std::fs::write(&shard, bytes).unwrap();
    }
    let schedule = |w: &str| {
        format!("[space]\nlevel = \"fields\"\nfields = [\"general\", \"math\"]\n[[stages]]\ntokens = 1000\nweights = {{ {w} }}\n")
    };
    write("nan.toml", &schedule("general = nan, math = 1.0"));
    write("ok.toml", &schedule("general = 0.5, math = 0.5"));
    write("counts.json", r#"{"general": 100000}"#);
    let state = |policy: &str| {
        serde_json::json!({
            "format_version": 1,
            "policy": policy,
            "total_stages": 4,
            "domains": [{"name": "web", "field": "general"}, {"name": "proofs", "field": "math"}],
            "initial": {"feedback": {"general": -3.0, "math": -5.0}, "domain_loss": {}},
        })
    };
    write("state-ok.json", &state("uniform").to_string());
    let mut s = state("uniform");
    s["stages"] = serde_json::json!([{"weights": {"web": 0.4, "proofs": 0.5},
        "observation": s["initial"].clone()}]);
    write("state-sum.json", &s.to_string());
    let mut s = state("uniform");
    s["format_version"] = 9.into();
    write("state-v9.json", &s.to_string());
    let mut s = state("uniform");
    s["initial"]["feedback"].as_object_mut().unwrap().remove("math");
    write("state-no-math.json", &s.to_string());
    write("state-truncated.json", &state("uniform").to_string()[..40]);
    let agent = bad.join("agent-v9");
    let schema = mixagent_policy::AgentSchema::untrained(8, 2, 16, 1);
    let tensors = mixagent_policy::PolicyNet::random_tensors(&schema.net, 0, 0.5);
    mixagent_policy::Policy::save(&agent, schema, &tensors).unwrap();
    let json = std::fs::read_to_string(agent.join("agent.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["format_version"] = 9.into();
    std::fs::write(agent.join("agent.json"), v.to_string()).unwrap();
    write("state-agent-v9.json", &state(&format!("agent:{}", agent.display())).to_string());
    // A version-1 agent (features that froze it on new spaces, issue 17).
    let old = bad.join("agent-v1");
    std::fs::create_dir_all(&old).unwrap();
    v["format_version"] = 1.into();
    std::fs::write(old.join("agent.json"), v.to_string()).unwrap();
    std::fs::copy(agent.join("policy.safetensors"), old.join("policy.safetensors")).unwrap();
    write("state-agent-v1.json", &state(&format!("agent:{}", old.display())).to_string());

    // Corpus v2 sources and feedback sets (issue 18), each on its own raw folder.
    let corpus = |raw: &str, sources: &str, feedback: &str| {
        format!(
            "raw_dir = \"{}\"\nvocab_size = 300\nmin_doc_chars = 10\n{sources}{feedback}",
            bad.join(raw).display()
        )
    };
    let brown = "[[source]]\ntype = \"builtin\"\nsource = \"brown\"\nfield = \"general\"\n";
    std::fs::create_dir_all(bad.join("raw-empty")).unwrap();
    write(
        "no-licenses.toml",
        &corpus(
            "raw-empty",
            "[[source]]\ntype = \"builtin\"\nsource = \"licenses\"\nfield = \"general\"\n",
            "",
        ),
    );
    write(
        "no-bigbench.toml",
        &corpus(
            "raw-empty",
            "[[source]]\ntype = \"builtin\"\nsource = \"vitaminc\"\nfield = \"general\"\n",
            "",
        ),
    );
    std::fs::create_dir_all(bad.join("raw-html/python-html")).unwrap();
    write(
        "empty-html.toml",
        &corpus(
            "raw-html",
            "[[source]]\ntype = \"builtin\"\nsource = \"html_pages\"\nfield = \"general\"\n",
            "",
        ),
    );
    write(
        "no-generated-code.toml",
        &corpus(
            "raw-empty",
            "[[source]]\ntype = \"builtin\"\nsource = \"generated_code\"\nfield = \"code\"\n",
            "",
        ),
    );
    std::fs::create_dir_all(bad.join("raw-config/code-config/botocore")).unwrap();
    write(
        "empty-config.toml",
        &corpus(
            "raw-config",
            "[[source]]\ntype = \"builtin\"\nsource = \"config_files\"\nfield = \"code\"\n",
            "",
        ),
    );
    let real_raw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.deps/raw/brown");
    copy_dir(&real_raw, &bad.join("raw-brown/brown"));
    let held = |parts: &str, field: &str| {
        format!("[[feedback]]\nbuilder = \"held_out_parts\"\nfield = \"{field}\"\nsource = \"brown\"\nparts = [{parts}]\n")
    };
    write("part-z.toml", &corpus("raw-brown", brown, &held("\"z\"", "general")));
    let math_fresh = "[[feedback]]\nbuilder = \"held_out_parts\"\nfield = \"general\"\nsource = \"mathematics_fresh\"\nparts = [\"numbers__gcd\"]\nscored_parts = []\n";
    write("no-math-fresh.toml", &corpus("raw-brown", brown, math_fresh));
    write(
        "weight-typo.toml",
        &corpus("raw-brown", &format!("[pretrain_weights]\nbrown_pres = 0.2\n{brown}"), ""),
    );
    write(
        "scoring-typo.toml",
        &corpus(
            "raw-brown",
            &format!("[feedback_scoring]\ngenral = \"pairing\"\n{brown}"),
            &held("\"l\"", "general"),
        ),
    );
    write("feedback-poetry.toml", &corpus("raw-brown", brown, &held("\"l\"", "poetry")));
    write(
        "scored-part.toml",
        &corpus(
            "raw-brown",
            brown,
            &format!("{}scored_parts = [\"f\"]\n", held("\"l\"", "general")),
        ),
    );
    write(
        "split-domain.toml",
        &corpus(
            "raw-brown",
            brown,
            "[[feedback]]\nbuilder = \"held_out_split\"\nfield = \"general\"\ndomains = [\"brown_pres\"]\n",
        ),
    );
    write("val.jsonl", "{\"prompt\": \"2+2=\", \"answer\": \"4\", \"field\": \"general\"}\n{\"prompt\": \"3+3=\"}\n");
    write(
        "tasks.jsonl",
        "{\"task\": \"t\", \"field\": \"general\", \"prompt\": \"A\", \"options\": [\" b\", \" c\"], \"correct\": 2}\n",
    );
    write(
        "task-index.toml",
        &corpus(
            "raw-brown",
            brown,
            &format!("[[task]]\npath = \"{}\"\n", bad.join("tasks.jsonl").display()),
        ),
    );
    write(
        "feedback-jsonl.toml",
        &corpus(
            "raw-brown",
            brown,
            &format!(
                "[[feedback]]\nbuilder = \"jsonl\"\npath = \"{}\"\n",
                bad.join("val.jsonl").display()
            ),
        ),
    );
}

#[test]
fn every_row_of_the_bad_input_table_holds() {
    if !raw_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let smoke = prepare_smoke(tmp.path());
    let bad = tmp.path().join("bad");
    build_fixtures(&smoke, &bad);
    // A small base model for the rows that train from one.
    let base = tmp.path().join("base");
    mixagent()
        .args(["pretrain", "--preset", "smoke", "--tokens", "8192", "--threads", "2"])
        .args(["--batch-size", "8", "--seq-len", "64", "--warmup-steps", "2", "--corpus"])
        .arg(&smoke)
        .arg("--out")
        .arg(&base)
        .assert()
        .success();
    let (small, ro) = (tmp.path().join("small"), tmp.path().join("ro"));
    let mut mounts = Mounts(Vec::new());
    let mounted = mount_tmpfs(&small, "size=256k") && {
        mounts.0.push(small.clone());
        mount_tmpfs(&ro, "size=64k,ro")
    };
    if mounted {
        mounts.0.push(ro.clone());
    } else {
        eprintln!("NOTE: cannot mount tmpfs here (needs root): the disk-full and read-only rows are skipped");
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = repo.join("experiments/collect-smoke.toml");
    let rows = rows();
    assert!(rows.len() >= 20, "the table has {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        if !mounted && (row.command.contains("{small}") || row.command.contains("{ro}")) {
            continue;
        }
        let command = row
            .command
            .replace("{smoke}", &smoke.display().to_string())
            .replace("{base}", &base.display().to_string())
            .replace("{bad}", &bad.display().to_string())
            .replace("{config}", &config.display().to_string())
            .replace("{repo}", &repo.display().to_string())
            .replace("{small}", &small.display().to_string())
            .replace("{ro}", &ro.display().to_string());
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let out = mixagent().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(row.exit) || !stderr.contains(&row.excerpt) {
            failures.push(format!(
                "`{}`: exit {:?} (want {}), stderr:\n{stderr}\n  wanted: {}",
                row.command,
                out.status.code(),
                row.exit,
                row.excerpt
            ));
        }
        if mounted && command.contains(&small.display().to_string()) {
            // Each full-disk row starts on an empty disk; a failed `prepare` must leave
            // nothing behind (the others keep what they finished, to resume from).
            let left: Vec<_> = std::fs::read_dir(&small).unwrap().flatten().collect();
            if row.command.contains(" prepare ") {
                let names: Vec<_> = left.iter().map(|e| e.file_name()).collect();
                assert!(names.is_empty(), "a failed prepare left {names:?} on the full disk");
            }
            for e in left {
                std::fs::remove_dir_all(e.path()).unwrap();
            }
        }
    }
    drop(mounts);
    assert!(failures.is_empty(), "{} row(s) failed:\n{}", failures.len(), failures.join("\n"));
}
