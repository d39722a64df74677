//! Sampler behaviour on synthetic shards: frequencies, determinism, resume, epoch accounting.

use std::collections::HashSet;
use std::sync::Arc;

use mixagent_core::{DomainSpace, Mixture};
use mixagent_sampler::{Corpus, Sampler, SamplerConfig, SamplerError};
use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};
use proptest::prelude::*;

const VOCAB: u32 = 400_000;
const STRIDE: u32 = VOCAB / 4;

fn corpus(dir: &std::path::Path, tokens: [usize; 4]) -> Corpus {
    let doms =
        [("web", "general"), ("books", "general"), ("algebra", "math"), ("geometry", "math")];
    let domains: Vec<_> = doms
        .iter()
        .zip(tokens)
        .map(|((n, f), t)| SyntheticDomain { name: n.to_string(), field: f.to_string(), tokens: t })
        .collect();
    write_synthetic_corpus(dir, &domains, VOCAB).unwrap();
    Corpus::open(dir).unwrap()
}

fn cfg(seed: u64) -> SamplerConfig {
    SamplerConfig {
        batch_size: 8,
        seq_len: 16,
        seed,
        max_epochs: 4,
        token_caps: Default::default(),
    }
}

fn kd(c: &Corpus) -> Arc<DomainSpace> {
    Arc::new(c.manifest.domain_space().unwrap())
}

fn batches(s: &mut Sampler, mixes: &[Mixture], steps: usize) -> Vec<Vec<u32>> {
    let mut buf = vec![0u32; s.buffer_len()];
    (0..steps)
        .map(|i| {
            s.fill(&mixes[i % mixes.len()], &mut buf).unwrap();
            buf.clone()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn empirical_frequencies_converge_to_weights(raw in prop::collection::vec(0.0f64..1.0, 4)) {
        prop_assume!(raw.iter().sum::<f64>() > 0.05);
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), [20_000; 4]);
        let space = kd(&c);
        let mix = Mixture::from_unnormalised(space.clone(), raw).unwrap();
        let mut s = Sampler::new(&c, space, cfg(3)).unwrap();
        let mut counts = [0usize; 4];
        let mut buf = vec![0u32; s.buffer_len()];
        let steps = 500;
        for _ in 0..steps {
            s.fill(&mix, &mut buf).unwrap();
            for row in buf.chunks(17) {
                counts[(row[0] / STRIDE) as usize] += 1;
            }
        }
        for (d, &n) in counts.iter().enumerate() {
            let freq = n as f64 / (steps * 8) as f64;
            // Systematic sampling: each batch's count is within 1 of B·w, so the mean is tight.
            prop_assert!((freq - mix.weights()[d]).abs() < 0.01, "domain {d}: {freq} vs {}", mix.weights()[d]);
            if mix.weights()[d] == 0.0 { prop_assert_eq!(n, 0); }
        }
    }
}

#[test]
fn same_seed_same_batches_other_seed_other_batches() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [5_000; 4]);
    let space = kd(&c);
    let mix = [Mixture::uniform(space.clone())];
    let a = batches(&mut Sampler::new(&c, space.clone(), cfg(7)).unwrap(), &mix, 20);
    let b = batches(&mut Sampler::new(&c, space.clone(), cfg(7)).unwrap(), &mix, 20);
    let other = batches(&mut Sampler::new(&c, space, cfg(8)).unwrap(), &mix, 20);
    assert_eq!(a, b);
    assert_ne!(a, other);
}

#[test]
fn resume_from_saved_state_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [3_000, 2_000, 4_000, 1_000]);
    let space = kd(&c);
    let mixes = [
        Mixture::uniform(space.clone()),
        Mixture::new(space.clone(), vec![0.7, 0.0, 0.3, 0.0]).unwrap(),
        Mixture::new(space.clone(), vec![0.0, 0.1, 0.1, 0.8]).unwrap(),
    ];
    let full = batches(&mut Sampler::new(&c, space.clone(), cfg(1)).unwrap(), &mixes, 90);

    let mut first = Sampler::new(&c, space.clone(), cfg(1)).unwrap();
    let head = batches(&mut first, &mixes, 45);
    let json = serde_json::to_string(&first.state()).unwrap();
    drop(first);
    let mut second = Sampler::new(&c, space, cfg(1)).unwrap();
    second.restore(&serde_json::from_str(&json).unwrap()).unwrap();
    let mut tail = Vec::new();
    let mut buf = vec![0u32; second.buffer_len()];
    for i in 45..90 {
        second.fill(&mixes[i % 3], &mut buf).unwrap();
        tail.push(buf.clone());
    }
    assert_eq!([head, tail].concat(), full);
}

