#!/usr/bin/env python3
"""Benchmarks of the G2 probe's final models, paired by seed: helpful-pmi − uniform per task,
and the benchmark average (tasks alive for the base, per field, then the fields) over three
task sets: every alive task (what `mixagent headroom` averages), the tasks on the feedback's
own evaluation-only text (genre_*, module_*, answer_kind), and the tasks on the training
domains' held-out documents (the rest).

    python3 docs/results/g2-probe-study-v2/read.py runs/g2-probe-study-v2
"""
import json
import statistics as st
import sys

C = sys.argv[1]
SEEDS = (100, 101, 102, 103, 104)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}
EVAL_ONLY = lambda k: k.startswith(("genre_", "module_")) or k == "answer_kind"
base = {t["task"]: t for t in json.load(open(f"{C}/base-eval-full.json"))["tasks"]}
alive = [k for k, t in base.items() if t["alive"]]


def sc(t):
    return (t["accuracy"] - t["chance"]) / (1 - t["chance"]) * 100


def scores(policy, s):
    r = json.load(open(f"{C}/runs/schedule_docs_results_pmi-probe_{policy}.json/seed-{s}/eval-full.json"))
    return {t["task"]: t for t in r["tasks"]}


def avg(x, keep):
    per_field = []
    for f in ("general", "math"):
        ks = [k for k in alive if base[k]["field"] == f and keep(k)]
        if ks:
            per_field.append(st.mean(sc(x[k]) for k in ks))
    return st.mean(per_field)


rows = {}
for s in SEEDS:
    try:
        u, h = scores("uniform", s), scores("helpful-pmi", s)
    except FileNotFoundError:
        print(f"seed {s}: not finished, left out")
        continue
    for k in base:
        rows.setdefault(k, []).append(sc(h[k]) - sc(u[k]))
    for name, keep in [
        ("average: every alive task", lambda k: True),
        ("average: alive, evaluation-only text", EVAL_ONLY),
        ("average: alive, training domains' held-out text", lambda k: not EVAL_ONLY(k)),
    ]:
        rows.setdefault(name, []).append(avg(h, keep) - avg(u, keep))
print(f"| task | field | base accuracy | alive for the base | helpful-pmi − uniform (points, paired, 95% t, {len(rows['agreement'])} seeds) |")
print("|---|---|---|---|---|")
for k, xs in rows.items():
    m, sd = st.mean(xs), st.stdev(xs)
    half = T975[len(xs) - 1] * sd / len(xs) ** 0.5
    b = base.get(k)
    field = b["field"] if b else ""
    acc = f"{b['accuracy']:.3f}" if b else ""
    al = ("yes" if b["alive"] else "no") if b else ""
    print(f"| {k} | {field} | {acc} | {al} | {m:+.1f} ± {half:.1f} |")
