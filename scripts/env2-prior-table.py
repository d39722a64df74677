#!/usr/bin/env python3
"""The per-domain prior an agent carries (artifact version 6), as a markdown table, with the
domains a headroom reading found helpful marked (standard library only).

    python3 scripts/env2-prior-table.py runs/env2-prior/agent runs/collect-env2 \
        runs/headroom-study-v5 > docs/results/env2-prior/prior.md
"""
import importlib.util
import json
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    agent, collection, headroom = sys.argv[1:]
    spec = importlib.util.spec_from_file_location(
        "env2_shares", os.path.join(os.path.dirname(__file__), "env2-shares.py"))
    shares = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shares)
    helpful = shares.helpful_domains(headroom)
    path = os.path.join(agent, "agent.json")
    try:
        prior = json.load(open(path))["prior"]
        field_of = {d["name"]: d["field"] for d in json.load(open(os.path.join(collection, "collect.json")))["space"]}
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
        sys.exit(f"{path} or {collection}/collect.json: {e!r}: needs a version-6 agent and its collection")
    fields = list(dict.fromkeys(field_of.values()))
    evidence = prior["evidence"]
    print(f"# The per-domain prior of {agent} ({prior['runs']} runs of {collection})\n")
    print("Evidence in [-1, 1] that a domain raises each field's feedback (mean last-stage credit over its")
    print("standard error, clipped to ±3, /3). * = one of the headroom reading's helpful domains (the")
    print("oracle's). A domain's evidence for its own field is what `decision.tilt` reads.\n")
    print("| domain | helpful | field | own-field evidence | " + " | ".join(fields) + " |")
    print("|---|---|---|---|" + "---|" * len(fields))
    rows = sorted(
        (d for d in field_of if d in evidence),
        key=lambda d: (fields.index(field_of[d]), -evidence[d].get(field_of[d], 0.0), d))
    for d in rows:
        e = evidence[d]
        cols = " | ".join(f"{e[f]:+.2f}" if f in e else "" for f in fields)
        print(f"| {d} | {'*' if d in helpful else ''} | {field_of[d]} | {e.get(field_of[d], 0.0):+.2f} | {cols} |")


if __name__ == "__main__":
    main()
