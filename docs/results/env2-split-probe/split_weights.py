#!/usr/bin/env python3
"""The two static mixtures of experiments/env2/split-probe.toml, as `static:` policy specs:
MixMin's within-field weights at 90% math, and the prior agent's within-field token shares
(mean over its math-setting seeds) at MixMin's math share (to three decimals). Standard library only.

    python3 docs/results/env2-split-probe/split_weights.py runs/mixmin-env2 runs/env2-math
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../scripts"))
from compare_runs import tokens  # noqa: E402


def within(weights, field):
    """Each domain's weight within its field (each field sums to 1)."""
    total = {}
    for name, w in weights.items():
        total[field[name]] = total.get(field[name], 0.0) + w
    return {name: w / total[field[name]] for name, w in weights.items() if total[field[name]] > 0}


def spec(within_field, field, math):
    """`static:` weights with `math` on the math field, in name order, dropping < 1e-4."""
    scaled = {n: w * (math if field[n] == "math" else 1 - math) for n, w in within_field.items()}
    return ",".join(f"{n}={w:.4f}" for n, w in sorted(scaled.items()) if w >= 1e-4)


def mean_within(runs):
    """The runs' space (domain -> field) and each domain's within-field token share, mean over
    the runs (`run.json` paths)."""
    field = {e["name"]: e["field"] for e in json.load(open(runs[0]))["space"]}
    share = {}
    for path in runs:
        for name, s in within(tokens(json.load(open(path))), field).items():
            share[name] = share.get(name, 0.0) + s / len(runs)
    return field, share


def mixmin_math(mixmin, field):
    """MixMin's math share, to three decimals (0.521 for runs/mixmin-env2)."""
    return round(sum(w for n, w in mixmin.items() if field[n] == "math") / sum(mixmin.values()), 3)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    mixmin_dir, setting = sys.argv[1:]
    mixmin = json.load(open(os.path.join(mixmin_dir, "mixmin.json")))["weights"]
    runs = sorted(glob.glob(os.path.join(setting, "runs", "agent_*", "seed-*", "run.json")))
    if not runs:
        sys.exit(f"{setting}: no agent runs")
    field, agent = mean_within(runs)
    print("static:" + spec(within(mixmin, field), field, 0.9))
    print("static:" + spec(agent, field, mixmin_math(mixmin, field)))


if __name__ == "__main__":
    main()
