"""Reads run.sh's reports beside the statics' final feedback: per static mixture, the balanced
feedback gain (relative to the base, as `headroom` reads it) and the benchmark average (the tasks
a comparison averages: alive for the base; in a field with an evaluation-only task alive, only
those), each minus uniform's on the same seed, in points for the benchmarks. Then the rank
correlation of the two over mixtures, and how far the benchmark-best mixture gets.

usage: read.py REPORTS STATICS_DIR"""
import glob
import json
import os
import statistics as st
import sys

out, statics = sys.argv[1], sys.argv[2]


def load(name):
    return {t["task"]: t for t in json.load(open(os.path.join(out, name + ".json")))["tasks"]}


def feedback(path):
    return {f["field"]: f["feedback"] for f in json.load(open(path))["feedback"]}


base = load("base")
dead = {t for t, x in base.items() if not x["alive"]}
own = {x["field"] for t, x in base.items() if not x["training_text"] and t not in dead}
averaged = [t for t, x in base.items()
            if t not in dead and not (x["training_text"] and x["field"] in own)]
fields = sorted({base[t]["field"] for t in averaged})
base_fb = feedback(os.path.join(statics, "base-final-feedback-1024.json"))


def bench(r):
    per = [st.mean(r[t]["score"] for t in averaged if r[t]["field"] == f) for f in fields]
    return st.mean(per), dict(zip(fields, per))


rows = {}
for d in sorted(glob.glob(os.path.join(statics, "runs", "*"))):
    name = json.load(open(os.path.join(d, "seed-0", "run.json")))["policy_name"]
    for s in range(3):
        if not os.path.exists(os.path.join(out, f"{name}-{s}.json")):
            continue
        fb = feedback(os.path.join(d, f"seed-{s}", "final-feedback-1024.json"))
        gain = st.mean((fb[f] - base_fb[f]) / abs(base_fb[f]) for f in fb)
        overall, per = bench(load(f"{name}-{s}"))
        tasks = {t: r["score"] for t, r in load(f"{name}-{s}").items()}
        rows.setdefault(name, {})[s] = (gain, overall, per, tasks)

uni = rows["uniform"]


def rank(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    for k, i in enumerate(order):
        r[i] = k
    return r


def spearman(a, b):
    return st.correlation(rank(a), rank(b))


print(f"averaged tasks: {', '.join(averaged)}")
print()
print("| mixture | seeds | feedback − uniform (balanced) | benchmarks − uniform (points) | "
      + " | ".join(f"{f} (points)" for f in fields) + " |")
print("|---|---:|---:|---:|" + "---:|" * len(fields))
table = []
for name, by_seed in rows.items():
    seeds = sorted(set(by_seed) & set(uni))
    if not seeds:
        continue
    dfb = [by_seed[s][0] - uni[s][0] for s in seeds]
    dbe = [by_seed[s][1] - uni[s][1] for s in seeds]
    dper = {f: st.mean(by_seed[s][2][f] - uni[s][2][f] for s in seeds) for f in fields}
    sd = st.stdev(dbe) if len(dbe) > 1 else float("nan")
    table.append((name, len(seeds), st.mean(dfb), st.mean(dbe), sd, dper))
table.sort(key=lambda r: -r[2])
for name, n, dfb, dbe, sd, dper in table:
    print(f"| {name} | {n} | {dfb:+.4f} | {dbe:+.2f} (SD {sd:.2f}) | "
          + " | ".join(f"{dper[f]:+.2f}" for f in fields) + " |")
others = [r for r in table if r[0] != "uniform"]
if len(others) >= 3:
    print()
    rho = spearman([r[2] for r in others], [r[3] for r in others])
    best = max(others, key=lambda r: r[3])
    print(f"Spearman rho (feedback gain vs benchmark gain over {len(others)} mixtures): {rho:+.2f}")
    print(f"benchmark-best mixture: {best[0]} {best[3]:+.2f} points (G2's benchmark half asks 3)")
    print()
    print("Per averaged task: Spearman rho between the mixtures' feedback gain and their gain on")
    print("the task (both minus uniform, seed-paired means), and the task's best mixture.")
    print()
    print("| task | rho with the feedback | best mixture | its gain (points) |")
    print("|---|---:|---|---:|")
    for t in averaged:
        gains = []
        for name, n, dfb, *_ in others:
            by_seed = rows[name]
            seeds = sorted(set(by_seed) & set(uni))
            gains.append((name, dfb, st.mean(by_seed[s][3][t] - uni[s][3][t] for s in seeds)))
        rho_t = spearman([g[1] for g in gains], [g[2] for g in gains])
        top = max(gains, key=lambda g: g[2])
        print(f"| {t} | {rho_t:+.2f} | {top[0]} | {top[2]:+.1f} |")
