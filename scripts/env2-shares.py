#!/usr/bin/env python3
"""The target field's share of each stage's mixture, per policy of a comparison folder: the
mean over seeds and the lowest seed, stage by stage (issue 17's checks: in 2-D the agent's
share must move, in the code setting it must stay at or above 20% in every stage). Standard
library only; reads `OUT/runs/*/seed-*/run.json` as `mixagent compare` wrote them.

    python3 scripts/env2-shares.py runs/env2-2d [agent uniform ...] > shares.md
    python3 scripts/env2-shares.py --oracle runs/headroom-study-v5 runs/env2-math > shares.md

`scripts/paired.py` prints the mean share by stage and the paired differences; this adds the
lowest seed's share, the spread, and the helpful-domain share below. Unlike it, this reads
runs still training too (their stages so far).

Policies are matched by a substring of their run folder's name (all of them by default); the
target is every field but the run's first (the source). With `--oracle HEADROOM_DIR`, also each policy's share
of its tokens on the domains that reading found helpful (its `helpful-only` mixture, the
oracle's): whether a policy learned *which* domains to train on.
"""
import sys

from compare_runs import helpful_domains, load, shares, short_name, tokens


def main():
    args = sys.argv[1:]
    helpful = None
    if args[:1] == ["--oracle"] and len(args) >= 2:
        helpful, args = helpful_domains(args[1]), args[2:]
    if not args:
        sys.exit(__doc__)
    out, wanted = args[0], args[1:]
    on_helpful = {}
    by_policy = {}
    for _, run in load(out, wanted):
        name = short_name(run["policy"])
        by_policy.setdefault(name, []).append(shares(run))
        if helpful is not None:
            trained = tokens(run)
            total = sum(trained.values())
            on = sum(n for d, n in trained.items() if d in helpful)
            on_helpful.setdefault(name, []).append(on / total)
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
    if helpful is not None:
        print(f"\n| policy | share of its tokens on the helpful domains ({', '.join(sorted(helpful))}), by seed |")
        print("|---|---|")
        for n in names:
            print(f"| {n} | " + " ".join(f"{100 * x:.0f}%" for x in on_helpful[n]) + " |")


if __name__ == "__main__":
    main()
