#!/usr/bin/env python3
"""Variant corpora whose math feedback is a held-out split of training domains (issue 18, G1).

A prepared corpus keeps `heldout_fraction` of every domain's documents out of training (they give
the observation's held-out loss). For the mathematics_dataset domains those documents are
`Question: … Answer: …` pairs of the domain's own generators. Each variant here takes its math
feedback from those held-out pairs of some domains, restyled `Problem: … Answer:` as the corpus's
feedback is, scored as pairing, shuffled with a fixed seed; everything else (shards, tokenizer,
the other fields' feedback) is the corpus's own, so models trained on the corpus are scored on a
variant without training again (experiments/feedback-variants/score.sh, read.py).

Variants: `split-grade-school` (256 pairs each of math_arithmetic, math_numbers and
math_comparison and all 120 of math_measurement: the candidate named before any score was read,
README.md) and `split-DOMAIN` for every uncorrupted math domain with held-out pairs (256 each),
read to see which domain helps which split.

    python3 experiments/feedback-variants/make_split.py data/v2-pairing runs/feedback-split-variants
"""
import json
import os
import random
import re
import sys

from make import write_variant

SEED = 20250721
PER_DOMAIN = 256
CANDIDATE = ["math_arithmetic", "math_numbers", "math_comparison", "math_measurement"]
CORRUPTED = {"math_mispaired", "math_misaligned"}
PAIR = re.compile(r"Question: (.*?)\nAnswer: (.*?)(?:\n\n|\Z)", re.S)


def held_out_pairs(corpus, domain):
    """The held-out documents' question/answer pairs of a domain, in file order."""
    pairs = []
    with open(f"{corpus}/{domain}/heldout.jsonl") as f:
        for line in f:
            pairs += [(q.strip(), a.strip()) for q, a in PAIR.findall(json.loads(line)["text"])]
    return [(q, a) for q, a in pairs if q and a]


def items(corpus, domain, n):
    pairs = held_out_pairs(corpus, domain)
    random.Random(f"{SEED}:{domain}").shuffle(pairs)
    return [{"field": "math", "set": f"split:{domain}", "prompt": f"Problem: {q}\nAnswer:", "answer": f" {a}"}
            for q, a in pairs[:n]]


def main(corpus, out):
    corpus = os.path.abspath(corpus)
    manifest = json.load(open(f"{corpus}/manifest.json"))  # which domains are math
    math_domains = sorted(d["name"] for d in manifest["domains"] if d["field"] == "math")
    variants = {"split-grade-school": [i for d in CANDIDATE for i in items(corpus, d, PER_DOMAIN)]}
    for d in math_domains:
        if d in CORRUPTED or not os.path.exists(f"{corpus}/{d}/heldout.jsonl"):
            continue
        split = items(corpus, d, PER_DOMAIN)
        if split:
            variants[f"split-{d}"] = split
    for name, math in sorted(variants.items()):
        random.Random(f"{SEED}:{name}").shuffle(math)
        write_variant(corpus, out, name, math, "pairing")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
