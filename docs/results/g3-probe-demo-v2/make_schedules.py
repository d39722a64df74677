#!/usr/bin/env python3
"""Writes the saturation probe's schedules (compare-saturation.toml) into schedules/.

The three helpful domains of each field (the third demo reading's relevance phase) are capped at
16,384 training tokens each (`train.token_caps`), so that the helpful-only mixture repeats them
five times over a demo run (10 stages x 49,152 tokens). Two mixtures spend the same tokens on the
same domains and differ only in when: `spread` (static: each capped domain at one epoch over the
run, the rest on the field's other relevant domains) and `anneal` (the other relevant domains for
stages 1-8, the helpful ones for stages 9-10, the WSD decay phase). `front` is anneal reversed.
"""
import json
import pathlib

HELPFUL = {
    "general": ["brown_fiction", "brown_popular", "brown_press"],
    "math": ["math_mispaired", "math_misaligned", "math_numbers"],
}
# Strongly relevant (>= 3 sigma above the field's mean) but not helpful on their own.
RELEVANT = {
    "general": ["brown_learned", "encyclopedic", "dictionary", "shakespeare", "wordnet", "foldoc"],
    "math": ["math_comparison", "math_arithmetic", "math_competition", "math_unit_conversion",
             "math_algebra", "math_polynomials"],
}
STAGES, STAGE_TOKENS, CAP = 10, 49152, 16384


def balanced(groups):
    """Each field half the weight, spread evenly over its listed domains."""
    w = {}
    for domains in groups.values():
        for d in domains:
            w[d] = 0.5 / len(domains)
    return w


def spread():
    """Each helpful domain gets CAP tokens over the run (one epoch); the rest is RELEVANT."""
    share = CAP / (STAGES * STAGE_TOKENS)  # of the whole budget, per helpful domain
    w = {}
    for f in HELPFUL:
        for d in HELPFUL[f]:
            w[d] = share
        rest = 0.5 - share * len(HELPFUL[f])
        for d in RELEVANT[f]:
            w[d] = rest / len(RELEVANT[f])
    return w


def write(name, stages):
    out = pathlib.Path(__file__).parent / "schedules" / f"{name}.json"
    out.write_text(json.dumps({"name": name, "stages": stages}, indent=2) + "\n")


helpful, relevant = balanced(HELPFUL), balanced(RELEVANT)
write("helpful-only", [helpful])
write("relevant-only", [relevant])
write("spread", [spread()])
write("anneal", [relevant] * (STAGES - 2) + [helpful] * 2)
write("front", [helpful] * 2 + [relevant] * (STAGES - 2))