#[test]
fn mixture_changes_never_drop_or_repeat_a_window_within_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    // 1,601 tokens at T = 16 → 100 windows at offset 0 (fewer at a positive offset).
    let c = corpus(dir.path(), [1_601; 4]);
    let space = kd(&c);
    let mixes: Vec<Mixture> = (0..7)
        .map(|i| {
            let w: Vec<f64> = (0..4).map(|d| ((i * 3 + d * 5) % 7) as f64 + 0.5).collect();
            Mixture::from_unnormalised(space.clone(), w).unwrap()
        })
        .collect();
    let mut s = Sampler::new(&c, space, cfg(11)).unwrap();
    let mut seen: Vec<Vec<u32>> = vec![Vec::new(); 4];
    let mut buf = vec![0u32; s.buffer_len()];
    for step in 0..120 {
        s.fill(&mixes[step % 7], &mut buf).unwrap();
        for row in buf.chunks(17) {
            seen[(row[0] / STRIDE) as usize].push(row[0] % STRIDE);
        }
    }
    for (d, cursor) in s.cursors().iter().enumerate() {
        // Per domain: windows taken == cursor.windows; epoch 0 saw each start at most once.
        assert_eq!(seen[d].len() as u64, cursor.windows);
        assert!(cursor.epoch >= 1, "domain {d} should have wrapped at least once");
        let mut starts: Vec<u32> = seen[d].clone();
        starts.sort_unstable();
        // Windows of one epoch share one offset: starts ≡ offset (mod 16). Count, per offset
        // class, that no start appears more often than the number of epochs touching it.
        let mut by_class = std::collections::HashMap::<u32, Vec<u32>>::new();
        for st in &starts {
            by_class.entry(st % 16).or_default().push(*st);
        }
        for (_, v) in by_class {
            let distinct: HashSet<_> = v.iter().collect();
            assert!(
                v.len() - distinct.len() <= cursor.epoch as usize,
                "domain {d} repeated a window"
            );
        }
        assert_eq!(cursor.tokens, cursor.windows * 16);
    }
}

#[test]
fn every_window_of_an_epoch_is_visited_once_before_the_next_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [1_601, 5_000, 5_000, 5_000]);
    let space = kd(&c);
    let only_web = Mixture::new(space.clone(), vec![1.0, 0.0, 0.0, 0.0]).unwrap();
    let half = Mixture::new(space.clone(), vec![0.5, 0.5, 0.0, 0.0]).unwrap();
    let mut s = Sampler::new(&c, space, cfg(5)).unwrap();
    let mut buf = vec![0u32; s.buffer_len()];
    let mut starts = Vec::new();
    while s.cursors()[0].epoch == 0 {
        let mix = if s.step().is_multiple_of(2) { &only_web } else { &half };
        s.fill(mix, &mut buf).unwrap();
        for (row, &d) in buf.chunks(17).zip(s.row_domains()) {
            if d == 0 {
                starts.push(row[0]);
            }
        }
    }
    // The last batch may have started epoch 1: drop its rows beyond the epoch.
    let epoch0 = (s.cursors()[0].windows - s.cursors()[0].position) as usize;
    let first: HashSet<_> = starts[..epoch0].iter().collect();
    assert_eq!(first.len(), epoch0, "a window repeated within epoch 0");
    let offset = starts[0] % 16;
    assert!(starts[..epoch0].iter().all(|s| s % 16 == offset));
    assert_eq!(epoch0 as u64, (1_601 - offset as u64 - 1) / 16);
}

/// Each corpus domain's share of the rows of 300 batches under `mix`.
fn drawn_shares(s: &mut Sampler, mix: &Mixture) -> [f64; 4] {
    let mut counts = [0usize; 4];
    let mut buf = vec![0u32; s.buffer_len()];
    for _ in 0..300 {
        s.fill(mix, &mut buf).unwrap();
        for row in buf.chunks(17) {
            counts[(row[0] / STRIDE) as usize] += 1;
        }
    }
    let total: usize = counts.iter().sum();
    counts.map(|c| c as f64 / total as f64)
}

#[test]
fn field_level_space_draws_domains_by_token_share() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [30_000, 10_000, 20_000, 20_000]);
    let fields = Arc::new(c.manifest.field_space().unwrap());
    assert_eq!(fields.names().collect::<Vec<_>>(), ["general", "math"]);
    let mix = Mixture::new(fields.clone(), vec![0.8, 0.2]).unwrap();
    let mut s = Sampler::new(&c, fields, SamplerConfig { batch_size: 32, ..cfg(2) }).unwrap();
    let shares = drawn_shares(&mut s, &mix);
    let want = [0.8 * 0.75, 0.8 * 0.25, 0.1, 0.1];
    for d in 0..4 {
        assert!((shares[d] - want[d]).abs() < 0.01, "{shares:?}");
    }
}

