"""PyYAML, the YAML 1.1 reader under nanotron's config loader and Mosaic's YAML configs, reads
every weight of mixagent's nanotron and Mosaic exports as a number, and each stage's weights sum to 1. Run by
crates/cli/tests/interop.rs.

usage: python yaml_exports.py NANOTRON.yaml MOSAIC.yaml
"""

import json
import math
import sys

import yaml


def no_numeric_strings(node, where):
    """A float that PyYAML read as a string (`4e-6`) is the bug this guards against."""
    if isinstance(node, dict):
        for k, v in node.items():
            no_numeric_strings(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            no_numeric_strings(v, f"{where}[{i}]")
    elif isinstance(node, str):
        try:
            float(node)
        except ValueError:
            return
        raise AssertionError(f"{where}: the number {node!r} was read as a string")


def sums_to_one(weights, where):
    assert all(isinstance(w, float) for w in weights), f"{where}: {weights}"
    assert math.isclose(sum(weights), 1.0, abs_tol=1e-9), f"{where}: sum {sum(weights)}"


nanotron, mosaic = sys.argv[1:3]
checked = 0
with open(nanotron) as f:
    doc = yaml.safe_load(f)
no_numeric_strings(doc, "nanotron")
for s in doc["data_stages"]:
    sums_to_one(s["data"]["dataset"]["dataset_weights"], f"nanotron {s['name']}")
    checked += 1
with open(mosaic) as f:
    docs = list(yaml.safe_load_all(f))
for i, doc in enumerate(docs):
    no_numeric_strings(doc, f"mosaic[{i}]")
    streams = doc["train_loader"]["dataset"]["streams"]
    sums_to_one([s["proportion"] for s in streams.values()], f"mosaic stage {i}")
    checked += 1
print(json.dumps({"pyyaml": yaml.__version__, "stages_checked": checked}))
