#!/usr/bin/env python3
"""Each agent artifact's per-domain prior, ranked per field, with the relevance ablation's
helpful domains marked (*): how well each way of reading the collection (in-run credit,
regression across runs) finds the domains that help. Standard library only.

    python3 docs/results/env2-regression-prior/priors.py runs/headroom-study-v5 \\
        runs/env2-prior/agent runs/env2-regprior/agent
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../scripts"))
from compare_runs import helpful_domains  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    helpful = helpful_domains(sys.argv[1])
    relevance = json.load(open(os.path.join(sys.argv[1], "headroom.json")))["relevance"]
    field = {r["domain"]: r["field"] for r in relevance}
    for agent in sys.argv[2:]:
        a = json.load(open(os.path.join(agent, "agent.json")))
        evidence = a["prior"]["evidence"]
        print(f"{agent} ({a['training']['config']['views'].get('prior_from', 'credit')}, {a['prior']['runs']} runs)")
        for f in sorted({f for by in evidence.values() for f in by}):
            ranked = sorted(((by[f], d) for d, by in evidence.items() if f in by), reverse=True)
            top = ", ".join(f"{d}{'*' if d in helpful else ''} {v:+.2f}" for v, d in ranked[:8])
            # Where the helpful domains of the field sit in the ranking (1 = first).
            own = [i + 1 for i, (_, d) in enumerate(ranked) if d in helpful and field.get(d) == f]
            print(f"  {f}: {top}")
            print(f"    ranks of the helpful domains: {own}")


if __name__ == "__main__":
    main()