#[test]
fn grouped_entry_draws_its_members_by_token_share() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [30_000, 10_000, 20_000, 20_000]);
    let space = Arc::new(kd(&c).grouped(&[vec!["books".into(), "web".into()]]).unwrap());
    assert_eq!(space.names().collect::<Vec<_>>(), ["web+books", "algebra", "geometry"]);
    let mix = Mixture::new(space.clone(), vec![0.6, 0.1, 0.3]).unwrap();
    let mut s = Sampler::new(&c, space, SamplerConfig { batch_size: 32, ..cfg(3) }).unwrap();
    let shares = drawn_shares(&mut s, &mix);
    // web 30k and books 10k tokens share the group's 0.6 as 3:1.
    let want = [0.6 * 0.75, 0.6 * 0.25, 0.1, 0.3];
    for d in 0..4 {
        assert!((shares[d] - want[d]).abs() < 0.01, "{shares:?}");
    }
    // A group across fields names itself as unknown to the sampler too.
    let bad = Arc::new(
        DomainSpace::new(vec![mixagent_core::Domain::group(
            &["web".into(), "algebra".into()],
            mixagent_core::Field::new("general").unwrap(),
        )
        .unwrap()])
        .unwrap(),
    );
    match Sampler::new(&c, bad, cfg(1)) {
        Err(SamplerError::UnknownDomain { name, .. }) => assert_eq!(name, "web+algebra"),
        other => panic!("expected UnknownDomain, got {:?}", other.err()),
    }
}

#[test]
fn repeat_warning_threshold_is_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [200, 5_000, 5_000, 5_000]);
    let space = kd(&c);
    let web = Mixture::new(space.clone(), vec![1.0, 0.0, 0.0, 0.0]).unwrap();
    let mut s = Sampler::new(&c, space, SamplerConfig { max_epochs: 2, ..cfg(1) }).unwrap();
    let mut buf = vec![0u32; s.buffer_len()];
    for _ in 0..10 {
        s.fill(&web, &mut buf).unwrap();
    }
    assert!(s.cursors()[0].epoch >= 2);
    assert_eq!(s.over_repeated().collect::<Vec<_>>(), ["web"]);
}

#[test]
fn bad_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [5_000, 5_000, 5_000, 10]);
    let space = kd(&c);
    match Sampler::new(&c, space.clone(), cfg(1)) {
        Err(SamplerError::EmptyDomain { domain, .. }) => assert_eq!(domain, "geometry"),
        other => panic!("expected EmptyDomain, got {:?}", other.err()),
    }
    let sub = Arc::new(
        space.restrict_to_fields(&[mixagent_core::Field::new("general").unwrap()]).unwrap(),
    );
    let mut s = Sampler::new(&c, sub.clone(), cfg(1)).unwrap();
    let mut buf = vec![0u32; s.buffer_len()];
    let err = s.fill(&Mixture::uniform(space.clone()), &mut buf).unwrap_err();
    assert!(err.to_string().contains("mixture belongs to domain space"), "{err}");
    let err = s.fill(&Mixture::uniform(sub.clone()), &mut buf[1..]).unwrap_err();
    assert!(matches!(err, SamplerError::BufferSize { .. }));

    let f = mixagent_core::Field::new("general").unwrap();
    let ghost =
        Arc::new(DomainSpace::new(vec![mixagent_core::Domain::new("ghost", f).unwrap()]).unwrap());
    let err = Sampler::new(&c, ghost, cfg(1)).err().unwrap().to_string();
    assert!(err.contains("`ghost`") && err.contains("web, books"), "{err}");

    let mut state = s.state();
    state.seed = 99;
    assert!(matches!(s.restore(&state), Err(SamplerError::StateMismatch(_))));
    let mut other = Sampler::new(&c, sub, SamplerConfig { seq_len: 8, ..cfg(1) }).unwrap();
    assert!(other.restore(&s.state()).unwrap_err().to_string().contains("batch"));
}

#[test]
fn a_token_cap_reads_only_the_domains_first_tokens_and_repeats_them() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), [20_000; 4]);
    let space = kd(&c);
    let caps = [("web".to_string(), 1_000u64)].into();
    let mut s =
        Sampler::new(&c, space.clone(), SamplerConfig { token_caps: caps, ..cfg(1) }).unwrap();
    let web = Mixture::new(space.clone(), vec![0.5, 0.5, 0.0, 0.0]).unwrap();
    let mut seen = HashSet::new();
    for batch in batches(&mut s, &[web], 100) {
        for row in batch.chunks(17) {
            if row[0] < STRIDE {
                // Synthetic token = the domain's base + its position in the domain.
                assert!(row.iter().all(|&t| t < 1_000), "web read beyond its cap: {row:?}");
                seen.insert(row[0]);
            } else {
                assert!(row[0] < 2 * STRIDE, "{row:?}");
            }
        }
    }
    // 1,000 tokens give ~62 windows of 16: 400 web rows repeat them ~6 times, and the cap
    // is read throughout, not only its start.
    assert!(s.cursors()[0].epoch >= 5, "{:?}", s.cursors()[0]);
    assert!(seen.len() > 100, "{}", seen.len());
    assert!(seen.iter().any(|&t| t > 900));
    // A cap on a domain the corpus does not have is named.
    let caps = [("webb".to_string(), 1_000u64)].into();
    let err = Sampler::new(&c, space, SamplerConfig { token_caps: caps, ..cfg(1) }).err().unwrap();
    assert!(err.to_string().contains("train.token_caps names `webb`"), "{err}");
}
