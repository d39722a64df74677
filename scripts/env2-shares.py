#!/usr/bin/env python3
"""The target field's share of each stage's mixture, per policy of a comparison folder: the
mean over seeds and the lowest seed, stage by stage (issue 17's checks: in 2-D the agent's
share must move, in the code setting it must stay at or above 20% in every stage). Standard
library only; reads `OUT/runs/*/seed-*/run.json` as `mixagent compare` wrote them.

    python3 scripts/env2-shares.py runs/env2-2d [agent uniform ...] > shares.md

Policies are matched by a substring of their run folder's name (all of them by default); the
target field is the run's second field.
"""
import glob
import json
import os
import sys


def shares(run):
    """Target share of every stage of one run."""
    fields = run["config"]["space"]["fields"]
    target = fields[1]
    entries = [e["field"] == target for e in run["space"]]
    return [sum(w for w, t in zip(s["weights"], entries) if t) for s in run["stages"]]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out, wanted = sys.argv[1], sys.argv[2:]
    by_policy = {}
    for path in sorted(glob.glob(os.path.join(out, "runs", "*", "seed-*", "run.json"))):
        folder = path.split(os.sep)[-3]
        if wanted and not any(w in folder for w in wanted):
            continue
        try:
            run = json.load(open(path))
        except (OSError, json.JSONDecodeError) as e:
            sys.exit(f"{path}: {e}; rerun the comparison to rewrite it")
        # The policy as the config named it, its path from the runs folder on
        # (agent:select-env2/agent).
        kind, _, path = run["policy"].partition(":")
        name = f"{kind}:{path.rstrip('/').split('/runs/')[-1]}" if "/" in path else run["policy"]
        by_policy.setdefault(name, []).append(shares(run))
    if not by_policy:
        sys.exit(f"no runs under {out}/runs matching {wanted or 'anything'}")
    names = sorted(by_policy)
    stages = max(len(s) for runs in by_policy.values() for s in runs)
    print("target share by stage: mean over seeds (lowest seed)\n")
    print("| stage | " + " | ".join(f"{n} ({len(by_policy[n])} seeds)" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for i in range(stages):
        cells = []
        for n in names:
            v = [s[i] for s in by_policy[n] if i < len(s)]
            cells.append(f"{100 * sum(v) / len(v):.1f}% ({100 * min(v):.1f}%)" if v else "–")
        print(f"| {i + 1} | " + " | ".join(cells) + " |")
    print("\n| policy | lowest share, any stage and seed | spread of the share over stages and seeds |")
    print("|---|---|---|")
    for n in names:
        flat = [x for s in by_policy[n] for x in s]
        print(f"| {n} | {100 * min(flat):.1f}% | {100 * (max(flat) - min(flat)):.1f} points |")


if __name__ == "__main__":
    main()
