"""How much of a stage's reward is the mixture's, from the finished runs of a `mixagent compare`
whose policies are fixed schedules, each over the same seeds (docs/results/g5-demo-v2/README.md).

    python3 docs/results/g5-demo-v2/share.py runs/g5-16384-k0            # static mixtures
    python3 docs/results/g5-demo-v2/share.py runs/g5-branch --stage 4    # one branched stage

The reward of a stage is the change of the balanced score during it (DESIGN §4). The share is
the one-way analysis of variance of `mixagent headroom` (report::headroom::mixture_share): per
stage σ²_mix = (MS_between − MS_within)/k over m mixtures × k seeds, share = σ²_mix /
(σ²_mix + MS_within), pooled over stages as Σσ²_mix / Σ(σ²_mix + MS_within). `--stage t` reads
one stage only, and also with the seed as a block (two-way, no interaction), which is the right
reading when every seed reaches stage t in the same state whatever the mixture.
"""
import argparse
import glob
import json
import statistics as st

ap = argparse.ArgumentParser()
ap.add_argument("root")
ap.add_argument("--stage", type=int)
a = ap.parse_args()

runs = {}
for f in glob.glob(f"{a.root}/runs/*/seed-*/run.json"):
    r = json.load(open(f))
    init = r["initial"]["feedback"]
    fields = sorted(init)

    def balanced(o):
        return sum((o["feedback"][k] - init[k]) / abs(init[k]) for k in fields) / len(fields)

    b = [balanced(s["observation"]) for s in r["stages"]]
    runs.setdefault(r["policy"], {})[r["config"]["seed"]] = [x - y for x, y in zip(b, [0.0] + b[:-1])]
pols = sorted(runs)
seeds = sorted(set.intersection(*[set(runs[p]) for p in pols]))
m, k = len(pols), len(seeds)
S = min(len(runs[p][s]) for p in pols for s in seeds)


def table(lo, hi):
    """y[mixture][seed]: the reward summed over stages lo..hi."""
    return [[sum(runs[p][s][lo:hi]) for s in seeds] for p in pols]


def one_way(y):
    means = [sum(v) / k for v in y]
    g = sum(means) / m
    msb = k * sum((x - g) ** 2 for x in means) / (m - 1)
    msw = sum(sum((x - mu) ** 2 for x in v) for v, mu in zip(y, means)) / (m * (k - 1))
    return max((msb - msw) / k, 0.0), msw


def two_way(y):
    pm = [sum(v) / k for v in y]
    sm = [sum(y[i][j] for i in range(m)) / m for j in range(k)]
    g = sum(pm) / m
    msb = k * sum((x - g) ** 2 for x in pm) / (m - 1)
    mse = sum((y[i][j] - pm[i] - sm[j] + g) ** 2 for i in range(m) for j in range(k)) / ((m - 1) * (k - 1))
    return max((msb - mse) / k, 0.0), mse


def pooled(w, f=one_way):
    mix = tot = 0.0
    per = []
    for i in range(S // w):
        x, e = f(table(i * w, (i + 1) * w))
        per.append(x / (x + e) if x + e > 0 else 0.0)
        mix, tot = mix + x, tot + x + e
    return mix / tot, per


print(f"{a.root}: {m} schedules x {k} seeds x {S} stages")
if a.stage is not None:
    t = a.stage
    for name, f in (("one-way", one_way), ("seed-blocked", two_way)):
        x, e = f(table(t, t + 1))
        print(f"  stage {t}: mixture share {x / (x + e):.3f} ({name}; SD mixture {x ** 0.5:.4f}, noise {e ** 0.5:.4f})")
else:
    share, per = pooled(1)
    print(f"  per stage, pooled: {share:.3f}; by stage " + " ".join(f"{x:.2f}" for x in per))
    print("  summed over windows of w stages: " + ", ".join(f"w={w}: {pooled(w)[0]:.2f}" for w in (2, 5, S) if w <= S))
    print(f"  seed-blocked, pooled: {pooled(1, two_way)[0]:.3f}")
print("  stage: mean reward | SD of the schedules' means | SD within a schedule (seeds)")
for t in range(S):
    y = table(t, t + 1)
    means = [sum(v) / k for v in y]
    within = (sum(sum((x - mu) ** 2 for x in v) for v, mu in zip(y, means)) / (m * (k - 1))) ** 0.5
    print(f"   {t}: {st.mean(means):+.4f} | {st.stdev(means):.4f} | {within:.4f}")
