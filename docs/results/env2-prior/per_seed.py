"""Each seed's final balanced score, its field changes and its last-stage target share, for
some policies of a comparison folder (issue 21: whether an agent's seeds agree or run to
opposite corners). Standard library only.

    python3 docs/results/env2-prior/per_seed.py runs/env2-math-prior agent_runs_env2-prior_agent-t1 agent_runs_select-env2_agent mixmin_runs_mixmin-env2 > docs/results/env2-prior/math-per-seed.txt
"""
import glob
import json
import os
import sys


def feedback(path):
    return {e["field"]: e["feedback"] for e in json.load(open(path))["feedback"]}


def main(out, policies):
    # A folder with final items scores on them (`final_items`); a proxy probe (none) on the
    # run's own observations, the base's and the last stage's.
    # The largest item count the folder was scored on, as scripts/paired.py reads it.
    sizes = sorted(int(p.rsplit("-", 1)[1][:-5]) for p in glob.glob(os.path.join(out, "base-final-feedback-*.json")))
    items = f"{sizes[-1]}.json" if sizes else None
    base = feedback(os.path.join(out, f"base-final-feedback-{items}")) if items else None
    for policy in policies:
        print(policy)
        for seed_dir in sorted(glob.glob(os.path.join(out, "runs", policy, "seed-*"))):
            if not os.path.exists(os.path.join(seed_dir, "run.json")):
                continue  # not started
            run = json.load(open(os.path.join(seed_dir, "run.json")))
            if items:
                final = os.path.join(seed_dir, f"final-feedback-{items}")
                if not os.path.exists(final):
                    continue  # still running
                f = feedback(final)
            else:
                base = run["initial"]["feedback"]
                f = run["stages"][-1]["observation"]["feedback"]
            fields = run["config"]["space"]["fields"]
            target = [e["field"] == fields[1] for e in run["space"]]
            last = sum(w for w, t in zip(run["stages"][-1]["weights"], target) if t)
            rel = {k: (f[k] - base[k]) / abs(base[k]) for k in base}
            balanced = sum(rel.values()) / len(rel)
            changes = ", ".join(f"{k} {v:+.3f}" for k, v in rel.items())
            print(f"  {os.path.basename(seed_dir)}: balanced {balanced:+.3f} ({changes}), last-stage target share {last:.0%}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
