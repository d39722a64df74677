#!/usr/bin/env python3
"""PyTorch eager reference for `mixagent bench train`.

Trains the same LLaMA-style decoder as crates/lm/src/model.rs (same presets, init, RoPE layout,
attention, SwiGLU, tied output) with the same optimiser recipe, on random tokens, and prints one
JSON object with the throughput and memory figures the Rust trainer is compared against.

    python bench/train_ref.py --preset smoke --vocab 2048 --batch-size 16 --seq-len 128 \
        --steps 60 --warmup-steps 10 --threads 2 --seed 0 [--json out.json]

It is the natural fast eager implementation: F.rms_norm, F.scaled_dot_product_attention,
AdamW(fused=True), clip_grad_norm_(foreach=True); no torch.compile. Run it in the venv that
bench/setup_ref.sh builds (the same torch 2.13.0 wheel the Rust side takes libtorch from).

The loop is the full training step: forward, mean cross-entropy, backward, gradient clipping,
optimiser step, learning-rate schedule update. The first --untimed steps are not timed; the
throughput is B*T tokens over the median time of the remaining steps. The token batches are
generated before timing (a pool of --pool-size batches, cycled), so no data loading is measured.
--pool-size 1 trains on one repeated batch (an overfitting check).

With the same --seed, the parameters are drawn from torch's global generator in the same order
and the same way (randn * std) as tch's `Init::Randn` in model.rs, so a Rust run seeded with
`tch::manual_seed(seed)` starts from the same weights.
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

# Must match `ModelConfig::preset` in crates/lm/src/config.rs:
# name: (d_model, n_layers, n_heads, n_kv_heads, d_ff, max_seq_len); rope_theta 10000 except
# paper-target (500000); norm_eps 1e-5; tie_embeddings true.
PRESETS = {
    "smoke": (32, 2, 2, 2, 96, 128),
    "smoke-target": (48, 3, 3, 3, 128, 128),
    "demo": (64, 4, 4, 4, 192, 256),
    "demo-target": (128, 4, 4, 4, 384, 256),
    "study": (96, 3, 4, 4, 256, 256),
    "study-target": (192, 6, 6, 6, 512, 256),
    "paper-proxy": (512, 8, 8, 8, 2048, 2048),
    "paper-target": (3072, 28, 24, 8, 8192, 4096),
}


def preset_config(name, vocab_size):
    d, l, h, kv, ff, t = PRESETS[name]
    cfg = dict(vocab_size=vocab_size, d_model=d, n_layers=l, n_heads=h, n_kv_heads=kv, d_ff=ff,
               max_seq_len=t, rope_theta=500_000.0 if name == "paper-target" else 10_000.0,
               norm_eps=1e-5, tie_embeddings=True)
    assert d % h == 0 and h % kv == 0 and (d // h) % 2 == 0, cfg
    return cfg


def expected_n_params(cfg):
    """`ModelConfig::n_params` from config.rs, to check the two models have the same shape."""
    d, hd = cfg["d_model"], cfg["d_model"] // cfg["n_heads"]
    kvd = cfg["n_kv_heads"] * hd
    layer = 2 * d * d + 2 * d * kvd + 3 * d * cfg["d_ff"] + 2 * d
    embed = cfg["vocab_size"] * d
    return embed + (0 if cfg["tie_embeddings"] else embed) + cfg["n_layers"] * layer + d


# ------------------------------------------------------------------------------- model --
# Parameter names follow Hugging Face LlamaForCausalLM, like model.rs. Parameters are created
# in model.rs's order (embedding; per layer input norm, q, k, v, o, post norm, gate, up, down;
# final norm) with randn * std, as tch's Init::Randn does.


class Linear(nn.Module):
    """Bias-free linear layer with an (out, in) weight drawn from N(0, std²)."""

    def __init__(self, inp, out, std):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out, inp) * std + 0.0)

    def forward(self, x):
        return F.linear(x, self.weight)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, cfg, std, resid_std):
        super().__init__()
        d, hd = cfg["d_model"], cfg["d_model"] // cfg["n_heads"]
        kvd = cfg["n_kv_heads"] * hd
        self.q_proj = Linear(d, d, std)
        self.k_proj = Linear(d, kvd, std)
        self.v_proj = Linear(d, kvd, std)
        self.o_proj = Linear(d, d, resid_std)
        self.h, self.kvh, self.hd = cfg["n_heads"], cfg["n_kv_heads"], hd

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)  # (B, H, T, hd)
        k = self.k_proj(x).view(b, t, self.kvh, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kvh, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.kvh != self.h)
        return self.o_proj(a.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, cfg, std, resid_std):
        super().__init__()
        d, ff = cfg["d_model"], cfg["d_ff"]
        self.gate_proj = Linear(d, ff, std)
        self.up_proj = Linear(d, ff, std)
        self.down_proj = Linear(ff, d, resid_std)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, cfg, std, resid_std):
        super().__init__()
        # Attribute order = creation order = model.rs's draw order.
        self.input_layernorm = RMSNorm(cfg["d_model"], cfg["norm_eps"])
        self.self_attn = Attention(cfg, std, resid_std)
        self.post_attention_layernorm = RMSNorm(cfg["d_model"], cfg["norm_eps"])
        self.mlp = Mlp(cfg, std, resid_std)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    def __init__(self, cfg, std, resid_std):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["d_model"], _weight=torch.randn(
            cfg["vocab_size"], cfg["d_model"]) * std + 0.0)
        self.layers = nn.ModuleList(Layer(cfg, std, resid_std) for _ in range(cfg["n_layers"]))
        self.norm = RMSNorm(cfg["d_model"], cfg["norm_eps"])


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        std = 0.02
        resid_std = std / math.sqrt(2.0 * cfg["n_layers"])
        self.model = Decoder(cfg, std, resid_std)
        if not cfg["tie_embeddings"]:
            self.lm_head = Linear(cfg["d_model"], cfg["vocab_size"], std)
        cos, sin = rope_tables(cfg)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, ids):
        """Logits (B, T, V) for token ids (B, T)."""
        t = ids.shape[1]
        cos, sin = self.cos[:t], self.sin[:t]
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.cfg["tie_embeddings"] else self.lm_head.weight
        return F.linear(x, head)

    def loss(self, window):
        """Mean cross-entropy of predicting window[:, 1:] from window[:, :-1]."""
        logits = self.forward(window[:, :-1])
        return F.cross_entropy(logits.reshape(-1, self.cfg["vocab_size"]), window[:, 1:].reshape(-1))


def rope_tables(cfg):
    """cos/sin (max_seq_len, head_dim), "rotate half" layout (HF LLaMA), as model.rs builds them."""
    hd = cfg["d_model"] // cfg["n_heads"]
    # model.rs: 1.0 / (theta^(2i/hd) computed in f64, cast to f32), the division in f32.
    inv_freq = 1.0 / torch.tensor([cfg["rope_theta"] ** (2.0 * i / hd) for i in range(hd // 2)],
                                  dtype=torch.float32)
    pos = torch.arange(cfg["max_seq_len"], dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat([freqs, freqs], dim=1)
    return emb.cos(), emb.sin()


def rope(x, cos, sin):
    """x·cos + rotate_half(x)·sin for x (B, H, T, hd)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


