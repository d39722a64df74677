#!/usr/bin/env python3
"""Plots of a trajectory plan's coverage and of a collected set's trade-off.

    mixagent trajectories sample --config experiments/collect-demo.toml --out runs/plan-demo
    python scripts/plot_trajectories.py coverage runs/plan-demo/plan.json --out docs/coverage-demo.png

    mixagent trajectories export runs/collect-demo --out runs/collect-demo/stages.csv
    python scripts/plot_trajectories.py tradeoff runs/collect-demo/stages.csv --out docs/tradeoff-demo.png

Uses matplotlib from the venv that bench/setup_ref.sh builds
($MIXAGENT_CACHE/venv-torch/bin/python).
"""

import argparse
import csv
import json
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAMILY_COLORS = {
    "constant": "tab:blue",
    "ramp": "tab:orange",
    "step": "tab:green",
    "oscillation": "tab:red",
    "random_walk": "tab:purple",
    "reweight": "tab:brown",
}


def coverage(path, out):
    plan = json.load(open(path))
    space = plan["space"]
    source = space[0]["field"]
    is_target = [e["field"] != source for e in space]
    trajs = plan["trajectories"]
    stages = len(trajs[0]["mixtures"])
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))

    ax = axes[0]
    seen = set()
    for t in trajs:
        fam = t["family"]["type"]
        share = [sum(w for w, tg in zip(row, is_target) if tg) for row in t["mixtures"]]
        ax.plot(range(stages), share, color=FAMILY_COLORS.get(fam, "gray"), alpha=0.5, lw=1,
                label=None if fam in seen else fam)
        seen.add(fam)
    ax.set(xlabel="stage", ylabel="target share", title=f"target share over stages ({len(trajs)} trajectories)",
           ylim=(0, 1))
    ax.legend(fontsize=8, loc="upper right")

    ax = axes[1]
    grid = [[0] * stages for _ in range(10)]
    for t in trajs:
        for s, row in enumerate(t["mixtures"]):
            share = sum(w for w, tg in zip(row, is_target) if tg)
            grid[min(int(share * 10), 9)][s] += 1
    im = ax.imshow(grid, origin="lower", aspect="auto", extent=(-0.5, stages - 0.5, 0, 1), cmap="viridis")
    fig.colorbar(im, ax=ax, label="trajectories")
    ax.set(xlabel="stage", ylabel="target share decile", title="coverage of target share × stage")

    ax = axes[2]
    per_domain = [[row[d] for t in trajs for row in t["mixtures"]] for d in range(len(space))]
    ax.boxplot(per_domain, orientation="horizontal", showfliers=False)
    ax.axvline(1 / len(space), color="gray", ls=":", lw=1)
    ax.set_yticks(range(1, len(space) + 1), [e["name"] for e in space], fontsize=7)
    ax.set(xlabel="weight", title="per-domain weight over all stages (dotted: 1/K)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def tradeoff(path, out):
    rows = list(csv.DictReader(open(path)))
    fields = [c[len("feedback_"):] for c in rows[0] if c.startswith("feedback_")]
    source, target = fields[0], fields[1]
    by_traj = defaultdict(list)
    for r in rows:
        by_traj[r["trajectory"]].append(r)
    stage_share, d_src, d_tgt = [], [], []
    mean_share, f_src, f_tgt, balanced = [], [], [], []
    for traj in by_traj.values():
        traj.sort(key=lambda r: int(float(r["stage"])))
        base = traj[0]
        for prev, r in zip(traj, traj[1:]):
            stage_share.append(float(r["target_share"]))
            d_src.append(float(r[f"feedback_{source}"]) - float(prev[f"feedback_{source}"]))
            d_tgt.append(float(r[f"feedback_{target}"]) - float(prev[f"feedback_{target}"]))
        shares = [float(r["target_share"]) for r in traj[1:]]
        mean_share.append(sum(shares) / len(shares))
        f_src.append(float(traj[-1][f"feedback_{source}"]) - float(base[f"feedback_{source}"]))
        f_tgt.append(float(traj[-1][f"feedback_{target}"]) - float(base[f"feedback_{target}"]))
        balanced.append(float(traj[-1]["balanced"]))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    ax.scatter(stage_share, d_tgt, s=6, alpha=0.4, label=f"Δ {target}", color="tab:red")
    ax.scatter(stage_share, d_src, s=6, alpha=0.4, label=f"Δ {source}", color="tab:blue")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set(xlabel="stage target share", ylabel="feedback change in the stage", title="per stage")
    ax.legend()
    ax = axes[1]
    ax.scatter(mean_share, f_tgt, s=12, label=f"Δ {target}", color="tab:red")
    ax.scatter(mean_share, f_src, s=12, label=f"Δ {source}", color="tab:blue")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set(xlabel="mean target share of the trajectory", ylabel="final feedback change", title="per trajectory")
    ax.legend()
    ax = axes[2]
    ax.scatter(mean_share, balanced, s=12, color="black")
    ax.set(xlabel="mean target share of the trajectory", ylabel="final balanced score",
           title=f"balanced score ({len(by_traj)} trajectories)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("coverage")
    c.add_argument("plan")
    c.add_argument("--out", required=True)
    t = sub.add_parser("tradeoff")
    t.add_argument("csv")
    t.add_argument("--out", required=True)
    a = p.parse_args()
    (coverage if a.cmd == "coverage" else tradeoff)(getattr(a, "plan", None) or a.csv, a.out)


if __name__ == "__main__":
    main()
