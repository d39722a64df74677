"""Hugging Face `datasets.interleave_datasets` runs mixagent's `hf` export as its "how" says:
per stage, the stage's datasets interleaved with the exported probabilities (which must sum to
1) and seed, drawing each domain in its share (within sampling noise). Run by
crates/cli/tests/interop.rs.

usage: python hf_interleave.py SCHEDULE.json
"""

import collections
import json
import sys

import datasets

with open(sys.argv[1]) as f:
    doc = json.load(f)
draws, worst = 4000, 0.0
for stage in doc["stages"]:
    parts = [datasets.Dataset.from_dict({"domain": [name] * draws}) for name in stage["datasets"]]
    mixed = datasets.interleave_datasets(
        parts, probabilities=stage["probabilities"], seed=doc["seed"] + stage["stage"],
        stopping_strategy="all_exhausted",
    )
    counts = collections.Counter(mixed.select(range(draws))["domain"])
    for name, p in zip(stage["datasets"], stage["probabilities"]):
        share = counts[name] / draws
        # 5 standard deviations of a binomial share at 4000 draws is at most 0.04.
        assert abs(share - p) < 0.04, f"stage {stage['stage']}: `{name}` drawn {share:.3f}, exported {p}"
        worst = max(worst, abs(share - p))
print(json.dumps({"datasets": datasets.__version__, "stages": len(doc["stages"]), "max_share_error": worst}))