# ---------------------------------------------------------------------------- training --


def lr_lambda(warmup_steps, total_steps, min_ratio=0.1):
    """Multiplier of the peak lr at step s (0-based), as `LrSchedule::at` in crates/lm/src/lr.rs
    (cosine shape): linear warmup (s+1)/warmup, then cosine from 1 towards `min_ratio`, with
    progress (s - warmup) / (total - warmup)."""

    def f(s):
        if s < warmup_steps:
            return (s + 1) / warmup_steps
        progress = min(1.0, (s - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return f


def make_optimizer(model, lr, weight_decay):
    """AdamW, weight decay on the 2-D weight matrices only (embedding and projections)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    kw = dict(lr=lr, betas=(0.9, 0.95), eps=1e-8)
    try:
        return torch.optim.AdamW(groups, fused=True, **kw), "fused", None
    except (RuntimeError, ValueError) as e:  # fused AdamW not supported on this build/device
        return torch.optim.AdamW(groups, foreach=True, **kw), "foreach", f"fused unavailable: {e}"


def rss_mb():
    """Current resident set size in MiB (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def busy_cpu_s():
    """Seconds of CPU time all processes on the machine have used (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="smoke", choices=sorted(PRESETS))
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=None, help="default: the preset's max_seq_len")
    ap.add_argument("--steps", type=int, default=60, help="total optimiser steps, untimed included")
    ap.add_argument("--warmup-steps", type=int, default=10, help="learning-rate warmup steps")
    ap.add_argument("--untimed", type=int, default=5, help="first steps left out of the timing")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool-size", type=int, default=64, help="pre-generated batches, cycled")
    ap.add_argument("--bf16", action="store_true",
                    help="bf16 products under torch.autocast (PyTorch's mixed precision on the CPU)")
    ap.add_argument("--log-losses", action="store_true", help="include every step's loss")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    rss_import = rss_mb()

    cfg = preset_config(args.preset, args.vocab)
    seq_len = args.seq_len or cfg["max_seq_len"]
    if seq_len > cfg["max_seq_len"]:
        sys.exit(f"--seq-len {seq_len} exceeds the preset's max_seq_len {cfg['max_seq_len']}")
    if args.steps <= args.untimed:
        sys.exit(f"--steps {args.steps} must exceed --untimed {args.untimed}")

    torch.manual_seed(args.seed)
    model = Llama(cfg)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == expected_n_params(cfg), (n_params, expected_n_params(cfg))

    gen = torch.Generator().manual_seed(args.seed)
    pool = [torch.randint(0, args.vocab, (args.batch_size, seq_len + 1), generator=gen, dtype=torch.int64)
            for _ in range(args.pool_size)]

    opt, opt_mode, opt_note = make_optimizer(model, args.lr, args.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(args.warmup_steps, args.steps))
    params = [p for p in model.parameters()]

    losses, times = [], []
    start = time.perf_counter()
    for step in range(args.steps):
        if step == args.untimed:
            timed_start = (time.perf_counter(), busy_cpu_s(), own_cpu_s())
        t0 = time.perf_counter()
        window = pool[step % len(pool)]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = model.loss(window)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, args.grad_clip, foreach=True)
        opt.step()
        sched.step()
        losses.append(loss.item())
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    # Noise gauge: cores used by other processes while the timed steps ran.
    t_end, busy_end, own_end = time.perf_counter(), busy_cpu_s(), own_cpu_s()
    other_load = None
    if busy_end is not None and timed_start[1] is not None:
        other = (busy_end - timed_start[1]) - (own_end - timed_start[2])
        other_load = max(0.0, other / (t_end - timed_start[0]))

    timed = times[args.untimed:]
    tokens = args.batch_size * seq_len
    median = statistics.median(timed)
    result = {
        "impl": "pytorch-eager",
        "preset": args.preset,
        "n_params": n_params,
        "vocab_size": args.vocab,
        "batch_size": args.batch_size,
        "seq_len": seq_len,
        "steps": args.steps,
        "steps_timed": len(timed),
        "tokens_per_step": tokens,
        "tokens_per_s": tokens / median,
        "mean_step_ms": 1e3 * statistics.fmean(timed),
        "median_step_ms": 1e3 * median,
        "min_step_ms": 1e3 * min(timed),
        "tokens_per_s_best": tokens / min(timed),
        "other_cpu_load": other_load,
        "wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_import_mb": rss_import,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "optimizer": opt_mode,
        "autocast_bf16": args.bf16,
        "lr": args.lr,
        "warmup_steps": args.warmup_steps,
        "seed": args.seed,
        "pool_size": args.pool_size,
        "ln_vocab": math.log(args.vocab),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "final_loss": losses[-1],
    }
    if opt_note:
        result["optimizer_note"] = opt_note
    if args.log_losses:
        result["losses"] = losses
    text = json.dumps(result)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
