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
    /// Kind of the matrix products (float32 unless [`Scorer::with_matmul`] says otherwise).
    matmul: Kind,
}

impl<'a> Scorer<'a> {
    /// A scorer running `batch_size` sequences per forward pass on `device`.
    pub fn new(
        model: &'a Llama,
        tokenizer: &'a CorpusTokenizer,
        batch_size: usize,
        device: tch::Device,
    ) -> Self {
        Scorer { model, tokenizer, batch_size: batch_size.max(1), device, matmul: Kind::Float }
    }

    /// The same scorer with the model's matrix products in `matmul` (`mixagent_lm::matmul_kind`);
    /// the softmax's normaliser and the scores stay float32 (only [`Scorer::token_logprobs`] and
    /// what builds on it; generation stays float32).
    pub fn with_matmul(self, matmul: Kind) -> Self {
        Scorer { matmul, ..self }
    }

    /// Log-likelihood of each `answer` after its `prompt`. Sequences longer than the model's
    /// context are cut from the left (prompt first) and counted in [`Scored::truncated`].
    ///
    /// Whitespace that ends a prompt is moved to the front of its answer before tokenizing:
    /// byte-level BPE merges a space with the word after it, so `"A: " + "270"` would otherwise
    /// be scored as a lone space token and an unusual split of the answer.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<Scored>, EvalError> {
        let prepared =
            Prepared::new(self.tokenizer, self.model.config().max_seq_len, pairs, self.batch_size)?;
        self.score_prepared(&prepared)
    }

    /// [`Scorer::score`] of pairs tokenised once by [`Prepared::new`] (the observation after
    /// every stage scores the same suite again and again).
    pub fn score_prepared(&self, p: &Prepared) -> Result<Vec<Scored>, EvalError> {
        Ok(self
            .token_logprobs(p)?
            .into_iter()
            .zip(&p.tokens)
            .zip(&p.truncated)
            .map(|((lp, &tokens), &truncated)| Scored {
                logprob_sum: lp.iter().sum(),
                tokens,
                truncated,
            })
            .collect())
    }

    /// The log-probability of every answer token of every pair, in order (nats).
    pub fn token_logprobs(&self, p: &Prepared) -> Result<Vec<Vec<f64>>, EvalError> {
        let mut out: Vec<Vec<f64>> = p.tokens.iter().map(|&n| Vec::with_capacity(n)).collect();
        let _guard = tch::no_grad_guard();
        for b in &p.batches {
            // Final hidden states everywhere, but the output projection and the softmax's
            // normaliser only at the answer positions.
            let hidden = self.model.hidden_in(&b.inputs.to_device(self.device), self.matmul);
            let width = hidden.size()[2];
            let at = hidden.view([-1, width]).index_select(0, &b.positions.to_device(self.device));
            let logits = self.model.head_in(&at, self.matmul); // (N, V)
            let target = logits.gather(1, &b.targets.to_device(self.device).unsqueeze(1), false);
            let lp = (target.squeeze_dim(1) - logits.logsumexp([1], false))
                .to_kind(Kind::Double)
                .to_device(tch::Device::Cpu);
            let lp: Vec<f64> = Vec::try_from(lp)?;
            for (&item, v) in b.owner.iter().zip(lp) {
                out[item].push(v);
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
    if tokens.len() < 2 {
        return Ok(f64::NAN);
    }
    let (window, starts) = windows(tokens.len(), seq_len, max_windows);
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

/// The windows [`mean_loss`] reads from `len` tokens: their length (`seq_len + 1`, or all the
/// tokens when fewer) and their starts, spread evenly (at most `max_windows`, at least one).
fn windows(len: usize, seq_len: usize, max_windows: usize) -> (usize, Vec<usize>) {
    let window = (seq_len + 1).min(len);
    let available = len - window + 1;
    let n = max_windows.min(available.div_ceil(window - 1)).max(1);
    let stride = if n > 1 { (available - 1) / (n - 1) } else { 0 };
    (window, (0..n).map(|i| i * stride).collect())
}

/// The held-out windows of several domains laid out once in shared batches, so a model's
/// [`mean_loss`] of every domain costs a few forward passes instead of one or more per domain.
pub struct HeldoutBatches {
    /// Per batch: windows `(B, L)` and the domain each row belongs to.
    batches: Vec<(Tensor, Vec<usize>)>,
    domains: usize,
}

impl HeldoutBatches {
    /// Lays out the windows of each domain's `tokens` (each at least 2 tokens), as
    /// [`mean_loss`] reads them, `batch_size` rows a batch (windows of one length together).
    pub fn new(domains: &[&[u32]], seq_len: usize, max_windows: usize, batch_size: usize) -> Self {
        let mut by_len: std::collections::BTreeMap<usize, Vec<(usize, usize)>> = Default::default();
        for (d, tokens) in domains.iter().enumerate() {
            let (window, starts) = windows(tokens.len(), seq_len, max_windows);
            by_len.entry(window).or_default().extend(starts.into_iter().map(|s| (d, s)));
        }
        let mut batches = Vec::new();
        for (window, rows) in by_len {
            for chunk in rows.chunks(batch_size.max(1)) {
                let ids: Vec<i64> = chunk
                    .iter()
                    .flat_map(|&(d, s)| domains[d][s..s + window].iter().map(|&t| i64::from(t)))
                    .collect();
                let x = Tensor::from_slice(&ids).view([chunk.len() as i64, window as i64]);
                batches.push((x, chunk.iter().map(|&(d, _)| d).collect()));
            }
        }
        HeldoutBatches { batches, domains: domains.len() }
    }

    /// Mean next-token loss (nats) of `model` on each domain's windows, in the order given,
    /// with the matrix products in `matmul` (the loss in float32).
    pub fn mean_losses(
        &self,
        model: &Llama,
        device: tch::Device,
        matmul: Kind,
    ) -> Result<Vec<f64>, EvalError> {
        let _guard = tch::no_grad_guard();
        let mut total = vec![0f64; self.domains];
        let mut count = vec![0usize; self.domains];
        for (x, owner) in &self.batches {
            let losses = model.token_losses_in(&x.to_device(device), matmul); // (B, L - 1)
            let per_row = (losses.size()[1]) as usize;
            let sums: Vec<f64> = Vec::try_from(
                losses.sum_dim_intlist(1, false, Kind::Double).to_device(tch::Device::Cpu),
            )?;
            for (&d, s) in owner.iter().zip(sums) {
                total[d] += s;
                count[d] += per_row;
            }
        }
        Ok(total.iter().zip(&count).map(|(t, &c)| t / c as f64).collect())
    }
}

/// (prompt, answer) pairs tokenised and laid out in scoring batches once, for a suite that is
/// scored many times ([`Scorer::score_prepared`]).
pub struct Prepared {
    batches: Vec<PreparedBatch>,
    /// Answer tokens scored per pair.
    tokens: Vec<usize>,
    /// Whether each pair was cut to fit the context.
    truncated: Vec<bool>,
}

/// One forward pass: inputs `(B, W)`, and the flat positions `(N,)` of the answer tokens in
/// them with their targets and the pair each belongs to.
struct PreparedBatch {
    inputs: Tensor,
    positions: Tensor,
    targets: Tensor,
    owner: Vec<usize>,
}

impl Prepared {
    /// Tokenises `pairs` (see [`Scorer::score`]) for a model of context `max_len`, in
    /// length-sorted batches of `batch_size` sequences.
    pub fn new(
        tokenizer: &CorpusTokenizer,
        max_len: usize,
        pairs: &[(&str, &str)],
        batch_size: usize,
    ) -> Result<Self, EvalError> {
        let moved: Vec<(&str, String)> = pairs
            .iter()
            .map(|(p, a)| {
                let trimmed = p.trim_end_matches([' ', '\t']);
                (trimmed, format!("{}{a}", &p[trimmed.len()..]))
            })
            .collect();
        let prompts: Vec<&str> = moved.iter().map(|p| p.0).collect();
        let answers: Vec<&str> = moved.iter().map(|p| p.1.as_str()).collect();
        let p_ids = tokenizer.encode_batch(&prompts)?;
        let a_ids = tokenizer.encode_batch(&answers)?;
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
        let mut batches = Vec::new();
        for chunk in order.chunks(batch_size.max(1)) {
            let width = chunk.iter().map(|&i| seqs[i].0.len()).max().unwrap_or(1).max(2) - 1;
            let mut inputs = vec![0i64; chunk.len() * width];
            let (mut positions, mut targets, mut owner) = (Vec::new(), Vec::new(), Vec::new());
            for (r, &i) in chunk.iter().enumerate() {
                let (ids, scored, _) = &seqs[i];
                let n = ids.len() - 1;
                inputs[r * width..r * width + n].copy_from_slice(&ids[..n]);
                // Answer tokens are the last `scored` targets of the row.
                for c in n - scored..n {
                    positions.push((r * width + c) as i64);
                    targets.push(ids[c + 1]);
                    owner.push(i);
                }
            }
            batches.push(PreparedBatch {
                inputs: Tensor::from_slice(&inputs).view([chunk.len() as i64, width as i64]),
                positions: Tensor::from_slice(&positions),
                targets: Tensor::from_slice(&targets),
                owner,
            });
        }
        Ok(Prepared {
            batches,
            tokens: seqs.iter().map(|s| s.1).collect(),
            truncated: seqs.iter().map(|s| s.2).collect(),
        })
    }
}
