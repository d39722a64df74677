//! The scorer on a tiny real tokenizer and a `smoke` model: truncation from the left is
//! counted, never a crash; batching does not change scores; generation stops at a newline.

use mixagent_corpus::CorpusTokenizer;
use mixagent_eval::{mean_loss, HeldoutBatches, Scorer};
use mixagent_lm::{with_seed, Llama, ModelConfig};
use tch::{Kind, Tensor};

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

/// The observation's shortcuts keep the maths: answers scored with the output projection at
/// their own positions only equal the full log-softmax over every position, and every
/// domain's held-out loss from shared batches equals `mean_loss` of that domain alone.
#[test]
fn scoring_at_answer_positions_and_shared_heldout_batches_keep_the_values() {
    let (tk, cfg) = setup();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let model = with_seed(2, || Llama::new(&vs.root(), &cfg));
    let pairs = [
        ("Question: What is 5 plus 5?\nAnswer:", " 10"),
        ("Question: What is 12 plus 5?\nAnswer: ", "17"),
        ("Q", " 3 3 3"),
    ];
    let scored = Scorer::new(&model, &tk, 2, tch::Device::Cpu).score(&pairs).unwrap();
    let _guard = tch::no_grad_guard();
    for ((prompt, answer), s) in pairs.iter().zip(&scored) {
        // The reference: the whole sequence's log-softmax, summed over the answer's tokens.
        let trimmed = prompt.trim_end();
        let answer = format!("{}{answer}", &prompt[trimmed.len()..]);
        let p = tk.encode_batch(&[trimmed]).unwrap().remove(0);
        let a = tk.encode_batch(&[answer.as_str()]).unwrap().remove(0);
        let ids: Vec<i64> = p.iter().chain(&a).map(|&t| i64::from(t)).collect();
        let n = ids.len() - 1;
        let x = Tensor::from_slice(&ids[..n]).view([1, n as i64]);
        let lp = model.forward(&x).log_softmax(-1, Kind::Double).squeeze_dim(0);
        let reference: f64 =
            (n - a.len()..n).map(|c| lp.double_value(&[c as i64, ids[c + 1]])).sum();
        assert_eq!(s.tokens, a.len());
        assert!((s.logprob_sum - reference).abs() < 1e-4, "{} vs {reference}", s.logprob_sum);
    }
    // Three domains, one shorter than a window, one with several windows.
    let text = |i: usize| format!("Question: What is {i} plus 1?\nAnswer: {}\n", i + 1);
    let corpora: Vec<Vec<u32>> = [3usize, 1, 40]
        .iter()
        .map(|&k| {
            let t: String = (0..k).map(text).collect();
            tk.encode_batch(&[t.as_str()]).unwrap().remove(0)
        })
        .collect();
    let refs: Vec<&[u32]> = corpora.iter().map(Vec::as_slice).collect();
    let shared =
        HeldoutBatches::new(&refs, 16, 4, 3).mean_losses(&model, tch::Device::Cpu, Kind::Float);
    for (tokens, got) in refs.iter().zip(shared.unwrap()) {
        let alone = mean_loss(&model, tokens, 16, 4, 1, tch::Device::Cpu).unwrap();
        assert!((got - alone).abs() < 1e-5 * alone.abs(), "{got} vs {alone}");
    }
}

/// Every task of the benchmark suite loads from the real BIG-bench files, and none of them is
/// the training corpus's own source (VitaminC is the `encyclopedic` domain).
#[test]
fn benchmark_task_lists_load_and_exclude_training_sources() {
    assert!(!mixagent_eval::GENERAL_TASKS.contains(&"vitaminc_fact_verification"));
    let root = mixagent_corpus::default_cache_dir().join("raw/bigbench");
    if !root.exists() {
        // Even where the test command requires the real data: the registry no longer serves
        // bigbench 1.0.0, so `scripts/setup.sh` installs it only from a cache that holds it.
        eprintln!(
            "skipped: {} missing (the registry no longer serves bigbench 1.0.0)",
            root.display()
        );
        return;
    }
    for name in mixagent_eval::GENERAL_TASKS.iter().chain(mixagent_eval::MATH_TASKS) {
        let task = mixagent_eval::bigbench::load_task(&root, name, 20, 0).unwrap();
        assert_eq!(task.items.len(), 20, "{name}");
    }
}

