#!/usr/bin/env python3
"""G5's branch reading per field (no third-party packages).

`mixagent headroom` reads G5 on the balanced stage reward (the mean of the fields' relative
changes). This reads the same branch runs field by field: for each field, the stage's reward
is the change of its feedback over the branched stage relative to the run's initial score, and
the mixture's share comes from the same two-way analysis of variance (mixtures × seeds, the
seed as a block) as `branch_share` in crates/report/src/headroom.rs.

    python3 g5_by_field.py BRANCH_FOLDER [BRANCH_FOLDER ...] [--stage 12] [--mixtures N]

Several folders (the same mixtures on other seeds) are pooled into one table of seeds.
`--mixtures N` reads only the first N mixtures (by name), to compare a phase still running
(its finished mixtures) with a finished one on the same mixtures.
"""
import argparse
import glob
import json
import math


def runs(folders, stage):
    out = {}
    for root in folders:
        for f in glob.glob(f"{root}/runs/*/seed-*/run.json"):
            r = json.load(open(f))
            if len(r["stages"]) <= stage:
                continue  # still running
            policy, seed = r["policy"].split("/")[-1], r["config"]["seed"]
            before = r["stages"][stage - 1]["observation"]["feedback"]
            after = r["stages"][stage]["observation"]["feedback"]
            initial = r["initial"]["feedback"]
            out[(policy, seed)] = {k: (after[k] - before[k]) / abs(initial[k]) for k in after}
    return out


def share(y):
    """(share, σ_mix, σ_noise) of y[mixture][seed], the seed as a block."""
    m, k = len(y), len(y[0])
    mix = [sum(r) / k for r in y]
    seed = [sum(r[j] for r in y) / m for j in range(k)]
    grand = sum(mix) / m
    ms_mix = k * sum((x - grand) ** 2 for x in mix) / (m - 1)
    res = sum((y[i][j] - mix[i] - seed[j] + grand) ** 2 for i in range(m) for j in range(k))
    res /= (m - 1) * (k - 1)
    var_mix = max((ms_mix - res) / k, 0.0)
    total = var_mix + res
    return (var_mix / total if total > 0 else 0.0), math.sqrt(var_mix), math.sqrt(res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--stage", type=int, default=12)
    ap.add_argument("--mixtures", type=int, default=0)
    a = ap.parse_args()
    d = runs(a.folders, a.stage)
    policies = sorted({p for p, _ in d})
    if a.mixtures:
        policies = policies[: a.mixtures]
    seeds = sorted(s for s in {s for _, s in d} if all((p, s) in d for p in policies))
    fields = sorted(next(iter(d.values())))
    print(f"{len(policies)} mixtures x {len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), stage {a.stage}")
    for f in fields + ["balanced"]:
        def reward(p, s):
            r = d[(p, s)]
            return sum(r.values()) / len(r) if f == "balanced" else r[f]
        y = [[reward(p, s) for s in seeds] for p in policies]
        print("  %-9s share %.2f  sd_mix %.4f  noise %.4f" % ((f,) + share(y)))


if __name__ == "__main__":
    main()
