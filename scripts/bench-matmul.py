"""Is bf16 a lever for the proxies' training step on this CPU? Times the study proxy's matrix
products (16 x 128 = 2,048 tokens, d_model 96, d_ff 256, vocabulary 2,048) in float32 and in
bfloat16 with libtorch's CPU kernels through PyTorch (the same kernels mixagent calls), one
thread, the median of `--repeats` timings of 20 products each. Operands are already in their
type, so casts are not counted: the most bf16 could give.

    $(bash scripts/setup-interop.sh | sed -n 's/^MIXAGENT_INTEROP_PYTHON=//p') scripts/bench-matmul.py
"""
import argparse
import statistics
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--repeats", type=int, default=5)
a = ap.parse_args()
torch.set_num_threads(1)
torch.manual_seed(0)
tokens, d, ff, vocab = 2048, 96, 256, 2048
shapes = [
    ("q, k, v projection", tokens, d, 3 * d),
    ("attention output", tokens, d, d),
    ("gate and up", tokens, d, 2 * ff),
    ("down", tokens, ff, d),
    ("output head", tokens, d, vocab),
]


def gflops(m, k, n, kind):
    x, w = torch.randn(m, k).to(kind), torch.randn(k, n).to(kind)
    x @ w
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        for _ in range(20):
            x @ w
        times.append((time.perf_counter() - t) / 20)
    return 2 * m * k * n / statistics.median(times) / 1e9


print(f"torch {torch.__version__}, 1 thread, median of {a.repeats}\n")
print("| product | shape | float32 GFLOP/s | bfloat16 GFLOP/s | bf16 / fp32 |")
print("|---|---|---:|---:|---:|")
for name, m, k, n in shapes:
    f32, b16 = gflops(m, k, n, torch.float32), gflops(m, k, n, torch.bfloat16)
    print(f"| {name} | {m} x {k} x {n} | {f32:.1f} | {b16:.1f} | {b16 / f32:.2f} |")
