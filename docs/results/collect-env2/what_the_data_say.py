"""What a collection's trajectories say about the mixture, before any agent reads them.

For each trajectory: the share of each domain in all its training tokens, the share in the
last fifth of its stages (the WSD decay, where data counts more), and the final change of each
field's feedback and of the balanced score (DESIGN §4) from the base. Ridge regressions of
the final scores on the shares, 5-fold cross-validated: how much of a run's outcome its
average mixture explains (what a static mixer such as RegMix can use), and how much the
late-stage shares add (what only a schedule can use). Then the domains the fit credits most
and least. Standard library only.

    python3 docs/results/collect-env2/what_the_data_say.py runs/collect-env2 > docs/results/collect-env2/what_the_data_say.md
"""

import glob
import json
import os
import sys


def solve(a, b):
    """Solves a x = b (a square, symmetric positive definite) by Gaussian elimination."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[r][c] != 0.0:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def ridge(xs, ys, lam):
    """Centred ridge fit: (intercept, coefficients)."""
    k = len(xs[0])
    mu = [sum(x[j] for x in xs) / len(xs) for j in range(k)]
    ym = sum(ys) / len(ys)
    c = [[x[j] - mu[j] for j in range(k)] for x in xs]
    a = [[sum(r[i] * r[j] for r in c) + (lam if i == j else 0.0) for j in range(k)] for i in range(k)]
    b = [sum(r[i] * (y - ym) for r, y in zip(c, ys)) for i in range(k)]
    w = solve(a, b)
    return ym - sum(wi * mi for wi, mi in zip(w, mu)), w


def cv_r2(xs, ys, lam, folds=5):
    pred = [0.0] * len(ys)
    for f in range(folds):
        tr = [i for i in range(len(ys)) if i % folds != f]
        b0, w = ridge([xs[i] for i in tr], [ys[i] for i in tr], lam)
        for i in range(len(ys)):
            if i % folds == f:
                pred[i] = b0 + sum(wi * xi for wi, xi in zip(w, xs[i]))
    ym = sum(ys) / len(ys)
    return 1.0 - sum((p - y) ** 2 for p, y in zip(pred, ys)) / sum((y - ym) ** 2 for y in ys)


def main(folder):
    files = sorted(glob.glob(os.path.join(folder, "trajectories", "t-*.json")))
    runs = [json.load(open(f)) for f in files]
    names = [d["name"] for d in runs[0]["space"]]
    fields = sorted({d["field"] for d in runs[0]["space"]})
    stages = len(runs[0]["stages"])
    late_from = stages - max(1, stages // 5)
    whole, late, change = [], [], {f: [] for f in fields + ["balanced"]}
    for t in runs:
        if len(t["stages"]) != stages:
            continue
        tot = [0.0] * len(names)
        end = [0.0] * len(names)
        for s in t["stages"]:
            for i, n in enumerate(names):
                v = s["tokens_by_domain"].get(n, 0)
                tot[i] += v
                if s["stage"] >= late_from:
                    end[i] += v
        whole.append([v / sum(tot) for v in tot])
        late.append([v / sum(end) for v in end])
        first, last = t["initial"]["feedback"], t["stages"][-1]["observation"]["feedback"]
        rel = []
        for f in fields:
            change[f].append(last[f] - first[f])
            rel.append((last[f] - first[f]) / abs(first[f]))
        change["balanced"].append(sum(rel) / len(rel))
    n = len(whole)
    print(f"# What `{folder}` says about the mixture\n")
    print(f"{n} complete trajectories × {stages} stages over {len(names)} domains; "
          f"late = stages {late_from}-{stages - 1}. Ridge λ picked per row from 0.01, 0.1, 1 "
          f"(5-fold cross-validated R², higher is better).\n")
    print("| final change of | mean | SD | R², whole-run shares | R², whole-run + late shares |")
    print("|---|---:|---:|---:|---:|")
    both = [a + b for a, b in zip(whole, late)]
    for key, ys in change.items():
        m = sum(ys) / n
        sd = (sum((y - m) ** 2 for y in ys) / (n - 1)) ** 0.5
        r1 = max(cv_r2(whole, ys, lam) for lam in (0.01, 0.1, 1.0))
        r2 = max(cv_r2(both, ys, lam) for lam in (0.01, 0.1, 1.0))
        print(f"| {key} | {m:+.4f} | {sd:.4f} | {r1:.2f} | {r2:.2f} |")
    print("\nDomains the whole-run fit credits (change of the final score per unit of share "
          "moved from the average mixture; λ 0.1):\n")
    print("| final change of | most helpful | most harmful |")
    print("|---|---|---|")
    for key, ys in change.items():
        _, w = ridge(whole, ys, 0.1)
        order = sorted(range(len(names)), key=lambda i: -w[i])
        top = ", ".join(f"{names[i]} {w[i]:+.2f}" for i in order[:5])
        bottom = ", ".join(f"{names[i]} {w[i]:+.2f}" for i in order[-4:])
        print(f"| {key} | {top} | {bottom} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/collect-env2")
