"""Steer a Hugging Face `Trainer`'s data mixture with mixagent, stage by stage.

The training set is a `mixagent.hf.MixtureDataset` over one source per domain (a
`datasets.Dataset`, a list, or a sharded `datasets.IterableDataset`); sample i is drawn under
its stage's weights, which `MixagentCallback` publishes in a folder that dataloader workers
read, so `dataloader_num_workers > 0` works. The callback measures the model's feedback per
field (the mean per-token log-probability of the gold answers of a small question set per
field) one optimizer step before each stage ends (the data loader fetches a batch ahead), tells
the controller, and publishes the next stage's weights: every step of a stage trains on that
stage's mixture exactly. Killed? Run the same command again: the Trainer resumes from its last
checkpoint and the controller from its state (tested: crates/py/tests_hf).

    pip install mixagent transformers accelerate datasets torch
    python hf_trainer_callback.py --agent runs/agent-demo --model gpt2 --data data.json

`data.json`: {"domains": {"web": {"field": "general", "texts": [...]}, ...},
              "feedback": {"general": [[prompt, answer], ...], "math": [[prompt, answer], ...]}}
(the first domain's field is the source field).
"""

import argparse
import json
import os

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

import mixagent
from mixagent.hf import MixagentCallback, MixtureDataset, StageWeights


@torch.no_grad()
def gold_logprob(model, tokenizer, items):
    """Mean per-token log-probability of each answer given its prompt (higher is better)."""
    model.eval()
    total, count = 0.0, 0
    for prompt, answer in items:
        p = tokenizer(prompt)["input_ids"]
        a = tokenizer(answer, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + a], device=model.device)
        logp = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
        targets = ids[0, len(p):]
        total += logp[len(p) - 1 :].gather(1, targets[:, None]).sum().item()
        count += len(a)
    model.train()
    return total / max(count, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", required=True, help="agent artifact folder (mixagent train-agent)")
    ap.add_argument("--model", default="gpt2")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="out")
    ap.add_argument("--stages", type=int, default=10)
    ap.add_argument("--steps-per-stage", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    data = json.load(open(args.data))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(args.model)
    domains = [(name, d["field"]) for name, d in data["domains"].items()]
    tokens = {name: sum(len(t) for t in d["texts"]) for name, d in data["domains"].items()}
    state = os.path.join(args.out, "mixagent-state.json")
    if os.path.exists(state):
        controller = mixagent.Controller.from_state(state)
    else:
        os.makedirs(args.out, exist_ok=True)
        controller = mixagent.Controller.load(args.agent, domains, total_stages=args.stages, tokens=tokens)
    weights = StageWeights(os.path.join(args.out, "mixagent-weights"))

    def transform(text, domain):
        return tokenizer(text, truncation=True, max_length=args.max_length)

    dataset = MixtureDataset(
        {name: d["texts"] for name, d in data["domains"].items()}, weights,
        samples_per_stage=args.steps_per_stage * args.batch_size, batch_size=args.batch_size,
        stages=args.stages, transform=transform,
    )
    callback = MixagentCallback(
        controller, weights,
        lambda m: {field: gold_logprob(m, tokenizer, items) for field, items in data["feedback"].items()},
        args.steps_per_stage, args.batch_size * args.max_length, state,
    )

    def collate(batch):
        out = tokenizer.pad({"input_ids": [b["input_ids"] for b in batch]}, return_tensors="pt")
        out["labels"] = out["input_ids"].masked_fill(out["attention_mask"] == 0, -100)
        return out

    training = TrainingArguments(
        output_dir=os.path.join(args.out, "trainer"), per_device_train_batch_size=args.batch_size,
        max_steps=args.stages * args.steps_per_stage, dataloader_num_workers=args.workers,
        logging_steps=10, save_steps=args.steps_per_stage, report_to=[],
    )
    trainer = Trainer(model=model, args=training, train_dataset=dataset, data_collator=collate,
                      callbacks=[callback])
    # The controller's decisions so far stay published; the Trainer goes on from its last checkpoint.
    last = get_last_checkpoint(training.output_dir) if os.path.isdir(training.output_dir) else None
    trainer.train(resume_from_checkpoint=last)


if __name__ == "__main__":
    main()
