#!/usr/bin/env python3
"""The static mixture of experiments/env2/regprior-split.toml: an agent's within-field token
shares (mean over its runs in a comparison folder) at MixMin's math share, as the split probe's
(docs/results/env2-split-probe/split_weights.py) but for any agent's runs. Standard library only.

    python3 docs/results/env2-regression-prior/static_weights.py runs/mixmin-env2 \\
        runs/env2-curve agent_runs_env2-regprior_agent-t1
"""
import glob
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../env2-split-probe"))
from split_weights import mean_within, mixmin_math, spec  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    mixmin_dir, folder, policy = sys.argv[1:]
    mixmin = json.load(open(os.path.join(mixmin_dir, "mixmin.json")))["weights"]
    runs = sorted(glob.glob(os.path.join(folder, "runs", policy, "seed-*", "run.json")))
    if not runs:
        sys.exit(f"{folder}: no runs of {policy}")
    field, agent = mean_within(runs)
    print("static:" + spec(agent, field, mixmin_math(mixmin, field)))


if __name__ == "__main__":
    main()
