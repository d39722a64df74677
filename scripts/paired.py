#!/usr/bin/env python3
"""Paired reading of a `mixagent compare` folder (no third-party packages).

For every policy: the target share at each stage (mean over seeds) and the final balanced
score per seed (read from the final evaluation, `base-final-feedback-N.json` beside the runs'
`final-feedback-N.json`, when the compare ran with `final_items = N`; else from the runs' last
observation). Then, for the policy given by --policy (default: the first agent), its paired
difference to every other policy over the seeds they share (same seed = same data order), with
a Student-t 95% interval. A policy "wins" only where that interval lies above zero.

With --per-seed, instead: each seed of each policy, its final balanced score, its field changes
and its last-stage target share (whether a policy's seeds agree or run to opposite corners).

    python3 scripts/paired.py runs/compare-demo [--policy agent:runs/agent-demo] [--final-items N]
    python3 scripts/paired.py runs/env2-math --per-seed [POLICY_FOLDER_SUBSTRING ...]
"""
import argparse
import math

import compare_runs

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def per_seed(runs):
    for policy, seeds in compare_runs.by_policy(runs).items():
        print(compare_runs.short_name(policy))
        for seed, r in sorted(seeds.items()):
            changes = ", ".join(f"{k} {v:+.3f}" for k, v in r.changes.items())
            print(f"  seed-{seed}: balanced {r.balanced:+.3f} ({changes}), last-stage target share {r.shares[-1]:.0%}")


def paired(runs, me):
    runs = compare_runs.by_policy(runs)
    print("target share by stage (mean over seeds):")
    for p, by_seed in runs.items():
        stages = len(next(iter(by_seed.values())).shares)
        mean = [sum(r.shares[s] for r in by_seed.values()) / len(by_seed) for s in range(stages)]
        print(f"  {p:32s} " + " ".join(f"{100 * x:4.0f}" for x in mean))
    me = me or next((p for p in runs if p.startswith("agent")), next(iter(runs)))
    print(f"\npaired difference of the final balanced score, {me} minus each policy (95% t interval):")
    for p, by_seed in runs.items():
        if p == me:
            continue
        seeds = sorted(set(by_seed) & set(runs.get(me, {})))
        d = [runs[me][s].balanced - by_seed[s].balanced for s in seeds]
        if len(d) < 2:
            continue
        m = sum(d) / len(d)
        sd = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1))
        h = T975.get(len(d) - 1, 1.96) * sd / math.sqrt(len(d))
        verdict = "wins" if m - h > 0 else ("loses" if m + h < 0 else "tie")
        print(f"  vs {p:32s} {m:+.4f} ± {h:.4f}  [{m - h:+.4f}, {m + h:+.4f}]  {verdict}  (n={len(d)})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("compare")
    ap.add_argument("policies", nargs="*", help="with --per-seed: substrings of the policy folders to list (all by default)")
    ap.add_argument("--policy")
    ap.add_argument("--per-seed", action="store_true")
    ap.add_argument("--final-items", type=int, help="default: the largest N the folder has, else the runs' own observation")
    a = ap.parse_intermixed_args()  # policies may follow the flags
    n, runs, unscored = compare_runs.read(a.compare, a.final_items, a.policies if a.per_seed else ())
    if not a.per_seed:
        where = f"{n} feedback items a field (final evaluation)" if n else "the runs' last observation"
        print(f"final score: {where}")
        if unscored:
            print(f"left out, trained but not yet scored on {n} items (rerun the compare): {len(unscored)} run(s)")
    if not runs:
        raise SystemExit(f"{a.compare}: no finished runs")
    per_seed(runs) if a.per_seed else paired(runs, a.policy)


if __name__ == "__main__":
    main()
