#!/usr/bin/env python3
"""How far the same runs moved between two machines: two `compare` folders of the same config
(one run on each machine, with `equivalent_bases`), paired by policy and seed.

    python3 scripts/cross-machine.py runs/headroom-study-v5/confirm-amd runs/headroom-study-v5/confirm

For every (policy, seed) finished in both it prints the final score's feedback change per
field relative to that folder's own base (`final-feedback-N.json` against
`base-final-feedback-N.json`, as `compare` tables it), the balanced score (the fields' mean)
and the benchmark average (`eval-full.json`) on each machine, and their differences; then the
SD of the cross-machine difference of the balanced score beside the SD of the balanced score
over seeds within a policy (what a paired comparison's noise is made of). Standard library only.
"""

import glob
import json
import os
import statistics
import sys


def final_feedback(path):
    with open(path) as f:
        return {x["field"]: x["feedback"] for x in json.load(f)["feedback"]}


def bench_avg(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        averages = dict(json.load(f).get("averages") or [])  # [[name, value], ...]
    return averages.get("overall")


def scores(folder):
    """{(policy folder, seed): (relative change per field, balanced, benchmark average)}."""
    bases = glob.glob(os.path.join(folder, "base-final-feedback-*.json"))
    if not bases:
        sys.exit(f"{folder}: no base-final-feedback-N.json (a compare folder with final_items?)")
    name = os.path.basename(bases[0])[len("base-") :]
    base = final_feedback(bases[0])
    out = {}
    for run in sorted(glob.glob(os.path.join(folder, "runs", "*", "seed-*"))):
        final = os.path.join(run, name)
        if not os.path.exists(final):
            continue
        fb = final_feedback(final)
        rel = {f: (fb[f] - base[f]) / abs(base[f]) for f in base if f in fb}
        with open(os.path.join(run, "run.json")) as f:
            policy = json.load(f).get("policy_name") or os.path.basename(os.path.dirname(run))
        key = (policy, os.path.basename(run))
        out[key] = (rel, statistics.mean(rel.values()), bench_avg(os.path.join(run, "eval-full.json")))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = scores(sys.argv[1]), scores(sys.argv[2])
    both = sorted(set(a) & set(b))
    if not both:
        sys.exit("no (policy, seed) finished in both folders")
    fields = sorted(a[both[0]][0])
    print("| policy | seed | " + " | ".join(f"{f} A | {f} B" for f in fields)
          + " | balanced A | balanced B | B − A | benchmarks A | benchmarks B |")
    print("|---" * (4 + 2 * len(fields) + 3) + "|")
    diffs = []
    for k in both:
        (ra, ba, qa), (rb, bb, qb) = a[k], b[k]
        diffs.append(bb - ba)
        cells = " | ".join(f"{ra[f]:+.4f} | {rb[f]:+.4f}" for f in fields)
        q = lambda v: "—" if v is None else f"{v:.2f}"
        print(f"| {k[0]} | {k[1][5:]} | {cells} | {ba:+.4f} | {bb:+.4f} | {bb - ba:+.4f} | {q(qa)} | {q(qb)} |")
    print()
    print(f"{len(diffs)} runs in both; cross-machine difference of the balanced score: "
          f"mean {statistics.mean(diffs):+.4f}, SD {statistics.stdev(diffs) if len(diffs) > 1 else float('nan'):.4f}")
    for name, s in (("A", a), ("B", b)):
        sds = []
        for policy in sorted({k[0] for k in both}):
            vals = [s[k][1] for k in s if k[0] == policy]
            if len(vals) > 1:
                sds.append(statistics.stdev(vals))
        if sds:
            print(f"{name}: SD of the balanced score over seeds within a policy, median over "
                  f"{len(sds)} policies: {statistics.median(sds):.4f}")


if __name__ == "__main__":
    main()
