//! Schedule export: a golden file per trainer format, each parsed back (JSON or YAML) and
//! checked for the numbers a trainer reads: stage starts, cumulative budgets, weights that
//! sum to exactly 1. Rewrite the golden files with `UPDATE_GOLDEN=1 cargo test -p
//! mixagent-controller --test export` after a deliberate format change, and read the diff.

use std::path::PathBuf;

use mixagent_controller::export::{
    export, rounded, DataPaths, Format, PlannedSchedule, PlannedStage, TrainerShape, FORMATS,
};
use serde_json::Value;

fn schedule() -> PlannedSchedule {
    PlannedSchedule {
        domains: ["web", "books", "proofs", "qa"].map(String::from).to_vec(),
        stages: vec![
            PlannedStage { tokens: 4096, weights: vec![0.5, 0.2, 0.3, 0.0] },
            PlannedStage { tokens: 8192, weights: vec![0.1, 0.1, 0.4, 0.4] },
            PlannedStage { tokens: 4096, weights: vec![0.3, 0.3, 0.2, 0.2] },
        ],
    }
}

fn shape() -> TrainerShape {
    TrainerShape { seq_len: 128, global_batch: 8, seed: 5, mixture_block_size: 32 }
}

fn paths() -> DataPaths {
    DataPaths {
        template: "/data/{domain}_text_document".into(),
        overrides: [("qa".to_string(), "/mnt/qa".to_string())].into(),
    }
}

/// The document(s) of an export as JSON values.
fn parse(format: Format, text: &str) -> Vec<Value> {
    match format.extension() {
        "json" => vec![serde_json::from_str(text).expect("valid JSON")],
        _ => serde_yaml::Deserializer::from_str(text)
            .map(|d| {
                let v: serde_yaml::Value = serde::Deserialize::deserialize(d).expect("valid YAML");
                serde_json::to_value(v).expect("YAML of JSON values")
            })
            .collect(),
    }
}

#[test]
fn every_format_matches_its_golden_file_and_parses_back() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (name, format) in FORMATS {
        let text = export(format, &schedule(), &shape(), &paths()).unwrap();
        let path = dir.join(format!("schedule.{name}.{}", format.extension()));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (write it with UPDATE_GOLDEN=1)", path.display()));
        assert_eq!(text, golden, "{name}: the export differs from {}", path.display());
        assert!(!parse(format, &text).is_empty(), "{name}");
    }
}

fn weights_sum_to_one(v: &Value) -> f64 {
    let sum: f64 = v.as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).sum();
    assert_eq!(sum, 1.0, "{v}");
    sum
}

#[test]
fn the_numbers_a_trainer_reads_are_right() {
    let get = |f: Format| parse(f, &export(f, &schedule(), &shape(), &paths()).unwrap());
    // Megatron: cumulative samples at step ends (8 a step); each launch keeps the whole run's
    // decay horizon; weight/path pairs without zero weights.
    let m = &get(Format::Megatron)[0]["stages"];
    let samples: Vec<u64> = (0..3).map(|k| m[k]["train_samples"].as_u64().unwrap()).collect();
    assert_eq!(samples, [32, 96, 128]);
    assert_eq!(
        m[1]["args"],
        "--train-samples 96 --lr-decay-samples 128 --override-opt_param-scheduler"
    );
    assert_eq!(
        m[0]["data_path"],
        "0.5 /data/web_text_document 0.2 /data/books_text_document 0.3 /data/proofs_text_document"
    );
    assert_eq!(m[1]["per_split_data_args"]["train"][7], "/mnt/qa");
    // nanotron: 1-based starts, 1024 tokens per step.
    let n = &get(Format::Nanotron)[0]["data_stages"];
    let starts: Vec<u64> = (0..3).map(|k| n[k]["start_training_step"].as_u64().unwrap()).collect();
    assert_eq!(starts, [1, 5, 13]);
    weights_sum_to_one(&n[1]["data"]["dataset"]["dataset_weights"]);
    // Levanter: switches at steps 0, 4, 12 over every source.
    let l = &get(Format::Levanter)[0];
    let tw = l["data"]["train_weights"].as_array().unwrap();
    let steps: Vec<u64> = tw.iter().map(|p| p[0].as_u64().unwrap()).collect();
    assert_eq!(steps, [0, 4, 12]);
    assert_eq!(tw[0][1]["qa"], 0.0);
    assert_eq!(l["trainer"]["num_train_steps"], 16);
    // Mosaic: one document per stage, cumulative batches.
    let docs = get(Format::Mosaic);
    assert_eq!(docs.len(), 3);
    let durations: Vec<&str> = docs.iter().map(|d| d["max_duration"].as_str().unwrap()).collect();
    assert_eq!(durations, ["4ba", "12ba", "16ba"]);
    assert_eq!(docs[1]["train_loader"]["dataset"]["epoch_size"], 64);
    // HF and OLMo: probabilities and ratios sum to exactly 1.0.
    let h = &get(Format::Hf)[0]["stages"];
    for k in 0..3 {
        weights_sum_to_one(&h[k]["probabilities"]);
    }
    assert_eq!(h[0]["datasets"], serde_json::json!(["web", "books", "proofs"]));
    let o = &get(Format::Olmo)[0]["stages"][2];
    let ratios: Vec<Value> = o["source_list"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["target_ratio"].clone())
        .collect();
    weights_sum_to_one(&Value::Array(ratios));
    assert_eq!(o["global_batch_size"], 1024);
}

