#!/usr/bin/env python3
"""Plots a mixagent run's training loss (overall and per field's domains) from metrics.jsonl.

    python scripts/plot_metrics.py runs/demo-base-4m --out docs/demo-base-loss.png

Uses matplotlib from the venv that bench/setup_ref.sh builds
($MIXAGENT_CACHE/venv-torch/bin/python).
"""

import argparse
import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=pathlib.Path, help="run folder with metrics.jsonl")
    ap.add_argument("--out", type=pathlib.Path, required=True, help="PNG to write")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    rows = [json.loads(line) for line in (args.run / "metrics.jsonl").read_text().splitlines() if line]
    if not rows:
        raise SystemExit(f"{args.run}/metrics.jsonl has no rows")
    tokens = [r["tokens"] / 1e6 for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax1.plot(tokens, [r["loss"] for r in rows], color="black")
    ax1.set_xlabel("training tokens (M)")
    ax1.set_ylabel("training loss (nats/token)")
    ax1.set_title("loss (logged step)")
    ax1.grid(alpha=0.3)
    domains = sorted({d for r in rows for d in r["domain_loss"]})
    for d in domains:
        pts = [(r["tokens"] / 1e6, r["domain_loss"][d]) for r in rows if d in r["domain_loss"]]
        ax2.plot([p[0] for p in pts], [p[1] for p in pts], label=d, linewidth=1)
    ax2.set_xlabel("training tokens (M)")
    ax2.set_title("per-domain loss (mean since previous log line)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, ncol=2)
    fig.suptitle(args.title or str(args.run))
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
