#!/usr/bin/env python3
"""Seed noise of the final score at 48 (the runs' own observation), 256 and 1024 feedback items
a field, over the study reading's static mixtures on the target (selection seeds 0-2).

For each size: per field and balanced, the pooled within-mixture seed SD (the noise a paired
comparison carries), the SD of the mixtures' means (the signal it must see), and their ratio.

    python3 docs/results/final-items-probe/read.py [runs/headroom-study-v2] [runs/final-items-probe]
"""
import glob, json, math, os, sys

H = sys.argv[1] if len(sys.argv) > 1 else "runs/headroom-study-v2"
O = sys.argv[2] if len(sys.argv) > 2 else "runs/final-items-probe"
FIELDS = ["general", "math"]


def fb(path):
    return {f["field"]: f["feedback"] for f in json.load(open(path))["feedback"]}


def rel(now, base):
    d = {f: (now[f] - base[f]) / abs(base[f]) for f in FIELDS}
    d["balanced"] = sum(d[f] for f in FIELDS) / len(FIELDS)
    return d


base = {n: fb(f"{O}/base.{n}.json") for n in (256, 1024)}
scores = {}  # (size, mixture) -> [delta per seed]
for d in sorted(glob.glob(f"{H}/statics-target/runs/*/seed-*")):
    r = json.load(open(f"{d}/run.json"))
    if len(r["stages"]) < r["config"]["stages"]:
        continue
    name, seed = r["policy_name"], os.path.basename(d)
    sizes = {48: (r["stages"][-1]["observation"]["feedback"], r["initial"]["feedback"])}
    for n in (256, 1024):
        p = f"{O}/{name}.{seed}.{n}.json"
        if os.path.exists(p):
            sizes[n] = (fb(p), base[n])
    if len(sizes) < 3:
        continue
    for n, (now, b) in sizes.items():
        scores.setdefault((n, name), []).append(rel(now, b))

mixtures = sorted({m for (_, m), v in scores.items() if len(v) >= 2})
print(f"{len(mixtures)} mixtures with ≥ 2 seeds scored at every size\n")
print("| items | quantity | within-mixture seed SD | SD of mixture means | signal / noise |")
print("|---|---|---|---|---|")
for n in (48, 256, 1024):
    for q in FIELDS + ["balanced"]:
        ss, dof, means = 0.0, 0, []
        for m in mixtures:
            v = [x[q] for x in scores[(n, m)]]
            mu = sum(v) / len(v)
            ss += sum((x - mu) ** 2 for x in v)
            dof += len(v) - 1
            means.append(mu)
        within = math.sqrt(ss / dof)
        mm = sum(means) / len(means)
        between = math.sqrt(sum((x - mm) ** 2 for x in means) / (len(means) - 1))
        print(f"| {n} | {q} | {within:.4f} | {between:.4f} | {between / within:.1f} |")