#[test]
fn rounded_weights_sum_to_exactly_one() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..2000 {
        let n = 2 + (seed % 40) as usize;
        let raw: Vec<f64> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect();
        let total: f64 = raw.iter().sum();
        let w: Vec<f64> = raw.iter().map(|x| x / total).collect();
        let r = rounded(&w);
        assert_eq!(r.iter().sum::<f64>(), 1.0, "{w:?} -> {r:?}");
        for (a, b) in w.iter().zip(&r) {
            assert!((a - b).abs() < 2e-5 * n as f64, "{a} vs {b}");
        }
    }
}

#[test]
fn bad_schedules_and_shapes_are_refused_with_the_stage() {
    let mut s = schedule();
    s.stages[1].weights[2] = f64::NAN;
    let e = export(Format::Hf, &s, &shape(), &paths()).unwrap_err().to_string();
    assert!(e.contains("stage 1") && e.contains("`proofs`"), "{e}");
    let mut s = schedule();
    s.stages[2].weights[0] = 0.9;
    let e = export(Format::Hf, &s, &shape(), &paths()).unwrap_err().to_string();
    assert!(e.contains("stage 2") && e.contains("sum to"), "{e}");
    let mut odd = shape();
    odd.mixture_block_size = 2048;
    let e = export(Format::Levanter, &schedule(), &odd, &paths()).unwrap_err().to_string();
    assert!(e.contains("stage 1 starts at step 4") && e.contains("--mixture-block-size"), "{e}");
    // Blocks of 8 sequences give a 0.1 weight floor(0.8) = 0 sequences in Levanter.
    odd.mixture_block_size = 8;
    let e = export(Format::Levanter, &schedule(), &odd, &paths()).unwrap_err().to_string();
    assert!(e.contains("stage 1: `web`") && e.contains("at least 10"), "{e}");
    assert!("parquet".parse::<Format>().unwrap_err().contains("megatron, nanotron"));
}

#[test]
fn groups_and_fields_are_split_over_their_domains_by_tokens() {
    let grouped = PlannedSchedule {
        domains: vec!["web+books".into(), "alg".into()],
        stages: vec![
            PlannedStage { tokens: 100, weights: vec![0.8, 0.2] },
            PlannedStage { tokens: 100, weights: vec![0.4, 0.6] },
        ],
    };
    let members: std::collections::BTreeMap<String, Vec<(String, u64)>> = [
        ("web+books".to_string(), vec![("web".to_string(), 3000), ("books".to_string(), 1000)]),
        ("alg".to_string(), vec![("alg".to_string(), 5)]),
    ]
    .into();
    let plain = grouped.expand_entries(&members).unwrap();
    assert_eq!(plain.domains, ["web", "books", "alg"]);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(&plain.stages[0].weights, &[0.6, 0.2, 0.2]), "{:?}", plain.stages[0]);
    assert!(close(&plain.stages[1].weights, &[0.3, 0.1, 0.6]), "{:?}", plain.stages[1]);
    // A field-level entry is split alike; an entry the map does not hold is kept.
    let fields = PlannedSchedule {
        domains: vec!["general".into(), "math".into()],
        stages: vec![PlannedStage { tokens: 100, weights: vec![0.5, 0.5] }],
    };
    let by_field =
        [("general".to_string(), vec![("web".to_string(), 1000), ("books".to_string(), 3000)])]
            .into();
    let plain = fields.expand_entries(&by_field).unwrap();
    assert_eq!(plain.domains, ["web", "books", "math"]);
    assert!(close(&plain.stages[0].weights, &[0.125, 0.375, 0.5]), "{:?}", plain.stages[0]);
    // A group the corpus does not resolve is refused, not written as a dataset of that name.
    let e = grouped.expand_entries(&[].into()).unwrap_err();
    assert!(e.contains("`web+books`"), "{e}");
    // An entry whose domains hold no tokens cannot be split: named, not guessed.
    let empty = [("general".to_string(), vec![("web".to_string(), 0)])].into();
    let e = fields.expand_entries(&empty).unwrap_err();
    assert!(e.contains("`general`") && e.contains("no training tokens"), "{e}");
}
