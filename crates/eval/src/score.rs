//! Batched likelihood scoring: log-probability of answers given prompts, held-out loss in bits
//! per byte, and greedy generation for exact-match items.

use mixagent_corpus::CorpusTokenizer;
use mixagent_lm::Llama;
use tch::{Kind, Tensor};

use crate::EvalError;

/// Log-likelihood of one answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Sum of the answer tokens' log-probabilities (nats).
    pub logprob_sum: f64,
    /// Answer tokens scored.
    pub tokens: usize,
    /// Whether the prompt (or the answer) was cut from the left to fit the context.
    pub truncated: bool,
}

impl Scored {
    /// Mean log-probability per answer token (0 tokens → NaN).
    pub fn mean(&self) -> f64 {
        self.logprob_sum / self.tokens as f64
    }
}

/// Scores (prompt, answer) pairs with a model, in length-sorted batches without gradients.
pub struct Scorer<'a> {
    model: &'a Llama,
    tokenizer: &'a CorpusTokenizer,
    batch_size: usize,
    device: tch::Device,
}

impl<'a> Scorer<'a> {
    /// A scorer running `batch_size` sequences per forward pass on `device`.
    pub fn new(
        model: &'a Llama,
        tokenizer: &'a CorpusTokenizer,
        batch_size: usize,
        device: tch::Device,
    ) -> Self {
        Scorer { model, tokenizer, batch_size: batch_size.max(1), device }
    }

    /// Log-likelihood of each `answer` after its `prompt`. Sequences longer than the model's
    /// context are cut from the left (prompt first) and counted in [`Scored::truncated`].
    ///
    /// Whitespace that ends a prompt is moved to the front of its answer before tokenizing:
    /// byte-level BPE merges a space with the word after it, so `"A: " + "270"` would otherwise
    /// be scored as a lone space token and an unusual split of the answer.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<Scored>, EvalError> {
        let moved: Vec<(&str, String)> = pairs
            .iter()
            .map(|(p, a)| {
                let trimmed = p.trim_end_matches([' ', '\t']);
                (trimmed, format!("{}{a}", &p[trimmed.len()..]))
            })
            .collect();
        let prompts: Vec<&str> = moved.iter().map(|p| p.0).collect();
        let answers: Vec<&str> = moved.iter().map(|p| p.1.as_str()).collect();
        let p_ids = self.tokenizer.encode_batch(&prompts)?;
        let a_ids = self.tokenizer.encode_batch(&answers)?;
        let max_len = self.model.config().max_seq_len;
        // (sequence, answer tokens scored, truncated)
        let seqs: Vec<(Vec<i64>, usize, bool)> = p_ids
            .iter()
            .zip(&a_ids)
            .map(|(p, a)| {
                let mut ids: Vec<i64> = p.iter().chain(a).map(|&t| i64::from(t)).collect();
                let truncated = ids.len() > max_len + 1;
                if truncated {
                    ids.drain(..ids.len() - (max_len + 1));
                }
                let scored = a.len().min(ids.len().saturating_sub(1));
                (ids, scored, truncated)
            })
            .collect();
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(seqs[i].0.len()));
        let mut out = vec![Scored { logprob_sum: 0.0, tokens: 0, truncated: false }; seqs.len()];
        let _guard = tch::no_grad_guard();
        for chunk in order.chunks(self.batch_size) {
            let width = chunk.iter().map(|&i| seqs[i].0.len()).max().unwrap_or(1).max(2) - 1;
            let (b, w) = (chunk.len(), width);
            let mut inputs = vec![0i64; b * w];
            let mut targets = vec![0i64; b * w];
            let mut mask = vec![0f32; b * w];
            for (r, &i) in chunk.iter().enumerate() {
                let (ids, scored, _) = &seqs[i];
                let n = ids.len() - 1;
                inputs[r * w..r * w + n].copy_from_slice(&ids[..n]);
                targets[r * w..r * w + n].copy_from_slice(&ids[1..]);
                // Answer tokens are the last `scored` targets of the row.
                mask[r * w + n - scored..r * w + n].iter_mut().for_each(|m| *m = 1.0);
            }
            let to = |v: Vec<i64>| {
                Tensor::from_slice(&v).view([b as i64, w as i64]).to_device(self.device)
            };
            let logits = self.model.forward(&to(inputs)); // (B, W, V)
            let lp = logits
                .log_softmax(-1, Kind::Float)
                .gather(2, &to(targets).unsqueeze(-1), false)
                .squeeze_dim(-1);
            let mask = Tensor::from_slice(&mask).view([b as i64, w as i64]).to_device(self.device);
            let sums: Vec<f64> = Vec::try_from(
                (lp * mask).sum_dim_intlist(1, false, Kind::Double).to_device(tch::Device::Cpu),
            )?;
            for (&i, s) in chunk.iter().zip(sums) {
                out[i] = Scored { logprob_sum: s, tokens: seqs[i].1, truncated: seqs[i].2 };
            }
        }
        Ok(out)
    }

    /// Greedy continuation of each prompt, up to `max_new` tokens or the first newline / end
    /// of document. Recomputes the whole prefix per token (no KV cache): fine for the short
    /// answers it is used on.
    pub fn generate(&self, prompts: &[&str], max_new: usize) -> Result<Vec<String>, EvalError> {
        let max_len = self.model.config().max_seq_len;
        let eos = i64::from(self.tokenizer.eos_id);
        let mut out = Vec::with_capacity(prompts.len());
        let _guard = tch::no_grad_guard();
        for chunk in prompts.chunks(self.batch_size) {
            let enc = self.tokenizer.encode_batch(chunk)?;
            let mut seqs: Vec<Vec<i64>> =
                enc.iter().map(|e| e.iter().map(|&t| i64::from(t)).collect()).collect();
            let starts: Vec<usize> = seqs.iter().map(Vec::len).collect();
            let mut done = vec![false; seqs.len()];
            for _ in 0..max_new {
                if done.iter().all(|&d| d) {
                    break;
                }
                // Left-pad to a common width so every row's last position is its next token.
                let width = seqs.iter().map(|s| s.len().min(max_len)).max().unwrap_or(1);
                let mut ids = vec![eos; seqs.len() * width];
                for (r, s) in seqs.iter().enumerate() {
                    let tail = &s[s.len().saturating_sub(width)..];
                    ids[r * width + width - tail.len()..(r + 1) * width].copy_from_slice(tail);
                }
                let x = Tensor::from_slice(&ids)
                    .view([seqs.len() as i64, width as i64])
                    .to_device(self.device);
                let next: Vec<i64> = Vec::try_from(
                    self.model
                        .forward(&x)
                        .select(1, width as i64 - 1)
                        .argmax(-1, false)
                        .to_device(tch::Device::Cpu),
                )?;
                for (r, &t) in next.iter().enumerate() {
                    if done[r] {
                        continue;
                    }
                    if t == eos {
                        done[r] = true;
                        continue;
                    }
                    seqs[r].push(t);
                    let text = self.tokenizer.decode(&to_u32(&seqs[r][starts[r]..]))?;
                    done[r] = text.contains('\n');
                }
            }
            for (s, &start) in seqs.iter().zip(&starts) {
                let text = self.tokenizer.decode(&to_u32(&s[start..]))?;
                out.push(text.split('\n').next().unwrap_or("").to_string());
            }
        }
        Ok(out)
    }
}

