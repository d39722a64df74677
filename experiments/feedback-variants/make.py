#!/usr/bin/env python3
"""Variant corpora of a prepared corpus that differ only in the math feedback set (issue 18, G1).

Each variant links the corpus's shards and tokenizer and writes its own feedback.jsonl and
manifest.json: the math feedback narrowed to one family of mathematics_dataset modules (all of
that family's items of feedback.jsonl and feedback-rest.jsonl, told apart by their question
templates), to arithmetic and numbers together, or the nine modules scored by likelihood. The
other fields' feedback is the corpus's own. A checkpoint trained on the corpus is scored on a
variant with `mixagent eval RUN --corpus VARIANT --fields math` (the tokenizer is the same), so
models already trained are read on another feedback set without training again.

    python3 experiments/feedback-variants/make.py data/v2-pairing runs/feedback-variants
"""
import collections
import json
import os
import re
import sys


def family(prompt):
    """The mathematics_dataset family of a held-out feedback question (the nine modules of
    configs/default.toml's math feedback), from its template."""
    if "digit of" in prompt or "Round " in prompt or "rounded" in prompt:
        return "numbers"
    if "Which is" in prompt or re.search(r"\b(Is|Are)\b", prompt) or "bigger" in prompt or "smaller" in prompt:
        return "comparison"
    if "minutes" in prompt or " AM" in prompt or " PM" in prompt or "hours" in prompt:
        return "measurement"
    if "Solve" in prompt:
        return "algebra"
    if re.match(r"Problem: Let \w+\(\w+\) =", prompt):
        return "polynomials"
    return "arithmetic"


def main(corpus, out):
    corpus = os.path.abspath(corpus)
    first = [json.loads(l) for l in open(f"{corpus}/feedback.jsonl")]
    rest = [json.loads(l) for l in open(f"{corpus}/feedback-rest.jsonl")]
    math = [r for r in first + rest if r["field"] == "math"]
    if not math:
        sys.exit(f"{corpus}: no math feedback items (feedback.jsonl, feedback-rest.jsonl)")
    by = collections.defaultdict(list)
    for r in math:
        by[family(r["prompt"])].append(r)
    variants = {f"family-{f}": (items, "pairing") for f, items in by.items()}
    variants["family-arithmetic+numbers"] = (by["arithmetic"] + by["numbers"], "pairing")
    variants["likelihood"] = ([r for r in first if r["field"] == "math"], "likelihood")
    for name, (items, scoring) in sorted(variants.items()):
        write_variant(corpus, out, name, items, scoring)


def write_variant(corpus, out, name, math, scoring):
    """Writes the variant `out/name` of the prepared corpus at `corpus` (absolute): its files
    linked, the other fields' feedback kept, `math` as the math feedback scored by `scoring`,
    no rest, the manifest's counts and scoring to match."""
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(corpus):
        if f not in ("feedback.jsonl", "feedback-rest.jsonl", "manifest.json") and not os.path.lexists(f"{d}/{f}"):
            os.symlink(f"{corpus}/{f}", f"{d}/{f}")
    others = [r for r in map(json.loads, open(f"{corpus}/feedback.jsonl")) if r["field"] != "math"]
    with open(f"{d}/feedback.jsonl.tmp", "w") as o:
        for r in others + math:
            o.write(json.dumps(r) + "\n")
    os.replace(f"{d}/feedback.jsonl.tmp", f"{d}/feedback.jsonl")
    open(f"{d}/feedback-rest.jsonl", "w").close()
    manifest = json.load(open(f"{corpus}/manifest.json"))
    m = dict(manifest, feedback=dict(manifest["feedback"], math=len(math)), feedback_rest={})
    m["feedback_scoring"] = {"math": scoring} if scoring != "likelihood" else {}
    with open(f"{d}/manifest.json.tmp", "w") as o:
        json.dump(m, o, indent=1)
    os.replace(f"{d}/manifest.json.tmp", f"{d}/manifest.json")
    print(f"{name}: {len(math)} math items, {scoring}")

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
