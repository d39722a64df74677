//! The scorer on a tiny real tokenizer and a `smoke` model: truncation from the left is
//! counted, never a crash; batching does not change scores; generation stops at a newline.

use mixagent_corpus::CorpusTokenizer;
use mixagent_eval::Scorer;
use mixagent_lm::{with_seed, Llama, ModelConfig};

fn setup() -> (CorpusTokenizer, ModelConfig) {
    tch::set_num_threads(1);
    let texts: Vec<String> = (0..200)
        .map(|i| format!("Question: What is {i} plus {}?\nAnswer: {}\n", i % 7, i + i % 7))
        .collect();
    let tk = CorpusTokenizer::train(texts.iter().map(String::as_str), 300).unwrap();
    let mut cfg = ModelConfig::preset("smoke", tk.vocab_size() as usize).unwrap();
    cfg.max_seq_len = 32;
    (tk, cfg)
}

#[test]
fn long_items_are_truncated_from_the_left_and_counted() {
    let (tk, cfg) = setup();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let model = with_seed(1, || Llama::new(&vs.root(), &cfg));
    let long_prompt = "Question: What is 1 plus 2? ".repeat(40);
    let long_answer = " 3".repeat(60);
    let pairs = [
        ("Question: What is 5 plus 5?\nAnswer:", " 10"),
        (long_prompt.as_str(), " 3"),
        ("Q", long_answer.as_str()),
    ];
    let one_by_one: Vec<_> = pairs
        .iter()
        .map(|p| Scorer::new(&model, &tk, 1, tch::Device::Cpu).score(&[*p]).unwrap()[0])
        .collect();
    let batched = Scorer::new(&model, &tk, 8, tch::Device::Cpu).score(&pairs).unwrap();
    assert!(!batched[0].truncated && batched[1].truncated && batched[2].truncated);
    assert!(batched[2].tokens <= cfg.max_seq_len, "answer longer than the context is cut to fit");
    for (a, b) in one_by_one.iter().zip(&batched) {
        assert!(a.logprob_sum.is_finite() && a.tokens > 0);
        assert!(
            (a.logprob_sum - b.logprob_sum).abs() < 1e-3,
            "padding changed a score: {a:?} vs {b:?}"
        );
        assert_eq!(a.tokens, b.tokens);
    }
    let out = Scorer::new(&model, &tk, 4, tch::Device::Cpu)
        .generate(&["Question: What is 1 plus 1?\nAnswer:", long_prompt.as_str()], 5)
        .unwrap();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| !o.contains('\n')));
}

/// Every task of the benchmark suite loads from the real BIG-bench files, and none of them is
/// the training corpus's own source (VitaminC is the `encyclopedic` domain).
#[test]
fn benchmark_task_lists_load_and_exclude_training_sources() {
    assert!(!mixagent_eval::GENERAL_TASKS.contains(&"vitaminc_fact_verification"));
    let root = mixagent_corpus::default_cache_dir().join("raw/bigbench");
    if !root.exists() {
        assert!(
            std::env::var_os("MIXAGENT_REQUIRE_DATA").is_none(),
            "{} missing: run scripts/setup.sh",
            root.display()
        );
        eprintln!("skipped: {} missing", root.display());
        return;
    }
    for name in mixagent_eval::GENERAL_TASKS.iter().chain(mixagent_eval::MATH_TASKS) {
        let task = mixagent_eval::bigbench::load_task(&root, name, 20, 0).unwrap();
        assert_eq!(task.items.len(), 20, "{name}");
    }
}
