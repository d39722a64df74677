"""megatron-core, the library under Megatron-LM, runs mixagent's Megatron export the way its
recipe says: one launch per stage, each resuming from the previous stage's checkpoint. Run by
crates/cli/tests/interop.rs.

Per stage (launch):
- `get_blend_from_list` parses the stage's `--data-path` and `per_split_data_args`; the
  `BlendedMegatronDatasetBuilder` builds a `BlendedDataset` of `--train-samples` over small
  indexed datasets written by megatron's own `IndexedDatasetBuilder`; the samples a resumed launch
  trains on (from the previous stage's end to this one's) come from each domain in the stage's
  share.
- `OptimizerParamScheduler` built from the launch's arguments as Megatron-LM's training loop
  builds it (`get_optimizer_param_scheduler`, sample-based: lr_decay_steps = --lr-decay-samples,
  wd_incr_steps = --train-samples, steps counted in samples) loads the previous launch's state and
  continues the learning rate of one uninterrupted run exactly. Without
  `--override-opt_param-scheduler` the second launch fails (the breakage this guards against).

usage: python megatron_blend.py MEGATRON.json
"""

import json
import os
import sys
import tempfile
import types
import warnings

warnings.filterwarnings("ignore")
import megatron.core
import numpy
import torch
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
from megatron.core.datasets.utils import get_blend_from_list
from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler


def args_of(stage):
    """The launch's scheduler arguments, from the export's `args` string."""
    words = stage["args"].split()
    out = {"override": "--override-opt_param-scheduler" in words}
    for flag in ("--train-samples", "--lr-decay-samples"):
        out[flag] = int(words[words.index(flag) + 1])
    # The user's own warm-up, the same in every launch as the recipe says.
    out["--lr-warmup-samples"] = out["--lr-decay-samples"] // 8
    return out


def scheduler(launch, override):
    """Megatron-LM's get_optimizer_param_scheduler for sample-based training."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    return OptimizerParamScheduler(
        opt,
        init_lr=0.0,
        max_lr=3e-4,
        min_lr=3e-5,
        lr_warmup_steps=launch["--lr-warmup-samples"],
        lr_decay_steps=launch["--lr-decay-samples"],
        lr_decay_style="cosine",
        start_wd=0.1,
        end_wd=0.1,
        wd_incr_steps=launch["--train-samples"],
        wd_incr_style="constant",
        use_checkpoint_opt_param_scheduler=False,
        override_opt_param_scheduler=override,
    )


def write_domains(root, prefixes, seq_len):
    """A small indexed dataset per domain prefix, written by megatron's own builder; each token
    id names its domain, so a sample's first token says where it came from."""
    for i, prefix in enumerate(prefixes):
        path = os.path.join(root, prefix.lstrip("/"))
        if os.path.exists(path + ".idx"):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        builder = IndexedDatasetBuilder(path + ".bin", dtype=numpy.int32)
        for _ in range(64):
            builder.add_document(torch.full((seq_len + 1,), 10 + i, dtype=torch.int32), [seq_len + 1])
        builder.finalize(path + ".idx")


doc = json.load(open(sys.argv[1]))
seq_len, batch = doc["seq_length"], doc["global_batch_size"]
stages = doc["stages"]
root = tempfile.mkdtemp()
# Megatron runs under torch.distributed: here one process in a gloo group.
torch.distributed.init_process_group(
    "gloo", init_method=f"file://{root}/process-group", rank=0, world_size=1
)
# The samples are token ids already: all the dataset asks of a tokenizer is eod, pad and an id.
tokenizer = types.SimpleNamespace(
    vocab_size=64, eod=0, pad=1, unique_identifiers={"class": "mixagent-test-ids"}
)
worst, consumed = 0.0, 0
launches = [args_of(s) for s in stages]

# Data: each launch's blended dataset, read from the previous stage's end.
for k, (stage, launch) in enumerate(zip(stages, launches)):
    blend = get_blend_from_list(stage["data_path"].split())
    assert blend == get_blend_from_list(stage["per_split_data_args"]["train"]), k
    prefixes, weights = blend
    write_domains(root, prefixes, seq_len)
    local = [os.path.join(root, p.lstrip("/")) for p in prefixes]
    config = GPTDatasetConfig(
        random_seed=doc["seed"],
        sequence_length=seq_len,
        blend=(local, weights),
        split="100,0,0",
        tokenizer=tokenizer,
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        path_to_cache=os.path.join(root, "cache"),
    )
    train, _, _ = BlendedMegatronDatasetBuilder(
        GPTDataset, [launch["--train-samples"], 0, 0], lambda: True, config
    ).build()
    assert len(train) >= launch["--train-samples"], (k, len(train))
    window = range(consumed, launch["--train-samples"])
    assert len(window) % batch == 0, f"stage {k} ends mid-step"
    drawn = numpy.bincount(
        [int(train[i]["tokens"][0]) - 10 for i in window], minlength=len(prefixes)
    )
    share = drawn / len(window)
    expected = numpy.array(weights) / sum(weights)
    # Megatron assigns samples greedily so every prefix of the blend tracks the weights to
    # within one sample per domain; a window of it is off by at most two samples per domain.
    bound = 2.0 / len(window)
    assert numpy.all(numpy.abs(share - expected) <= bound + 1e-12), (k, share, expected)
    worst = max(worst, float(numpy.max(numpy.abs(share - expected))))
    consumed = launch["--train-samples"]

# Learning rate: launches resumed from each other against one uninterrupted run.
whole = scheduler(launches[-1], override=False)
reference = []
for _ in range(consumed // batch):
    whole.step(batch)
    reference.append(whole.get_lr(whole.optimizer.param_groups[0]))
resumed, state, step = [], None, 0
for k, launch in enumerate(launches):
    assert launch["override"], f"stage {k}: the recipe must pass --override-opt_param-scheduler"
    s = scheduler(launch, override=True)
    if state is not None:
        s.load_state_dict(state)
    while step * batch < launch["--train-samples"]:
        s.step(batch)
        resumed.append(s.get_lr(s.optimizer.param_groups[0]))
        step += 1
    state = s.state_dict()
assert resumed == reference, "the resumed launches' learning rates differ from one run's"

# The breakage the recipe avoids: the second launch without the override flag.
first = scheduler(launches[0], override=False)
first.step(batch)
second = scheduler(launches[1], override=False)
try:
    second.load_state_dict(first.state_dict())
    raise SystemExit("expected megatron's scheduler check to refuse a changed --train-samples")
except AssertionError:
    pass

print(
    json.dumps(
        {
            "megatron_core": megatron.core.__version__,
            "stages": len(stages),
            "steps": len(resumed),
            "max_share_error": round(worst, 4),
        }
    )
)
