#!/usr/bin/env python3
"""Paired reading of the benchmark probe: per task, best static − uniform over the seeds.

    python3 docs/results/g2-benchmark-probe/read.py ~/.cache/mixagent/persist/runs/v2w/fbtasks
"""
import glob, json, os, statistics as st, sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776}
acc = {}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    policy, seed = os.path.basename(f)[:-5].split("-")
    acc.setdefault(policy, {})[seed] = {t["task"]: t["accuracy"] for t in json.load(open(f))["tasks"]}
seeds = sorted(set(acc["best"]) & set(acc["uniform"]))
print("| task | uniform | best static − uniform (paired, 95% t) | n |")
print("|---|---|---|---|")
for k in ["fb_math_answer", "fb_general_continuation", "math_agreement", "math_cloze", "math_word_order", "agreement", "cloze", "word_order"]:
    d = [acc["best"][s][k] - acc["uniform"][s][k] for s in seeds]
    half = T975[len(d) - 1] * st.stdev(d) / len(d) ** 0.5
    u = st.mean(acc["uniform"][s][k] for s in seeds)
    print(f"| {k} | {u:.3f} | {100 * st.mean(d):+.1f} ± {100 * half:.1f} points | {len(d)} |")
