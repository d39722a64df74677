#!/usr/bin/env python3
"""Each policy's within-field token shares (mean over its runs in a comparison folder; shares
above 2%): which domains of each field it trains on. Standard library only.

    python3 docs/results/env2-regression-prior/within.py runs/env2-curve \\
        agent_runs_env2-prior_agent-t1 agent_runs_env2-regprior_agent-t1 mixmin_runs_mixmin-env2
"""
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../env2-split-probe"))
from split_weights import mean_within  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    for policy in sys.argv[2:]:
        runs = sorted(glob.glob(os.path.join(sys.argv[1], "runs", policy, "seed-*", "run.json")))
        if not runs:
            sys.exit(f"{sys.argv[1]}: no runs of {policy}")
        field, share = mean_within(runs)
        print(f"{policy} ({len(runs)} runs)")
        for f in sorted(set(field.values())):
            top = sorted(((v, n) for n, v in share.items() if field[n] == f and v > 0.02), reverse=True)
            print(f"  {f}: " + ", ".join(f"{n} {v:.0%}" for v, n in top))


if __name__ == "__main__":
    main()
