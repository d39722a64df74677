#!/usr/bin/env python3
"""Paired reading of a `mixagent compare` folder (no third-party packages).

For every policy: the target share at each stage (mean over seeds) and the final balanced
score per seed (read from the final evaluation, `base-final-feedback-N.json` beside the runs'
`final-feedback-N.json`, when the compare ran with `final_items = N`; else from the runs' last
observation). Then, for the policy given by --policy (default: the first agent), its paired
difference to every other policy over the seeds they share (same seed = same data order), with
a Student-t 95% interval. A policy "wins" only where that interval lies above zero.

    python3 scripts/paired.py runs/compare-demo [--policy agent:runs/agent-demo] [--final-items N]
"""
import argparse
import glob
import json
import math
import os

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def balanced(obs, base, fields):
    return sum((obs["feedback"][f] - base["feedback"][f]) / abs(base["feedback"][f]) for f in fields) / len(fields)


def feedback(path):
    return {"feedback": {f["field"]: f["feedback"] for f in json.load(open(path))["feedback"]}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("compare")
    ap.add_argument("--policy")
    ap.add_argument("--final-items", type=int, help="default: the largest N the folder has, else the runs' own observation")
    a = ap.parse_args()
    sizes = sorted(int(p.rsplit("-", 1)[1][:-5]) for p in glob.glob(os.path.join(a.compare, "base-final-feedback-*.json")))
    n = a.final_items if a.final_items is not None else (sizes[-1] if sizes else 0)
    base = feedback(os.path.join(a.compare, f"base-final-feedback-{n}.json")) if n else None
    where = f"{n} feedback items a field (final evaluation)" if n else "the runs' last observation"
    print(f"final score: {where}")
    runs = {}
    unscored = []  # trained to the end, final evaluation not yet written
    for path in sorted(glob.glob(os.path.join(a.compare, "runs", "*", "seed-*", "run.json"))):
        r = json.load(open(path))
        if len(r["stages"]) < r["config"]["stages"]:
            continue
        fields = []
        for e in r["space"]:
            if e["field"] not in fields:
                fields.append(e["field"])
        target = [i for i, e in enumerate(r["space"]) if e["field"] != fields[0]]
        shares = [sum(s["weights"][i] for i in target) for s in r["stages"]]
        if n:
            final = os.path.join(os.path.dirname(path), f"final-feedback-{n}.json")
            if not os.path.exists(final):
                unscored.append(os.path.dirname(path))
                continue
            score = balanced(feedback(final), base, fields)
        else:
            score = balanced(r["stages"][-1]["observation"], r["initial"], fields)
        runs.setdefault(r["policy"], {})[r["config"]["seed"]] = (score, shares)
    if unscored:
        print(f"left out, trained but not yet scored on {n} items (rerun the compare): {len(unscored)} run(s)")
    if not runs:
        raise SystemExit(f"{a.compare}: no finished runs")
    print("target share by stage (mean over seeds):")
    for p, by_seed in runs.items():
        stages = len(next(iter(by_seed.values()))[1])
        mean = [sum(v[1][s] for v in by_seed.values()) / len(by_seed) for s in range(stages)]
        print(f"  {p:32s} " + " ".join(f"{100 * x:4.0f}" for x in mean))
    me = a.policy or next((p for p in runs if p.startswith("agent")), next(iter(runs)))
    print(f"\npaired difference of the final balanced score, {me} minus each policy (95% t interval):")
    for p, by_seed in runs.items():
        if p == me:
            continue
        seeds = sorted(set(by_seed) & set(runs[me]))
        d = [runs[me][s][0] - by_seed[s][0] for s in seeds]
        if len(d) < 2:
            continue
        m = sum(d) / len(d)
        sd = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1))
        h = T975.get(len(d) - 1, 1.96) * sd / math.sqrt(len(d))
        verdict = "wins" if m - h > 0 else ("loses" if m + h < 0 else "tie")
        print(f"  vs {p:32s} {m:+.4f} ± {h:.4f}  [{m - h:+.4f}, {m + h:+.4f}]  {verdict}  (n={len(d)})")


if __name__ == "__main__":
    main()
