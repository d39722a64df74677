#!/usr/bin/env python3
"""Would several proxies trained as one batched network be faster (issue 20's main lever)?

A LLaMA-shaped model as mixagent's presets build it (RMSNorm, RoPE, causal attention, SwiGLU,
tied embeddings), trained for one optimizer step per proxy with AdamW: N separate models
stepped one after another against one network whose weights are stacked along a leading
proxy axis (products as batched matmuls, attention over the proxies' rows together, each
proxy's own batch, loss and AdamW state; nothing mixes between proxies). One thread by
default, float32 or bf16 autocast. Prints the median time per proxy-step of each and their
ratio.

    ~/.cache/mixagent/venv-torch/bin/python bench/batched_ref.py --preset study --proxies 1,2,4,8
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

PRESETS = {  # d, layers, heads, d_ff (crates/lm/src/config.rs)
    "smoke": (32, 2, 2, 96),
    "demo": (64, 4, 4, 192),
    "study": (96, 3, 4, 256),
    "study-target": (192, 6, 6, 512),
}


def params(n, vocab, d, layers, ff, gen):
    """Stacked weights [n, ...] (n = 1 for one model), scaled as a small init."""
    def w(*shape):
        return (torch.randn(n, *shape, generator=gen) * 0.02).requires_grad_()

    def ones(*shape):
        return torch.ones(n, *shape).requires_grad_()

    p = {"emb": w(vocab, d), "norm": ones(1, d)}
    for i in range(layers):
        p.update({f"n1{i}": ones(1, d), f"qkv{i}": w(d, 3 * d), f"o{i}": w(d, d),
                  f"n2{i}": ones(1, d), f"gu{i}": w(d, 2 * ff), f"down{i}": w(ff, d)})
    return p


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g


def rope(x, cos, sin):  # x [..., T, hd]
    x1, x2 = x[..., ::2], x[..., 1::2]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


def loss_of(p, tokens, layers, heads, cos, sin):
    """tokens [n, B, T+1] → mean loss over proxies (each proxy's own mean)."""
    n, b, t1 = tokens.shape
    t = t1 - 1
    vocab, d = p["emb"].shape[1:]
    x_ids, y = tokens[..., :-1], tokens[..., 1:]
    offs = (torch.arange(n) * vocab).view(n, 1, 1)
    h = p["emb"].reshape(n * vocab, d)[(x_ids + offs).reshape(-1)].view(n, b * t, d)
    hd = d // heads
    for i in range(layers):
        a = torch.bmm(rms(h, p[f"n1{i}"]), p[f"qkv{i}"]).view(n * b, t, 3, heads, hd)
        q, k, v = (a[:, :, j].transpose(1, 2) for j in range(3))  # [nB, H, T, hd]
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        o = o.transpose(1, 2).reshape(n, b * t, d)
        h = h + torch.bmm(o, p[f"o{i}"])
        gu = torch.bmm(rms(h, p[f"n2{i}"]), p[f"gu{i}"])
        g, u = gu.chunk(2, -1)
        h = h + torch.bmm(F.silu(g) * u, p[f"down{i}"])
    logits = torch.bmm(rms(h, p["norm"]), p["emb"].transpose(1, 2))  # [n, BT, V]
    ce = F.cross_entropy(logits.reshape(-1, vocab).float(), y.reshape(-1), reduction="none")
    return ce.view(n, -1).mean(1).sum()  # sum of per-proxy means: independent gradients


def stepper(n, vocab, d, layers, heads, ff, t, bf16, seed):
    gen = torch.Generator().manual_seed(seed)
    p = params(n, vocab, d, layers, ff, gen)
    opt = torch.optim.AdamW(p.values(), lr=1e-3, weight_decay=0.1, foreach=True)
    hd = d // heads
    freqs = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
    ang = torch.outer(torch.arange(t).float(), freqs)
    cos, sin = ang.cos(), ang.sin()

    def step(tokens):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_of(p, tokens, layers, heads, cos, sin)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="study")
    ap.add_argument("--proxies", default="1,2,4,8")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d, layers, heads, ff = PRESETS[a.preset]
    gen = torch.Generator().manual_seed(0)
    print(f"preset {a.preset} (d {d}, {layers} layers, {heads} heads, d_ff {ff}), batch "
          f"{a.batch}×{a.seq} a proxy, {a.threads} thread(s), {'bf16 autocast' if a.bf16 else 'float32'}")
    print("| proxies | separate ms / proxy-step | batched ms / proxy-step | speed-up |")
    print("|---|---|---|---|")
    for n in [int(x) for x in a.proxies.split(",")]:
        sep = [stepper(1, a.vocab, d, layers, heads, ff, a.seq, a.bf16, s) for s in range(n)]
        bat = stepper(n, a.vocab, d, layers, heads, ff, a.seq, a.bf16, 0)
        data = torch.randint(0, a.vocab, (a.steps + 2, n, a.batch, a.seq + 1), generator=gen)
        times = {"sep": [], "bat": []}
        for _ in range(a.repeats):  # alternate, so both see the same machine load
            for name in ("sep", "bat"):
                for s in range(2):  # warm-up
                    (bat(data[s]) if name == "bat" else [f(data[s][i:i + 1]) for i, f in enumerate(sep)])
                t0 = time.perf_counter()
                for s in range(2, a.steps + 2):
                    if name == "bat":
                        bat(data[s])
                    else:
                        for i, f in enumerate(sep):
                            f(data[s][i:i + 1])
                times[name].append((time.perf_counter() - t0) / a.steps / n * 1e3)
        ms_sep, ms_bat = statistics.median(times["sep"]), statistics.median(times["bat"])
        print(f"| {n} | {ms_sep:.1f} | {ms_bat:.1f} | {ms_sep / ms_bat:.2f}× |")


if __name__ == "__main__":
    main()
