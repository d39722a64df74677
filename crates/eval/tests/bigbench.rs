//! BIG-bench loader: fixture tasks in a temp folder, and the real tasks when installed.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use mixagent_core::FileError;
use mixagent_eval::bigbench::{load_task, McItem, McTask};
use mixagent_eval::EvalError;

/// Writes `text` to `root/rel`, creating folders.
fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn all(root: &Path, name: &str) -> McTask {
    load_task(root, name, usize::MAX, 0).unwrap()
}

#[test]
fn bigbench_default_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "plain/task.json",
        r#"{"name": "plain", "append_choices_to_input": false, "examples": [
            {"input": "2 + 2?", "target_scores": {"5": 0, "4": 1, "22": 0}, "target": "4"}
        ]}"#,
    );
    let task = all(tmp.path(), "plain");
    assert_eq!(task.name, "plain");
    assert_eq!(task.files, vec![tmp.path().join("plain/task.json")]);
    assert_eq!(
        task.items,
        vec![McItem {
            prompt: "\nQ: 2 + 2?\nA: ".into(),
            // File order, not sorted; "\nA: " ends with a space, so no space is added.
            options: vec!["5".into(), "4".into(), "22".into()],
            correct: 1,
        }]
    );
    assert!((task.chance() - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
fn bigbench_task_prefixes_and_leading_space() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "pre/task.json",
        r#"{"task_prefix": "Answer yes or no.\n", "example_input_prefix": "\nIn: ",
            "example_output_prefix": "\nOut:", "append_choices_to_input": false,
            "examples": [{"input": "Is ice cold?", "target_scores": {"yes": 1, "no": 0}}]}"#,
    );
    write(
        tmp.path(),
        "bare/task.json",
        r#"{"example_input_prefix": "\n", "example_output_prefix": "", "choice_prefix": "",
            "append_choices_to_input": false,
            "examples": [{"input": "20 km is ", "target_scores": {"2 m.": 0, "20000 m.": 1}},
                         {"input": "1 km is", "target_scores": {"1000 m.": 1, " 1 m.": 0}}]}"#,
    );
    let pre = all(tmp.path(), "pre");
    assert_eq!(pre.items[0].prompt, "Answer yes or no.\n\nIn: Is ice cold?\nOut:");
    assert_eq!(pre.items[0].options, vec![" yes", " no"]);
    assert_eq!(pre.items[0].correct, 0);

    let bare = all(tmp.path(), "bare");
    assert_eq!(bare.items[0].prompt, "\n20 km is ");
    assert_eq!(bare.items[0].options, vec!["2 m.", "20000 m."]);
    assert_eq!(bare.items[1].prompt, "\n1 km is");
    // A space is added only where the option lacks one.
    assert_eq!(bare.items[1].options, vec![" 1000 m.", " 1 m."]);
}

