#!/usr/bin/env python3
"""Gate G1's math reading on each feedback variant, from experiments/feedback-variants/score.sh's
scores: a domain's help is the math feedback change from the base (relative to the base's
|feedback|) in its beside-uniform run less uniform's under the same seed; strongly relevant when
its help less the field's mean help, seed by seed, is ≥ 3 SD of those per-seed differences
above zero; useless or harmful when its help is ≤ its own SD (crates/report/src/headroom.rs).

    python3 experiments/feedback-variants/read.py OUT [--seeds 3,4,5,6,7] [--verbose] [--csv FILE]

--csv writes every score read (variant, policy, seed, math feedback, the base's) to FILE.
"""
import glob
import json
import os
import re
import statistics as st
import sys


def label(policy):
    return re.sub(r"-[0-9a-f]{8}\.json$", "", os.path.basename(policy)).replace("beside-", "")


def main(out, seeds, verbose, csv):
    variants = sorted({os.path.basename(p)[5:-5] for p in glob.glob(f"{out}/base.*.json")})
    table = ["variant,policy,seed,feedback,base"]
    for v in variants:
        base = json.load(open(f"{out}/base.{v}.json"))["feedback"][0]["feedback"]
        rows = {}
        for key_file in glob.glob(f"{out}/*.run"):
            run = open(key_file).read().strip()
            score = key_file[:-4] + f".{v}.json"
            if not os.path.exists(score):
                continue
            seed = int(run.rsplit("seed-", 1)[1])
            if seeds and seed not in seeds:
                continue
            lab = label(json.load(open(f"{run}/run.json"))["policy"])
            fb = json.load(open(score))["feedback"][0]["feedback"]
            rows.setdefault(lab, {})[seed] = (fb - base) / abs(base)
            table.append(f"{v},{lab},{seed},{fb!r},{base!r}")
        uni = rows.pop("uniform", {})
        doms = sorted(l for l in rows if l.startswith("math_") or l == "numeric_tables")
        common = sorted(s for s in uni if all(s in rows[d] for d in doms))
        if len(common) < 2 or not doms:
            print(f"{v}: too few complete seeds ({common})")
            continue
        help = {d: [rows[d][s] - uni[s] for s in common] for d in doms}
        mean = [st.mean(help[d][i] for d in doms) for i in range(len(common))]
        strong, weak, lines = [], 0, []
        for d in sorted(doms, key=lambda d: -st.mean(help[d])):
            above = [h - m for h, m in zip(help[d], mean)]
            z = st.mean(above) / st.stdev(above)
            if z >= 3:
                strong.append(d)
            weak += st.mean(help[d]) <= st.stdev(help[d])
            lines.append(f"  {d:22s} help {st.mean(help[d]):+.4f} ({' '.join(f'{x:+.3f}' for x in help[d])})  above mean {st.mean(above):+.4f} = {z:5.1f}σ")
        verdict = "PASS" if len(strong) >= 3 and weak >= 0.25 * len(doms) else "FAIL"
        print(f"{v}: base {base:+.4f}, uniform {st.mean(uni[s] for s in common):+.4f}, seeds {common}: "
              f"{len(strong)} strongly relevant ({', '.join(strong)}), {weak} of {len(doms)} useless or harmful: G1 math {verdict}")
        if verbose:
            print("\n".join(lines))
    if csv:
        with open(csv + ".tmp", "w") as f:
            f.write("\n".join([table[0]] + sorted(table[1:])) + "\n")
        os.replace(csv + ".tmp", csv)


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    seeds = None
    if "--seeds" in args:
        i = args.index("--seeds")
        seeds = {int(s) for s in args[i + 1].split(",")}
        del args[i : i + 2]
    csv = None
    if "--csv" in args:
        i = args.index("--csv")
        csv = args[i + 1]
        del args[i : i + 2]
    verbose = "--verbose" in args
    main([a for a in args if a != "--verbose"][0], seeds, verbose, csv)
