#!/usr/bin/env python3
"""Ridge regression (λ = 1e-3) of a collection's final field changes on its runs' token shares
per domain, printing each field's six largest coefficients: the across-run, linear reading of
which domains raise a field (RESULTS, "Where the gap to MixMin lies"). Needs numpy (the
project's torch venv has it).

    ~/.cache/mixagent/venv-torch/bin/python docs/results/env2-split-probe/ridge.py runs/collect-env2
"""
import glob
import json
import os
import sys

import numpy as np

FIELDS = ("general", "math")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    shares, changes, names = [], [], None
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "trajectories", "*.json"))):
        t = json.load(open(path))
        if len(t["stages"]) < t["config"]["stages"]:
            continue
        names = [e["name"] for e in t["space"]]
        tokens = dict.fromkeys(names, 0)
        for stage in t["stages"]:
            for name, n in stage["tokens_by_domain"].items():
                tokens[name] += n
        total = sum(tokens.values())
        shares.append([tokens[n] / total for n in names])
        start, end = t["initial"]["feedback"], t["stages"][-1]["observation"]["feedback"]
        changes.append([(end[f] - start[f]) / abs(start[f]) for f in FIELDS])
    if not shares:
        sys.exit(f"{sys.argv[1]}: no finished trajectory")
    x = np.hstack([np.array(shares), np.ones((len(shares), 1))])
    y = np.array(changes)
    for j, field in enumerate(FIELDS):
        coef = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]), x.T @ y[:, j])[:-1]
        top = sorted(zip(coef, names), reverse=True)[:6]
        print(field, "top:", ", ".join(f"{n} {c:+.3f}" for c, n in top))


if __name__ == "__main__":
    main()
