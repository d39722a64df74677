"""Levanter (marin-levanter) reads mixagent's Levanter export with its own config class and
mixes with it: `LmDataConfig` parses the `data` block (draccus), and a `MixtureDataset` built
from the parsed schedule, as Levanter's trainer builds it, draws each stage's domains in the
exported proportions (to the per-block rounding the export's header states). Run by
crates/cli/tests/interop.rs.

usage: python levanter_mixture.py LEVANTER.yaml
"""

import asyncio
import collections
import json
import re
import sys
import warnings

import draccus
import yaml
from levanter.data.dataset import ListAsyncDataset
from levanter.data.mixture import MixtureDataset
from levanter.data.text import LmDataConfig
from levanter.data.text.datasets import rescale_mixture_schedule_for_batch_schedule
from levanter.schedule import BatchSchedule

path = sys.argv[1]
with open(path) as f:
    text = f.read()
doc = yaml.safe_load(text)
config = draccus.decode(LmDataConfig, doc["data"])
bound = float(re.search(r"at most ([0-9.]+) off", text).group(1))
batch = doc["trainer"]["train_batch_size"]
steps = doc["trainer"]["num_train_steps"]
stages = rescale_mixture_schedule_for_batch_schedule(config.train_weights, BatchSchedule(batch))
datasets = {name: ListAsyncDataset([name] * (steps * batch)) for name in config.components}
with warnings.catch_warnings():
    warnings.simplefilter("error")  # Levanter warns when a weight gets no sequence in a block
    mixture = MixtureDataset(datasets, stages, block_size=config.mixture_block_size, key=0)
drawn = asyncio.run(mixture.get_batch(list(range(steps * batch))))
ends = [start for start, _ in stages[1:]] + [steps * batch]
worst = 0.0
for (start, weights), end in zip(stages, ends):
    counts = collections.Counter(drawn[start:end])
    for name, w in weights.items():
        share = counts[name] / (end - start)
        assert w == 0 or counts[name] > 0, f"sequences {start}-{end}: `{name}` (weight {w}) drawn 0 times"
        assert abs(share - w) <= bound + 1e-9, f"sequences {start}-{end}: `{name}` {share} vs {w}"
        worst = max(worst, abs(share - w))
print(json.dumps({"stages": len(stages), "sequences": len(drawn), "max_share_error": worst, "bound": bound}))
