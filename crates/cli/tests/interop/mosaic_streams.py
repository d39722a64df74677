"""MosaicML Streaming (mosaicml-streaming) reads each stage of mixagent's `mosaic` export the way
llm-foundry's text loader does: every entry of `train_loader.dataset.streams` becomes a
`streaming.Stream(**entry)`, and a `StreamingDataset` over them with the stage's `epoch_size`,
`shuffle` and `shuffle_seed` yields each domain in its `proportion`. The shards are written by
streaming's own `MDSWriter`. Run by crates/cli/tests/interop.rs.

usage: python mosaic_streams.py MOSAIC.yaml
"""

import importlib.metadata
import json
import os
import sys
import tempfile

import yaml
from streaming import MDSWriter, Stream, StreamingDataset
from streaming.base.util import clean_stale_shared_memory

root = tempfile.mkdtemp()
written = {}


def shards(path):
    """The export names the trainer's folders (`/data/{domain}`); here each is an MDS dataset of
    512 samples that name their domain."""
    if path not in written:
        out = os.path.join(root, f"domain-{len(written)}")
        with MDSWriter(out=out, columns={"domain": "str", "text": "str"}) as writer:
            for i in range(512):
                writer.write({"domain": path, "text": f"sample {i} of {path}"})
        written[path] = out
    return written[path]


worst = 0.0
with open(sys.argv[1]) as f:
    stages = list(yaml.safe_load_all(f))
for k, doc in enumerate(stages):
    cfg = doc["train_loader"]["dataset"]
    streams, expected = [], {}
    for name, entry in cfg["streams"].items():
        expected[entry["local"]] = entry["proportion"]
        streams.append(Stream(**{**entry, "local": shards(entry["local"])}))
    clean_stale_shared_memory()
    dataset = StreamingDataset(
        streams=streams,
        epoch_size=cfg["epoch_size"],
        shuffle=cfg["shuffle"],
        shuffle_seed=cfg["shuffle_seed"],
        batch_size=doc["global_train_batch_size"],
    )
    drawn = {}
    for sample in dataset:
        drawn[sample["domain"]] = drawn.get(sample["domain"], 0) + 1
    total = sum(drawn.values())
    assert total == cfg["epoch_size"], (k, total, cfg["epoch_size"])
    assert set(drawn) <= set(expected), (k, drawn)
    total_weight = sum(expected.values())
    for path, weight in expected.items():
        share = drawn.get(path, 0) / total
        # Streaming gives each stream a whole number of samples of the epoch.
        bound = 1.0 / total
        assert abs(share - weight / total_weight) <= bound + 1e-12, (k, path, share, weight)
        worst = max(worst, abs(share - weight / total_weight))
    del dataset

print(
    json.dumps(
        {
            "mosaicml_streaming": importlib.metadata.version("mosaicml-streaming"),
            "stages": len(stages),
            "max_share_error": round(worst, 4),
        }
    )
)
