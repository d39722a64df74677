"""Reads run.sh's reports: the tasks a comparison averages (alive for the base; in a field with
an evaluation-only task alive, only those), then helpful-only − uniform per seed, in points."""
import json
import os
import sys

out = sys.argv[1]


def load(name):
    return {t["task"]: t for t in json.load(open(os.path.join(out, name + ".json")))["tasks"]}


base = load("base")
dead = {t for t, x in base.items() if not x["alive"]}
own = {x["field"] for t, x in base.items() if not x["training_text"] and t not in dead}
averaged = [t for t, x in base.items()
            if t not in dead and not (x["training_text"] and x["field"] in own)]
print("| task | field | items | base | uniform (seeds 0-2) | helpful-only (seeds 0-2) | averaged |")
print("|---|---|---:|---:|---|---|---|")
seeds = [s for s in range(3) if os.path.exists(os.path.join(out, f"helpful-only-{s}.json"))]
u = [load(f"uniform-{s}") for s in seeds]
h = [load(f"helpful-only-{s}") for s in seeds]
for t, x in base.items():
    print(f"| {t} | {x['field']} | {x['items']} | {x['accuracy']:.3f} | "
          + " ".join(f"{r[t]['accuracy']:.3f}" for r in u) + " | "
          + " ".join(f"{r[t]['accuracy']:.3f}" for r in h) + f" | {'yes' if t in averaged else 'no'} |")


def mean(r, field):
    v = [r[t]["score"] for t in averaged if r[t]["field"] == field]
    return sum(v) / len(v)


print()
print("| seed | general | math | overall (G2's benchmark half asks ≥ 3) |")
print("|---|---:|---:|---:|")
for s, a, b in zip(seeds, h, u):
    g, m = mean(a, "general") - mean(b, "general"), mean(a, "math") - mean(b, "math")
    print(f"| {s} | {g:+.2f} | {m:+.2f} | {(g + m) / 2:+.2f} |")
