//! One corpus domain's windows: which `(shard, offset)` pairs exist in an epoch and the seeded
//! order they are visited in.

use mixagent_core::seed::derive;
use mixagent_shard::Shard;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A corpus domain's shards and its current epoch's window order.
pub(crate) struct DomainWindows {
    pub name: String,
    pub shards: Vec<Shard>,
    /// Per shard, the tokens read from it: its length, or less under a token cap (the cap is
    /// spent on the shards in order).
    lens: Vec<usize>,
    /// Index of this domain in the corpus manifest (part of its random streams' identity).
    pub corpus_index: u64,
    /// Epoch whose layout `starts`/`order` hold.
    epoch: Option<u32>,
    /// Per shard: the first window index it holds (prefix sums), plus the total at the end.
    starts: Vec<u64>,
    /// Token offset of window 0 within each shard in this epoch.
    offset: usize,
    /// Visiting order of the epoch's windows.
    order: Vec<u32>,
}

impl DomainWindows {
    pub fn new(name: String, shards: Vec<Shard>, corpus_index: u64, cap: Option<u64>) -> Self {
        let mut left = cap.unwrap_or(u64::MAX);
        let lens = shards
            .iter()
            .map(|s| {
                let n = (s.len() as u64).min(left);
                left -= n;
                n as usize
            })
            .collect();
        DomainWindows {
            name,
            shards,
            lens,
            corpus_index,
            epoch: None,
            starts: Vec::new(),
            offset: 0,
            order: Vec::new(),
        }
    }

    /// Windows of `window` tokens at stride `seq_len` available with offset 0 (the fewest an
    /// epoch can have is with a positive offset, but at least one window if this is ≥ 1).
    pub fn windows_at_offset_zero(&self, window: usize) -> u64 {
        self.lens.iter().map(|&n| count(n, 0, window)).sum()
    }

    /// Lays out epoch `epoch` if it is not the current one. Windows are `seq_len + 1` tokens at
    /// stride `seq_len` (neighbouring windows share one token, so every token is a target once),
    /// starting at an epoch-dependent offset in `[0, seq_len)`.
    pub fn ensure_epoch(&mut self, seed: u64, epoch: u32, seq_len: usize) {
        if self.epoch == Some(epoch) {
            return;
        }
        let stream = (self.corpus_index << 32) | u64::from(epoch);
        let window = seq_len + 1;
        let mut offset = (derive(seed, "sampler.offset", stream) % seq_len as u64) as usize;
        if self.lens.iter().map(|&n| count(n, offset, window)).sum::<u64>() == 0 {
            offset = 0;
        }
        self.starts.clear();
        let mut total = 0u64;
        for &n in &self.lens {
            self.starts.push(total);
            total += count(n, offset, window);
        }
        self.starts.push(total);
        self.order.clear();
        self.order.extend(0..total as u32);
        let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, "sampler.order", stream));
        self.order.shuffle(&mut rng);
        self.offset = offset;
        self.epoch = Some(epoch);
    }

    /// Windows in the laid-out epoch.
    pub fn len(&self) -> u64 {
        *self.starts.last().unwrap_or(&0)
    }

    /// The shard and token offset of the `position`-th window of the laid-out epoch.
    #[inline]
    pub fn locate(&self, position: u64, seq_len: usize) -> (usize, usize) {
        let w = u64::from(self.order[position as usize]);
        // `starts` is sorted; the shard is the last one starting at or before `w`.
        let shard = self.starts.partition_point(|&s| s <= w) - 1;
        let within = (w - self.starts[shard]) as usize;
        (shard, self.offset + within * seq_len)
    }
}

/// Windows of `window` tokens at stride `window - 1` in `len` tokens starting at `offset`.
fn count(len: usize, offset: usize, window: usize) -> u64 {
    if len < offset + window {
        0
    } else {
        ((len - offset - 1) / (window - 1)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn window_count_keeps_windows_inside_the_shard() {
        // len 10, T = 3 (window 4): windows start at 0, 3, 6 → last ends at 9 ≤ 10.
        assert_eq!(count(10, 0, 4), 3);
        assert_eq!(count(10, 1, 4), 2); // 1, 4 (7 would end at 11)
        assert_eq!(count(10, 2, 4), 2); // 2, 5 → 8 would end at 12
        assert_eq!(count(3, 0, 4), 0);
        assert_eq!(count(4, 0, 4), 1);
    }
}
