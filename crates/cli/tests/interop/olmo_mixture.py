"""OLMo-core (ai2-olmo-core) builds every stage of mixagent's `olmo` export: each stage's
`_CLASS_` dict becomes a `SourceMixtureDatasetConfig` through OLMo-core's own `Config.from_dict`,
goes into `NumpyFSLDatasetConfig.from_src_mix` as the export's `how` says, and the dataset it
builds over token files (one per domain, every token its domain's id) holds each domain in the
stage's share. Run by crates/cli/tests/interop.rs.

usage: python olmo_mixture.py OLMO.json
"""

import importlib.metadata
import json
import logging
import os
import sys
import tempfile

import numpy
from olmo_core.config import Config
from olmo_core.data.numpy_dataset import NumpyFSLDatasetConfig
from olmo_core.data.tokenizer import TokenizerConfig

logging.disable(logging.WARNING)
doc = json.load(open(sys.argv[1]))
seq_len = doc["sequence_length"]
root = tempfile.mkdtemp()
files = {}


def local(path):
    """The export names the trainer's paths (`/data/{domain}`); here each is a token file of
    uint16 ids (the dtype OLMo-core picks for a vocabulary under 65,536): documents of 63 tokens
    whose id names the domain, each closed by the end-of-text id 0, enough for any stage. The
    file is named by that id."""
    if path not in files:
        domain = 10 + len(files)
        files[path] = os.path.join(root, f"{domain}.npy")
        docs = numpy.full((1024, 64), domain, dtype=numpy.uint16)
        docs[:, -1] = 0
        docs.tofile(files[path])
    return files[path]


def domain_of(file):
    """The token id of a file written by `local`."""
    return int(os.path.basename(file).removesuffix(".npy"))


worst = 0.0
for k, stage in enumerate(doc["stages"]):
    for source in stage["source_list"]["sources"]:
        source["paths"] = [local(p) for p in source["paths"]]
    # OLMo-core's own loader resolves the `_CLASS_` names.
    mix = Config.from_dict(stage)
    assert type(mix).__name__ == "SourceMixtureDatasetConfig", type(mix)
    dataset = NumpyFSLDatasetConfig.from_src_mix(
        mix,
        sequence_length=seq_len,
        tokenizer=TokenizerConfig(vocab_size=50_000, eos_token_id=0, pad_token_id=1),
        work_dir=os.path.join(root, f"work-{k}"),
    ).build()
    dataset.prepare()
    # Each instance's domain: its most frequent id other than end-of-text.
    drawn = numpy.zeros(64)
    for i in range(len(dataset)):
        counts = numpy.bincount(numpy.asarray(dataset[i]["input_ids"]), minlength=64)
        counts[0] = 0
        drawn[counts.argmax()] += 1
    assert drawn.sum() * seq_len >= mix.requested_tokens, (k, drawn.sum(), mix.requested_tokens)
    for source in mix.source_list.sources:
        share = drawn[domain_of(source.paths[0])] / drawn.sum()
        # OLMo-core rounds each source to whole instances of `sequence_length` tokens.
        bound = 1.0 / drawn.sum()
        assert abs(share - source.target_ratio) <= bound + 1e-12, (k, source.source_name, share)
        worst = max(worst, abs(share - source.target_ratio))

print(
    json.dumps(
        {
            "olmo_core": importlib.metadata.version("ai2-olmo-core"),
            "stages": len(doc["stages"]),
            "max_share_error": round(float(worst), 4),
        }
    )
)
