"""Can one run tell which of its domains help? The agent's credit features, read offline.

For each trajectory and field: the partial correlation, over the run's stages, between each
domain's weight within its field and that field's feedback change over the stage, once the
target share and the stage's place in the run are accounted for (the agent's `credit_source`
/ `credit_target` features of `crates/policy/src/features.rs` at the last stage, before their
degrees-of-freedom scaling). Then how well that one run's credit ranks the fifth headroom
reading's helpful domains (the oracle's) above the rest (AUC: 0.5 is chance, 1 a perfect ranking), and the
same credit averaged over all runs and over random subsets of them (how many runs a prior drawn
from the collection needs). Standard library only.

    python3 docs/results/collect-env2/in_run_credit.py runs/collect-env2 runs/headroom-study-v5 > docs/results/collect-env2/in_run_credit.md
"""

import glob
import json
import os
import random
import statistics
import sys

def helpful_domains(headroom):
    """The oracle's domains, as `scripts/env2-shares.py --oracle` reads them."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
    from compare_runs import helpful_domains as read

    return read(headroom)


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def residual(x, basis):
    """`x` less its projection on the orthonormal `basis`."""
    r = list(x)
    for q in basis:
        c = dot(r, q)
        r = [a - c * b for a, b in zip(r, q)]
    return r


def orthonormal(columns):
    basis = []
    for c in columns:
        r = residual(c, basis)
        n = dot(r, r) ** 0.5
        if n > 1e-9:
            basis.append([x / n for x in r])
    return basis


def auc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    helpful = helpful_domains(sys.argv[2])
    files = sorted(glob.glob(os.path.join(sys.argv[1], "trajectories", "t-*.json")))
    if not files:
        sys.exit(f"no trajectories under {sys.argv[1]}/trajectories")
    aucs = {}
    mean_credit = {}
    for path in files:
        t = json.load(open(path))
        names = [e["name"] for e in t["space"]]
        fields = [e["field"] for e in t["space"]]
        source = fields[0]
        weights = [s["weights"] for s in t["stages"]]
        n = len(weights)
        observations = [t["initial"]] + [s["observation"] for s in t["stages"]]
        target_share = [sum(w for w, f in zip(ws, fields) if f != source) for ws in weights]
        basis = orthonormal([[1.0] * n, target_share, [i / n for i in range(n)]])
        for field in dict.fromkeys(fields):
            idx = [i for i, f in enumerate(fields) if f == field]
            feedback = [o["feedback"][field] for o in observations]
            y = residual([b - a for a, b in zip(feedback, feedback[1:])], basis)
            ny = dot(y, y) ** 0.5
            credit = []
            for i in idx:
                x = [len(idx) * ws[i] / max(sum(ws[j] for j in idx), 1e-12) for ws in weights]
                xr = residual(x, basis)
                nx = dot(xr, xr) ** 0.5
                c = dot(xr, y) / (nx * ny) if nx > 1e-9 and ny > 1e-12 else 0.0
                credit.append(c)
                mean_credit.setdefault((field, names[i]), []).append(c)
            aucs.setdefault(field, []).append(auc(credit, [names[i] in helpful for i in idx]))

    print(f"{len(files)} trajectories of {sys.argv[1]}; helpful: {', '.join(sorted(helpful))}\n")
    print("| field | AUC of one run's credit, mean | median | runs at or below chance |")
    print("|---|---|---|---|")
    for field, a in aucs.items():
        low = sum(x <= 0.5 for x in a) / len(a)
        print(f"| {field} | {statistics.mean(a):.3f} | {statistics.median(a):.3f} | {100 * low:.0f}% |")
    print("\n| field | AUC of the credit averaged over all runs |")
    print("|---|---|")
    for field in aucs:
        doms = [(d, statistics.mean(v)) for (f, d), v in mean_credit.items() if f == field]
        print(f"| {field} | {auc([c for _, c in doms], [d in helpful for d, _ in doms]):.3f} |")
    # How many runs such a prior needs: the credit averaged over random subsets of the runs.
    rng = random.Random(0)
    sizes = [n for n in (8, 32, 128, 256) if n < len(files)]
    print("\n| runs averaged | " + " | ".join(f"{f}: AUC mean (5th percentile)" for f in aucs) + " |")
    print("|---" * (len(aucs) + 1) + "|")
    for size in sizes:
        cells = []
        for field in aucs:
            doms = [(d, v) for (f, d), v in mean_credit.items() if f == field]
            labels = [d in helpful for d, _ in doms]
            draws = []
            for _ in range(50):
                runs = rng.sample(range(len(files)), size)
                draws.append(auc([statistics.mean(v[r] for r in runs) for _, v in doms], labels))
            draws.sort()
            cells.append(f"{statistics.mean(draws):.3f} ({draws[2]:.3f})")
        print(f"| {size} of {len(files)} (50 draws) | " + " | ".join(cells) + " |")
    print("\n| field | domain | helpful | credit, mean over runs |")
    print("|---|---|---|---|")
    ranked = sorted(mean_credit.items(), key=lambda kv: (kv[0][0], -statistics.mean(kv[1])))
    for (field, d), v in ranked:
        print(f"| {field} | {d} | {'yes' if d in helpful else ''} | {statistics.mean(v):+.3f} |")


if __name__ == "__main__":
    main()