#[test]
fn bigbench_choices_are_appended_by_default_in_a_fixed_permutation() {
    let tmp = tempfile::tempdir().unwrap();
    let options = ["banana", "81", "3", "house", "35"];
    let scores: Vec<String> =
        options.iter().map(|o| format!("\"{o}\": {}", u8::from(*o == "35"))).collect();
    let example =
        format!(r#"{{"input": "What is 35 / 1?", "target_scores": {{{}}}}}"#, scores.join(", "));
    write(tmp.path(), "mc/task.json", &format!(r#"{{"examples": [{example}]}}"#));
    write(
        tmp.path(),
        "mc2/task.json",
        &format!(r#"{{"choice_prefix": "\n choice:", "examples": [{example}]}}"#),
    );

    let item = &all(tmp.path(), "mc").items[0];
    assert!(item.prompt.starts_with("\nQ: What is 35 / 1?\n  choice: "), "{:?}", item.prompt);
    assert!(item.prompt.ends_with("\nA: "));
    let listed: Vec<&str> = item.prompt["\nQ: What is 35 / 1?".len()..item.prompt.len() - 4]
        .split("\n  choice: ")
        .skip(1)
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    let mut expected = options.to_vec();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "every option listed once");
    assert_eq!(item.options, options);
    assert_eq!(item.correct, 4);
    // The listing depends on the input only: same under another seed and another prefix.
    assert_eq!(load_task(tmp.path(), "mc", 10, 99).unwrap().items[0], *item);
    let other = &all(tmp.path(), "mc2").items[0];
    assert_eq!(
        other.prompt,
        format!("\nQ: What is 35 / 1?\n choice:{}\nA: ", listed.join("\n choice:"))
    );
}

#[test]
fn bigbench_subtask_folders_load_in_sorted_order_with_their_own_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "comp/task.json", r#"{"name": "comp", "description": "container"}"#);
    write(
        tmp.path(),
        "comp/b_second/task.json",
        r#"{"example_input_prefix": "\nB: ", "append_choices_to_input": false,
            "examples": [{"input": "b", "target_scores": {"x": 1, "y": 0}}]}"#,
    );
    write(
        tmp.path(),
        "comp/a_first/task.json",
        r#"{"append_choices_to_input": false,
            "examples": [{"input": "a", "target_scores": {"x": 0, "y": 1}}]}"#,
    );
    write(tmp.path(), "comp/notes/README.md", "not a sub-task");
    let task = all(tmp.path(), "comp");
    let prompts: Vec<&str> = task.items.iter().map(|i| i.prompt.as_str()).collect();
    assert_eq!(prompts, vec!["\nQ: a\nA: ", "\nB: b\nA: "]);
    assert_eq!(
        task.files,
        vec![
            tmp.path().join("comp/task.json"),
            tmp.path().join("comp/a_first/task.json"),
            tmp.path().join("comp/b_second/task.json"),
        ]
    );

    // Without a top-level task.json the sub-task folders still load.
    fs::remove_file(tmp.path().join("comp/task.json")).unwrap();
    assert_eq!(all(tmp.path(), "comp").items, task.items);
}

#[test]
fn bigbench_inline_subtasks_are_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "inline/task.json",
        r#"{"subtasks": [
            {"name": "one", "task_prefix": "T1", "append_choices_to_input": false,
             "examples": [{"input": "p", "target_scores": {"a": 1, "b": 0}}]},
            {"name": "two", "task_prefix": "T2", "append_choices_to_input": false,
             "examples": [{"input": "p", "target_scores": {"a": 0, "b": 1}}]}]}"#,
    );
    let task = all(tmp.path(), "inline");
    assert_eq!(task.items.len(), 2);
    assert_eq!(task.items[0].prompt, "T1\nQ: p\nA: ");
    assert_eq!(task.items[1].correct, 1);
}

#[test]
fn bigbench_unusable_examples_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "mixed/task.json",
        r#"{"append_choices_to_input": false, "examples": [
            {"input": "tie", "target_scores": {"a": 1, "b": 1, "c": 0}},
            {"input": "all zero", "target_scores": {"a": 0, "b": 0}},
            {"input": "one option", "target_scores": {"a": 1}},
            {"input": "generative", "target": "42"},
            {"input": "empty option", "target_scores": {"": 1, "b": 0}},
            {"input": "ok", "target_scores": {"a": 0.25, "b": 0.75, "c": 0.5}},
            {"input": "ok", "target_scores": {"a": 0.25, "b": 0.75, "c": 0.5}},
            {"input": "clash", "target_scores": {"a": 1, "b": 0}},
            {"input": "clash", "target_scores": {"a": 0, "b": 1}},
            {"input": "repeated key", "target_scores": {"a": 1, "b": 0, "a": -1}}
        ]}"#,
    );
    let task = all(tmp.path(), "mixed");
    let kept: Vec<(&str, usize)> =
        task.items.iter().map(|i| (i.prompt.as_str(), i.correct)).collect();
    assert_eq!(kept, vec![("\nQ: ok\nA: ", 1), ("\nQ: repeated key\nA: ", 1)]);
    // Python's dict semantics: the repeated key keeps its place, takes the last score.
    assert_eq!(task.items[1].options, vec!["a", "b"]);
}