/// `choice_pmi` scoring picks by the option's log-probability after the question less its
/// log-probability after the bare answer cue, checked against the scorer's own values; on
/// options of different lengths it disagrees with the summed log-probability somewhere, which
/// is what it is for (a short or frequent number's prior no longer decides).
#[test]
fn pmi_choices_subtract_the_answer_cue_prior() {
    use mixagent_eval::living::{grade_choices, ChoiceScoring, PMI_PROMPT};
    let (tk, cfg) = setup();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let model = with_seed(3, || Llama::new(&vs.root(), &cfg));
    let scorer = Scorer::new(&model, &tk, 4, tch::Device::Cpu);
    let prompts: Vec<String> = (0..24)
        .map(|i| format!("Question: Which is bigger: {i} or {}?\nAnswer:", 99 - i))
        .collect();
    let options: Vec<Vec<String>> =
        (0..24).map(|i| vec![format!(" {}", 99 - i), format!(" {i}")]).collect();
    let items: Vec<(&str, &[String], usize)> =
        prompts.iter().zip(&options).map(|(p, o)| (p.as_str(), &o[..], 0)).collect();
    let value =
        |prompt: &str, option: &str| scorer.score(&[(prompt, option)]).unwrap()[0].logprob_sum;
    let argmax = |v: Vec<f64>| (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
    let (mut want_pmi, mut want_sum) = (Vec::new(), Vec::new());
    for (p, o) in prompts.iter().zip(&options) {
        want_pmi.push(argmax(o.iter().map(|x| value(p, x) - value(PMI_PROMPT, x)).collect()));
        want_sum.push(argmax(o.iter().map(|x| value(p, x)).collect()));
    }
    let (credit, picks) = grade_choices(&scorer, &items, ChoiceScoring::Pmi).unwrap();
    assert_eq!(picks, want_pmi);
    assert_eq!(credit, picks.iter().filter(|&&p| p == 0).count() as f64);
    assert_eq!(grade_choices(&scorer, &items, ChoiceScoring::Sum).unwrap().1, want_sum);
    assert_ne!(want_pmi, want_sum, "the prior decides none of these 24 items");
}

#[test]
fn bf16_products_score_close_to_float32() {
    if !mixagent_lm::cpu_has_bf16() {
        eprintln!("this CPU has no bf16 instructions: nothing to compare");
        return;
    }
    let (tk, cfg) = setup();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let model = with_seed(4, || Llama::new(&vs.root(), &cfg));
    let prompts: Vec<String> =
        (0..24).map(|i| format!("Question: What is {i} plus 3?\nAnswer:")).collect();
    let answers: Vec<String> = (0..24).map(|i| format!(" {}", i + 3)).collect();
    let pairs: Vec<(&str, &str)> =
        prompts.iter().zip(&answers).map(|(p, a)| (p.as_str(), a.as_str())).collect();
    let exact = Scorer::new(&model, &tk, 8, tch::Device::Cpu).score(&pairs).unwrap();
    let half = Scorer::new(&model, &tk, 8, tch::Device::Cpu)
        .with_matmul(Kind::BFloat16)
        .score(&pairs)
        .unwrap();
    let mut largest = 0f64;
    for (a, b) in exact.iter().zip(&half) {
        assert_eq!(a.tokens, b.tokens);
        largest = largest.max((a.mean() - b.mean()).abs());
    }
    let mean = |s: &[mixagent_eval::Scored]| s.iter().map(|x| x.mean()).sum::<f64>() / 24.0;
    eprintln!(
        "bf16 vs f32: largest item difference {largest:.2e}, of the mean {:.2e} nats",
        (mean(&exact) - mean(&half)).abs()
    );
    assert!(largest > 0.0, "bf16 products were not used");
    assert!(largest < 0.02, "an item's mean log-prob moved {largest} nats");
    assert!((mean(&exact) - mean(&half)).abs() < 5e-3);
}
