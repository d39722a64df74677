#!/usr/bin/env python3
"""The same G5 branch mixtures on the proxy and on the target model (no third-party packages).

Per mixture, the mean over seeds of each field's stage reward at the branched stage (the change
of the field's feedback over the stage, relative to the run's initial score), on the proxy's
branch runs and on the target's, and the Spearman correlation of the two columns over the
mixtures. The seeds differ between the two (each reading's own), so this compares mixtures'
mean effects, not paired runs.

    python3 g5_proxy_vs_target.py runs/headroom-study-v5/branch runs/headroom-study-v5/branch-target \
        --proxy-seeds 115-124 --target-seeds 125-134 [--stage 12]
"""
import argparse
import glob
import json
import statistics


def seeds(text):
    lo, hi = (int(x) for x in text.split("-"))
    return range(lo, hi + 1)


def load(folder, wanted, stage):
    out = {}
    for f in glob.glob(f"{folder}/runs/*/seed-*/run.json"):
        r = json.load(open(f))
        if r["config"]["seed"] not in wanted or len(r["stages"]) <= stage:
            continue
        label = r["policy"].split("/")[-1].rsplit("-", 1)[0]
        before = r["stages"][stage - 1]["observation"]["feedback"]
        after = r["stages"][stage]["observation"]["feedback"]
        initial = r["initial"]["feedback"]
        share = sum(
            w for w, e in zip(r["stages"][stage]["weights"], r["space"]) if e["field"] != r["space"][0]["field"]
        )
        row = out.setdefault(label, {"target_share": share, "rewards": {}})
        for k in after:
            row["rewards"].setdefault(k, []).append((after[k] - before[k]) / abs(initial[k]))
    return out


def spearman(a, b):
    def rank(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0] * len(v)
        for k, i in enumerate(order):
            r[i] = k
        return r

    ra, rb, n = rank(a), rank(b), len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb)) / (n * (n * n - 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("proxy")
    ap.add_argument("target")
    ap.add_argument("--proxy-seeds", type=seeds, required=True)
    ap.add_argument("--target-seeds", type=seeds, required=True)
    ap.add_argument("--stage", type=int, default=12)
    a = ap.parse_args()
    p, t = load(a.proxy, a.proxy_seeds, a.stage), load(a.target, a.target_seeds, a.stage)
    labels = sorted(set(p) & set(t))
    fields = sorted(p[labels[0]]["rewards"])
    mean = statistics.mean
    head = " | ".join(f"{f} proxy | {f} target" for f in fields)
    print(f"| mixture | target field's share | {head} |")
    print("|---|---:|" + "---:|" * (2 * len(fields)))
    for k in labels:
        cells = " | ".join(
            f"{mean(p[k]['rewards'][f]):+.4f} | {mean(t[k]['rewards'][f]):+.4f}" for f in fields
        )
        print(f"| {k} | {100 * p[k]['target_share']:.1f}% | {cells} |")
    print()
    for f in fields:
        rho = spearman([mean(p[k]["rewards"][f]) for k in labels], [mean(t[k]["rewards"][f]) for k in labels])
        print(f"{f}: Spearman ρ proxy vs target over {len(labels)} mixtures = {rho:.2f}")
    bal = lambda d, k: mean(mean(d[k]["rewards"][f]) for f in fields)
    print(f"balanced: Spearman ρ = {spearman([bal(p, k) for k in labels], [bal(t, k) for k in labels]):.2f}")


if __name__ == "__main__":
    main()