#[test]
fn bigbench_malformed_files_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "broken/task.json", r#"{"examples": [{"input": "x", "target_scores": "#);
    write(
        tmp.path(),
        "typed/sub/task.json",
        r#"{"examples": [{"input": "x", "target_scores": {"a": "high", "b": 0}}]}"#,
    );
    write(
        tmp.path(),
        "noinput/task.json",
        r#"{"examples": [{"target_scores": {"a": 1, "b": 0}}]}"#,
    );
    for (name, file) in [
        ("broken", "broken/task.json"),
        ("typed", "typed/sub/task.json"),
        ("noinput", "noinput/task.json"),
    ] {
        match load_task(tmp.path(), name, 10, 0) {
            Err(EvalError::File(FileError::Malformed { path, message })) => {
                assert_eq!(path, tmp.path().join(file));
                assert!(message.contains("line"), "{message}");
            }
            other => panic!("{name}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn bigbench_missing_and_empty_tasks_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load_task(tmp.path(), "absent", 10, 0).unwrap_err();
    assert!(matches!(&err, EvalError::File(FileError::Io { path, source })
        if path == &tmp.path().join("absent") && source.kind() == std::io::ErrorKind::NotFound));
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");

    fs::create_dir_all(tmp.path().join("hollow/docs")).unwrap();
    let err = load_task(tmp.path(), "hollow", 10, 0).unwrap_err();
    assert!(
        matches!(&err, EvalError::File(FileError::Io { path, .. }) if path.ends_with("hollow/task.json"))
    );
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");

    write(tmp.path(), "gen/task.json", r#"{"examples": [{"input": "1+1", "target": "2"}]}"#);
    write(tmp.path(), "none/task.json", r#"{"examples": []}"#);
    for name in ["gen", "none"] {
        match load_task(tmp.path(), name, 10, 0) {
            Err(EvalError::Empty { what, .. }) => assert!(what.contains(name), "{what}"),
            other => panic!("{name}: expected Empty, got {other:?}"),
        }
    }

    for bad in ["", "..", "../gen", "gen/../..", "/gen"] {
        assert!(
            matches!(
                load_task(tmp.path(), bad, 10, 0),
                Err(EvalError::File(FileError::Malformed { .. }))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn bigbench_selection_is_seeded_uniform_and_in_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    let examples: Vec<String> = (0..40)
        .map(|i| {
            let n = 2 + i % 3;
            let scores: Vec<String> =
                (0..n).map(|k| format!("\"o{k}\": {}", u8::from(k == i % n))).collect();
            format!(r#"{{"input": "q{i:02}", "target_scores": {{{}}}}}"#, scores.join(", "))
        })
        .collect();
    write(tmp.path(), "many/task.json", &format!(r#"{{"examples": [{}]}}"#, examples.join(",")));

    let full = all(tmp.path(), "many");
    assert_eq!(full.items.len(), 40);
    let expected_chance = (0..40).map(|i| 1.0 / (2 + i % 3) as f64).sum::<f64>() / 40.0;
    assert!((full.chance() - expected_chance).abs() < 1e-12);

    let a = load_task(tmp.path(), "many", 10, 1).unwrap();
    let b = load_task(tmp.path(), "many", 10, 1).unwrap();
    let c = load_task(tmp.path(), "many", 10, 2).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.items.len(), 10);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.items, c.items);
    assert_ne!(a.fingerprint(), c.fingerprint());
    let fp = a.fingerprint();
    assert_eq!(fp.len(), 16);
    assert!(fp.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{fp}");

    // A subset of the full task, in file order.
    let mut pos = full.items.iter();
    for item in &a.items {
        assert!(pos.any(|f| f == item), "selected items keep file order");
    }
    // The same seed on a task of another name draws independently.
    fs::create_dir_all(tmp.path().join("other")).unwrap();
    fs::copy(tmp.path().join("many/task.json"), tmp.path().join("other/task.json")).unwrap();
    assert_ne!(load_task(tmp.path(), "other", 10, 1).unwrap().items, a.items);

    assert!(matches!(load_task(tmp.path(), "many", 0, 1), Err(EvalError::Empty { .. })));
    assert_eq!(load_task(tmp.path(), "many", 40, 5).unwrap().items, full.items);
}

#[test]
fn bigbench_chance_and_fingerprint_of_hand_made_tasks() {
    let item = |n: usize| McItem {
        prompt: "p".into(),
        options: (0..n).map(|k| k.to_string()).collect(),
        correct: 0,
    };
    let task = McTask { name: "t".into(), items: vec![item(2), item(4)], files: vec![] };
    assert!((task.chance() - 0.375).abs() < 1e-12);
    let mut moved = task.clone();
    moved.items[1].correct = 1;
    assert_ne!(task.fingerprint(), moved.fingerprint());
    let empty = McTask { name: "e".into(), items: vec![], files: vec![] };
    assert_eq!(empty.chance(), 0.0);
}

/// Usable items per real task and the chance level, computed independently by a Python script
/// over the raw `task.json` files (bigbench 1.0.0 sdist) with the same rules: `target_scores`
/// with one best of two or more non-empty options, repeats kept once, repeats that disagree
/// on the answer dropped (5 in social_iqa, 3 in winowhy).
const REAL_TASKS: [(&str, usize, f64); 9] = [
    ("arithmetic", 15023, 0.1450),
    ("date_understanding", 369, 0.1719),
    ("elementary_math_qa", 38160, 0.2002),
    ("goal_step_wikihow", 7053, 0.3599),
    ("social_iqa", 1925, 0.3337),
    ("strategyqa", 2289, 0.5000),
    ("unit_conversion", 15000, 0.2267),
    ("vitaminc_fact_verification", 54668, 0.3333),
    ("winowhy", 2856, 0.5000),
];

fn real_root() -> Option<PathBuf> {
    let root = mixagent_corpus::default_cache_dir().join("raw/bigbench");
    if root.is_dir() {
        return Some(root);
    }
    // Even where the test command requires the real data: the registry no longer serves
    // bigbench 1.0.0, so `scripts/setup.sh` installs it only from a cache that holds it.
    eprintln!(
        "skipped: BIG-bench tasks not installed at {} (the registry no longer serves bigbench \
         1.0.0)",
        root.display()
    );
    None
}

/// Raw examples with target_scores, bucketed by their sorted option texts: (input, scores).
type RawIndex = HashMap<Vec<String>, Vec<(String, HashMap<String, f64>)>>;

fn raw_index(files: &[PathBuf]) -> RawIndex {
    let mut index = RawIndex::new();
    for file in files {
        let json: serde_json::Value = serde_json::from_slice(&fs::read(file).unwrap()).unwrap();
        for ex in json["examples"].as_array().into_iter().flatten() {
            let Some(scores) = ex["target_scores"].as_object() else { continue };
            let scores: HashMap<String, f64> =
                scores.iter().map(|(k, v)| (k.clone(), v.as_f64().unwrap())).collect();
            let mut key: Vec<String> = scores.keys().cloned().collect();
            key.sort();
            index.entry(key).or_default().push((ex["input"].as_str().unwrap().to_string(), scores));
        }
    }
    index
}

#[test]
fn bigbench_real_tasks_load_with_the_best_option_correct() {
    let Some(root) = real_root() else { return };
    for (name, usable, chance) in REAL_TASKS {
        let full = load_task(&root, name, usize::MAX, 0).unwrap();
        assert_eq!(full.items.len(), usable, "{name}");
        assert!((full.chance() - chance).abs() < 5e-5, "{name}: chance {}", full.chance());
        eprintln!(
            "{name}: {usable} items, chance {:.4}, {} files",
            full.chance(),
            full.files.len()
        );

        let a = load_task(&root, name, 50, 7).unwrap();
        let b = load_task(&root, name, 50, 7).unwrap();
        assert_eq!(a.items.len(), 50, "{name}");
        assert_eq!(a, b, "{name}: same arguments, same items");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), load_task(&root, name, 50, 8).unwrap().fingerprint());

        let index = raw_index(&a.files);
        for item in &a.items {
            assert!(item.options.len() >= 2 && item.correct < item.options.len(), "{name}");
            let spaced = !item.prompt.ends_with(char::is_whitespace);
            let bare: Vec<String> = item
                .options
                .iter()
                .map(|o| if spaced { o.strip_prefix(' ').unwrap_or(o) } else { o }.to_string())
                .collect();
            let mut key = bare.clone();
            key.sort();
            let best = &bare[item.correct];
            let found = index.get(&key).into_iter().flatten().any(|(input, scores)| {
                item.prompt.contains(input.as_str())
                    && scores.iter().all(|(o, s)| o == best || *s < scores[best])
            });
            assert!(
                found,
                "{name}: no raw example has {best:?} as the best option of {:?}",
                item.prompt
            );
        }
    }
}
