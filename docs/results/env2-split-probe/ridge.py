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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../scripts"))
from compare_runs import changes, tokens  # noqa: E402

FIELDS = ("general", "math")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    shares, change, names = [], [], None
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "trajectories", "*.json"))):
        t = json.load(open(path))
        if len(t["stages"]) < t["config"]["stages"]:
            continue
        names = [e["name"] for e in t["space"]]
        trained = tokens(t)
        total = sum(trained.values())
        shares.append([trained.get(n, 0) / total for n in names])
        final = changes(t["initial"]["feedback"], t["stages"][-1]["observation"]["feedback"], FIELDS)
        change.append([final[f] for f in FIELDS])
    if not shares:
        sys.exit(f"{sys.argv[1]}: no finished trajectory")
    x = np.hstack([np.array(shares), np.ones((len(shares), 1))])
    y = np.array(change)
    for j, field in enumerate(FIELDS):
        coef = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]), x.T @ y[:, j])[:-1]
        top = sorted(zip(coef, names), reverse=True)[:6]
        print(field, "top:", ", ".join(f"{n} {c:+.3f}" for c, n in top))


if __name__ == "__main__":
    main()
