#!/usr/bin/env python3
"""Writes a probe corpus: data/v2-nobb with its math benchmark items (the math part of
feedback-rest.jsonl) replaced by fresh problems of the math feedback's own generators.

The math feedback is a held-out split of four training domains (math_arithmetic, math_numbers,
math_comparison, math_measurement: the training modules of those families); the math
benchmarks read nine held-out modules instead. This probe asks whether benchmarks on the
feedback's own generators follow the feedback. The fresh problems are generated with another
seed (run.sh); any question that the corpus's mathematics_dataset files ask (training and
held-out split alike) or the feedback asks is dropped, repeats are dropped, and the rest is
restyled as the feedback is (`Problem: …\\nAnswer:`).

usage: make_items.py FRESH_DIR RAW_DIR CORPUS OUT_CORPUS
"""
import json
import os
import random
import sys

fresh_dir, raw_dir, corpus, out = sys.argv[1:5]


def pairs(path):
    lines = open(path).read().splitlines()
    return list(zip(lines[0::2], lines[1::2]))


asked = set()
for name in os.listdir(raw_dir):
    if name.endswith(".txt") and "__" in name:
        asked.update(q.strip() for q, _ in pairs(os.path.join(raw_dir, name)))
feedback = [json.loads(l) for l in open(os.path.join(corpus, "feedback.jsonl"))]
for it in feedback:
    if it["field"] == "math":
        asked.add(it["prompt"].removeprefix("Problem: ").removesuffix("\nAnswer:").strip())

items, seen, dropped = [], set(), 0
for name in sorted(os.listdir(fresh_dir)):
    if not name.endswith(".txt"):
        continue
    for q, a in pairs(os.path.join(fresh_dir, name)):
        q = q.strip()
        if q in asked or q in seen:
            dropped += 1
            continue
        seen.add(q)
        items.append({"field": "math", "set": "fresh:" + name[:-4],
                      "prompt": f"Problem: {q}\nAnswer:", "answer": f" {a.strip()}"})
rng = random.Random(20251205)
rng.shuffle(items)
items = items[:2048]

os.makedirs(out, exist_ok=True)
for name in os.listdir(corpus):
    dst = os.path.join(out, name)
    if name != "feedback-rest.jsonl" and not os.path.lexists(dst):
        os.symlink(os.path.abspath(os.path.join(corpus, name)), dst)
rest = [l for l in open(os.path.join(corpus, "feedback-rest.jsonl")) if json.loads(l)["field"] != "math"]
with open(os.path.join(out, "feedback-rest.jsonl"), "w") as f:
    f.writelines(rest)
    f.writelines(json.dumps(it) + "\n" for it in items)
print(f"{len(items)} fresh math items ({dropped} dropped as asked or repeated) -> {out}")
