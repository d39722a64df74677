//! Batched proxies (issue 20, point 3): N sessions trained as one stacked network end where
//! each trained alone ends, to float rounding, each on its own mixture and data order.

use std::path::Path;

use mixagent_core::{Mixture, SpaceSpec};
use mixagent_lm::{
    train_stage_batched, Device, LmError, ModelConfig, Session, TrainConfig, Weights,
};
use mixagent_sampler::Corpus;
use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};
use tch::Tensor;

const VOCAB: usize = 256;

fn corpus(dir: &Path) -> Corpus {
    let doms =
        [("web", "general", 40_000), ("books", "general", 40_000), ("algebra", "math", 40_000)];
    let domains: Vec<_> = doms
        .iter()
        .map(|(n, f, t)| SyntheticDomain { name: n.to_string(), field: f.to_string(), tokens: *t })
        .collect();
    write_synthetic_corpus(dir, &domains, VOCAB as u32).unwrap();
    Corpus::open(dir).unwrap()
}

/// Session `seed` over the three domains, 12 planned steps, the smoke shape (with
/// `other_shape`: one key-value head and an untied output head).
fn session(corpus: &Corpus, seed: u64, grad_accum: usize) -> Session {
    session_of(corpus, seed, grad_accum, false)
}

fn session_of(corpus: &Corpus, seed: u64, grad_accum: usize, other_shape: bool) -> Session {
    let space = SpaceSpec {
        level: "domains".into(),
        fields: vec!["general".into(), "math".into()],
        groups: Vec::new(),
    }
    .resolve(&corpus.manifest.domain_space().unwrap())
    .unwrap();
    let mut train = TrainConfig::small(4, 32);
    train.warmup_steps = 2;
    train.seed = seed;
    train.grad_accum = grad_accum;
    // A clip that binds, so each proxy's own norm matters (clipping all by their joint norm
    // fails this test).
    train.adamw.grad_clip = 0.05;
    let mut model = ModelConfig::preset("smoke", VOCAB).unwrap();
    if other_shape {
        model.n_kv_heads = 1;
        model.tie_embeddings = false;
    }
    Session::new(Weights::Fresh(&model), corpus, space, train, 12, Device::Cpu).unwrap()
}

fn weights(s: &Session) -> Vec<(String, Tensor)> {
    s.model().hf_tensors()
}

#[test]
fn batched_proxies_end_where_each_trained_alone_ends() {
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    for (accum, other_shape) in [(1, false), (2, false), (1, true)] {
        let session = |c: &Corpus, seed: u64, accum: usize| session_of(c, seed, accum, other_shape);
        let space = session(&corpus, 0, accum).space().clone();
        let mixtures: Vec<Mixture> = [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.3, 0.5, 0.2]]
            .iter()
            .map(|w| Mixture::new(space.clone(), w.to_vec()).unwrap())
            .collect();
        let seeds = [3u64, 4, 5];
        let mut alone: Vec<Session> = seeds.iter().map(|&s| session(&corpus, s, accum)).collect();
        let mut batched: Vec<Session> = seeds.iter().map(|&s| session(&corpus, s, accum)).collect();
        // Two stages, so the second starts from written-back weights and moments.
        for stage in 0..2 {
            let stats: Vec<_> = alone
                .iter_mut()
                .zip(&mixtures)
                .map(|(s, m)| s.train_stage(m, 3).unwrap())
                .collect();
            let together = train_stage_batched(&mut batched, &mixtures, 3).unwrap();
            for (i, (a, b)) in stats.iter().zip(&together).enumerate() {
                assert_eq!(a.tokens_by_domain, b.tokens_by_domain, "proxy {i}: its own batches");
                let rel = (a.train_loss - b.train_loss).abs() / a.train_loss;
                assert!(
                    rel < 1e-5,
                    "stage {stage} proxy {i}: loss {} vs {}",
                    a.train_loss,
                    b.train_loss
                );
            }
        }
        for (i, (a, b)) in alone.iter().zip(&batched).enumerate() {
            assert_eq!(a.step(), b.step());
            for ((name, x), (_, y)) in weights(a).iter().zip(weights(b)) {
                let scale = x.abs().max().double_value(&[]);
                let diff = (x - &y).abs().max().double_value(&[]);
                assert!(diff < 1e-5 * scale, "accum {accum}, proxy {i}, {name}: {diff} of {scale}");
            }
        }
        // The proxies moved apart: their own data and mixtures, not one shared update.
        let (x, y) = (&weights(&batched[0])[0].1, &weights(&batched[1])[0].1);
        assert!((x - y).abs().max().double_value(&[]) > 1e-3);
    }
    // Sessions that cannot train in lockstep are refused, with the reason.
    let space = session(&corpus, 0, 1).space().clone();
    let m = Mixture::new(space, vec![0.4, 0.3, 0.3]).unwrap();
    let mut two = vec![session(&corpus, 1, 1), session(&corpus, 2, 1)];
    two[0].train_stage(&m, 1).unwrap();
    let err = train_stage_batched(&mut two, &[m.clone(), m.clone()], 1).unwrap_err();
    assert!(matches!(err, LmError::Config(ref s) if s.contains("lockstep")), "{err}");
    let err = train_stage_batched(&mut two[..1], &[m.clone(), m], 1).unwrap_err();
    assert!(err.to_string().contains("2 mixtures for 1 sessions"), "{err}");
}
