"""Steer a Hugging Face `Trainer`'s data mixture with mixagent, stage by stage.

The training set is a `MixtureDataset` that draws each example from a domain chosen by the
current weights. `MixagentCallback` splits training into stages of `steps_per_stage` optimizer
steps. Before the first stage and after each one, it measures the model's feedback per field
(the mean per-token log-probability of the gold answers of a small question set per field),
reports it to the controller, and sets the next stage's weights on the dataset. The
controller's state is saved after every stage, so a resumed job continues the same decisions
(`mixagent.Controller.from_state(path)`).

    pip install mixagent transformers torch
    python hf_trainer_callback.py --agent runs/agent-demo --model gpt2 --data data.json

`data.json`: {"domains": {"web": {"field": "general", "texts": [...]}, ...},
              "feedback": {"general": [[prompt, answer], ...], "math": [[prompt, answer], ...]}}
(the first domain's field is the source field). Use `num_workers=0` for the data loader: the
weights live in the main process.
"""

import argparse
import json
import random

import torch
from torch.utils.data import IterableDataset
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

import mixagent


class MixtureDataset(IterableDataset):
    """Endless examples, each from a domain drawn by the current weights."""

    def __init__(self, domains, tokenizer, max_length=256, seed=0):
        self.texts = {name: d["texts"] for name, d in domains.items()}
        self.tokenizer, self.max_length = tokenizer, max_length
        self.weights = {name: 1.0 / len(domains) for name in domains}
        self.rng = random.Random(seed)

    def set_weights(self, weights):
        self.weights = dict(weights)

    def __iter__(self):
        names = list(self.texts)
        while True:
            name = self.rng.choices(names, weights=[self.weights[n] for n in names])[0]
            text = self.rng.choice(self.texts[name])
            ids = self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"]
            yield {"input_ids": ids, "labels": list(ids)}


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


class MixagentCallback(TrainerCallback):
    """Reports feedback to the controller at stage ends and applies its next mixture."""

    def __init__(self, controller, dataset, tokenizer, suites, steps_per_stage, tokens_per_step, state_path):
        self.controller, self.dataset, self.tokenizer = controller, dataset, tokenizer
        self.suites, self.steps_per_stage = suites, steps_per_stage
        self.tokens_per_step, self.state_path = tokens_per_step, state_path

    def feedback(self, model):
        return {field: gold_logprob(model, self.tokenizer, items) for field, items in self.suites.items()}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not self.controller.has_base:
            self.controller.observe(self.feedback(model))
        self.dataset.set_weights(self.controller.next_mixture())

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.steps_per_stage != 0:
            return
        self.controller.observe(self.feedback(model), tokens=self.steps_per_stage * self.tokens_per_step)
        self.controller.save(self.state_path)
        if self.controller.stage < self.controller.total_stages:
            weights = self.controller.next_mixture()
            self.dataset.set_weights(weights)
            print(f"stage {self.controller.stage}: " + ", ".join(f"{d} {w:.3f}" for d, w in weights.items()))
        else:
            control.should_training_stop = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", required=True, help="agent artifact folder (mixagent train-agent)")
    ap.add_argument("--model", default="gpt2")
    ap.add_argument("--data", required=True)
    ap.add_argument("--stages", type=int, default=10)
    ap.add_argument("--steps-per-stage", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--state", default="mixagent-state.json")
    args = ap.parse_args()

    data = json.load(open(args.data))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(args.model)
    domains = [(name, d["field"]) for name, d in data["domains"].items()]
    tokens = {name: sum(len(t) for t in d["texts"]) for name, d in data["domains"].items()}
    try:
        controller = mixagent.Controller.from_state(args.state)
    except OSError:
        controller = mixagent.Controller.load(args.agent, domains, total_stages=args.stages, tokens=tokens)
    dataset = MixtureDataset(data["domains"], tokenizer, args.max_length)
    callback = MixagentCallback(
        controller, dataset, tokenizer, data["feedback"], args.steps_per_stage,
        args.batch_size * args.max_length, args.state,
    )

    def collate(batch):
        return tokenizer.pad({"input_ids": [b["input_ids"] for b in batch]}, return_tensors="pt") | {
            "labels": torch.nn.utils.rnn.pad_sequence(
                [torch.tensor(b["labels"]) for b in batch], batch_first=True, padding_value=-100
            )
        }

    training = TrainingArguments(
        output_dir="out", per_device_train_batch_size=args.batch_size,
        max_steps=args.stages * args.steps_per_stage, dataloader_num_workers=0,
        logging_steps=10, save_steps=args.steps_per_stage, report_to=[],
    )
    Trainer(model=model, args=training, train_dataset=dataset, data_collator=collate,
            callbacks=[callback]).train()


if __name__ == "__main__":
    main()
