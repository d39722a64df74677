//! Unsupervised domains: hashed n-gram features and spherical k-means (as CLIMB does at scale
//! with embeddings). Deterministic for a seed.

use mixagent_core::seed::{derive, mix64};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Feature dimensions (hashed word unigrams and bigrams).
const DIMS: usize = 1 << 12;

/// Sparse, L2-normalised feature vector: (dimension, value), sorted by dimension.
type Sparse = Vec<(u32, f32)>;

/// Hashed word unigram + bigram counts, log-scaled and weighted by inverse document frequency,
/// then L2-normalised. Numbers are skipped and features seen in a single document get no
/// weight: both are near-unique identifiers that would make every document its own topic.
fn features(docs: &[String]) -> Vec<Sparse> {
    let raw: Vec<Vec<(u32, f32)>> = docs
        .iter()
        .map(|d| {
            let mut counts = std::collections::BTreeMap::<u32, f32>::new();
            let words: Vec<u64> = d
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
                .map(|w| {
                    w.to_lowercase().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                    })
                })
                .collect();
            for (i, &w) in words.iter().enumerate() {
                *counts.entry((mix64(w) % DIMS as u64) as u32).or_default() += 1.0;
                if let Some(&next) = words.get(i + 1) {
                    *counts.entry((mix64(w ^ mix64(next)) % DIMS as u64) as u32).or_default() +=
                        1.0;
                }
            }
            counts.into_iter().map(|(k, c)| (k, 1.0 + c.ln())).collect()
        })
        .collect();
    let mut df = vec![0f32; DIMS];
    for v in &raw {
        for &(k, _) in v {
            df[k as usize] += 1.0;
        }
    }
    let n = docs.len() as f32;
    raw.into_iter()
        .map(|v| {
            let mut v: Sparse = v
                .into_iter()
                .map(|(k, x)| {
                    let df = df[k as usize];
                    (k, if df < 2.0 { 0.0 } else { x * (n / df).ln().max(0.0) })
                })
                .collect();
            let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|(_, x)| *x /= norm);
            }
            v
        })
        .collect()
}

fn dot(s: &Sparse, dense: &[f32]) -> f32 {
    s.iter().map(|&(k, x)| x * dense[k as usize]).sum()
}

/// Independent k-means++ starts; the run with the highest total similarity wins.
const RESTARTS: u64 = 8;

/// Assigns each document to one of `k` clusters (spherical k-means: k-means++ seeding, at most
/// 50 Lloyd iterations, best of 8 starts). Returns one cluster index per document.
/// Fewer documents than `k` give one cluster per document.
pub fn kmeans(docs: &[String], k: usize, seed: u64) -> Vec<usize> {
    if docs.is_empty() {
        return Vec::new();
    }
    let k = k.clamp(1, docs.len());
    let x = features(docs);
    let mut best: Option<(f32, Vec<usize>)> = None;
    for restart in 0..RESTARTS {
        let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "cluster.init", restart));
        let (score, assign) = lloyd(&x, seeds(&x, k, &mut rng));
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, assign));
        }
    }
    best.expect("at least one restart").1
}

fn dense(s: &Sparse) -> Vec<f32> {
    let mut d = vec![0f32; DIMS];
    s.iter().for_each(|&(i, v)| d[i as usize] = v);
    d
}

/// k-means++ seeding on cosine distance `1 - <x, c>`.
fn seeds(x: &[Sparse], k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f32>> {
    let mut centroids = vec![dense(&x[rng.gen_range(0..x.len())])];
    let mut nearest = vec![f32::MAX; x.len()];
    while centroids.len() < k {
        let last = centroids.last().expect("one centroid");
        for (b, xi) in nearest.iter_mut().zip(x) {
            *b = b.min((1.0 - dot(xi, last)).max(0.0));
        }
        let total: f32 = nearest.iter().sum();
        let pick = if total <= 0.0 {
            rng.gen_range(0..x.len())
        } else {
            let mut t = rng.gen::<f32>() * total;
            nearest
                .iter()
                .position(|&b| {
                    t -= b;
                    t <= 0.0
                })
                .unwrap_or(x.len() - 1)
        };
        centroids.push(dense(&x[pick]));
    }
    centroids
}

/// Lloyd iterations from `centroids`; returns (total similarity, assignment).
fn lloyd(x: &[Sparse], mut centroids: Vec<Vec<f32>>) -> (f32, Vec<usize>) {
    let k = centroids.len();
    let mut assign = vec![usize::MAX; x.len()];
    let mut score = 0.0;
    for _ in 0..50 {
        let mut changed = false;
        score = 0.0;
        for (a, xi) in assign.iter_mut().zip(x) {
            let (c, sim) = (0..k)
                .map(|c| (c, dot(xi, &centroids[c])))
                .fold((0, f32::MIN), |best, cur| if cur.1 > best.1 { cur } else { best });
            score += sim;
            changed |= *a != c;
            *a = c;
        }
        if !changed {
            break;
        }
        for (c, centroid) in centroids.iter_mut().enumerate() {
            centroid.iter_mut().for_each(|v| *v = 0.0);
            for (xi, _) in x.iter().zip(&assign).filter(|(_, &a)| a == c) {
                xi.iter().for_each(|&(i, v)| centroid[i as usize] += v);
            }
            let norm = centroid.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                centroid.iter_mut().for_each(|v| *v /= norm);
            }
        }
    }
    (score, assign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_obvious_topics() {
        let math = [
            "Solve 3*x + 4 = 10 for x.",
            "Calculate the derivative of x squared plus 7 x.",
            "What is 12 divided by 4 plus x?",
            "Let x be 5. Solve for y in y = 2x + 3.",
        ];
        let cook = [
            "Whisk the eggs with sugar and butter.",
            "Bake the bread in a hot oven with butter.",
            "Stir the soup and add salt and pepper.",
            "Chop the onions and fry them in butter.",
        ];
        let mut docs = Vec::new();
        for i in 0..10 {
            docs.push(format!("{} {}", math[i % 4], math[(i + 1) % 4]));
            docs.push(format!("{} {}", cook[i % 4], cook[(i + 2) % 4]));
        }
        let a = kmeans(&docs, 2, 7);
        for i in 0..10 {
            assert_eq!(a[2 * i], a[0], "math doc {i}");
            assert_eq!(a[2 * i + 1], a[1], "cooking doc {i}");
        }
        assert_ne!(a[0], a[1]);
        assert_eq!(kmeans(&docs, 2, 7), a, "deterministic");
    }
}
