#!/usr/bin/env python3
"""What a collection's own proxy runs say about the field split: its trajectories binned by the
target field's share of their tokens, with each bin's mean final change per field and balanced
score (final observation against the run's initial one, as `scripts/compare_runs.py` scores a
comparison without final items). Standard library only.

    python3 scripts/collection-split.py runs/collect-env2
    python3 scripts/collection-split.py --oracle runs/headroom-study-v5 runs/collect-env2

With `--oracle HEADROOM_DIR`, a second table over the quarter of trajectories with the largest
share of tokens on that reading's helpful domains: the region nearest to where an agent that
learned *which* domains to train on operates. Only finished trajectories count (branches too:
each is a whole run from the base).
"""
import glob
import json
import os
import statistics
import sys

from compare_runs import changes, fields_of, helpful_domains, tokens

BINS = [0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0]


def trajectories(collection, helpful):
    """(target share of tokens, share of tokens on `helpful` (0 when empty), fields, field ->
    relative change) per finished trajectory."""
    paths = sorted(glob.glob(os.path.join(collection, "trajectories", "*.json")))
    if not paths:
        sys.exit(f"{collection}: no trajectories/*.json; give a `mixagent collect` output folder")
    for path in paths:
        try:
            t = json.load(open(path))
            if len(t["stages"]) < t["config"]["stages"]:
                continue
            field = {e["name"]: e["field"] for e in t["space"]}
            fields = fields_of(t)
            trained = tokens(t)
            change = changes(t["initial"]["feedback"], t["stages"][-1]["observation"]["feedback"], fields)
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
            sys.exit(f"{path}: unreadable trajectory ({e!r}); rerun the collection to rewrite it")
        total = sum(trained.values())
        target = sum(n for name, n in trained.items() if field[name] != fields[0]) / total
        on_helpful = sum(n for name, n in trained.items() if name in helpful) / total
        yield target, on_helpful, fields, change


def table(rows, title):
    """Rows of (target share, helpful share, fields, changes), binned by the target share."""
    fields = rows[0][2]
    print(f"{title} ({len(rows)} {'trajectory' if len(rows) == 1 else 'trajectories'})\n")
    print("| target share of tokens | trajectories | " + " | ".join(f"{f} change" for f in fields) + " | balanced |")
    print("|---|---|" + "---|" * (len(fields) + 1))
    for lo, hi in zip(BINS, BINS[1:]):
        inside = [r for r in rows if lo <= r[0] < hi or (hi == BINS[-1] and r[0] == hi)]
        if not inside:
            continue
        mean = {f: statistics.mean(r[3][f] for r in inside) for f in fields}
        balanced = statistics.mean(sum(r[3].values()) / len(r[3]) for r in inside)
        cells = " | ".join(f"{mean[f]:+.3f}" for f in fields)
        print(f"| {lo:.0%}-{hi:.0%} | {len(inside)} | {cells} | **{balanced:+.3f}** |")
    print()


def main():
    args = sys.argv[1:]
    helpful = None
    if args[:1] == ["--oracle"] and len(args) >= 2:
        helpful, args = helpful_domains(args[1]), args[2:]
    if len(args) != 1:
        sys.exit(__doc__)
    collection = args[0]
    rows = list(trajectories(collection, helpful or set()))
    if not rows:
        sys.exit(f"{collection}: no finished trajectory yet")
    table(rows, f"{collection}: final change by the target field's share of tokens")
    if helpful:
        rows.sort(key=lambda r: -r[1])
        top = rows[: max(1, len(rows) // 4)]
        title = (
            f"the quarter with the most tokens on the helpful domains "
            f"({min(r[1] for r in top):.0%}-{max(r[1] for r in top):.0%} of their tokens)"
        )
        table(top, title)


if __name__ == "__main__":
    main()