fn to_u32(ids: &[i64]) -> Vec<u32> {
    ids.iter().map(|&t| t as u32).collect()
}

/// Mean cross-entropy (nats per token) of `model` over windows of `seq_len + 1` tokens taken at
/// evenly spaced offsets from `tokens`; at most `max_windows` windows.
pub fn mean_loss(
    model: &Llama,
    tokens: &[u32],
    seq_len: usize,
    max_windows: usize,
    batch_size: usize,
    device: tch::Device,
) -> Result<f64, EvalError> {
    let window = seq_len + 1;
    if tokens.len() < 2 {
        return Ok(f64::NAN);
    }
    let window = window.min(tokens.len());
    let available = tokens.len() - window + 1;
    let n = max_windows.min(available.div_ceil(window - 1)).max(1);
    let stride = if n > 1 { (available - 1) / (n - 1) } else { 0 };
    let starts: Vec<usize> = (0..n).map(|i| i * stride).collect();
    let _guard = tch::no_grad_guard();
    let (mut total, mut count) = (0.0, 0usize);
    for chunk in starts.chunks(batch_size.max(1)) {
        let ids: Vec<i64> = chunk
            .iter()
            .flat_map(|&s| tokens[s..s + window].iter().map(|&t| i64::from(t)))
            .collect();
        let x =
            Tensor::from_slice(&ids).view([chunk.len() as i64, window as i64]).to_device(device);
        let losses = model.token_losses(&x); // (B, window - 1)
        total += losses.sum(Kind::Double).double_value(&[]);
        count += chunk.len() * (window - 1);
    }
    Ok(total / count as f64)
}
