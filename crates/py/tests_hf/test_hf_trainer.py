"""`mixagent.hf` steering a real Hugging Face `Trainer` (transformers, accelerate, torch on CPU):
with dataloader workers, every optimizer step of stage k trains on stage k's mixture exactly (no
prefetch lag), and a run killed mid-stage and resumed (Trainer from its checkpoint, controller
from its state) trains on the same data as an uninterrupted one. A tiny random LLaMA, three
domains told apart by their token ids, a schedule policy that switches domain each stage.
Run by scripts/python.sh in the interop venv (scripts/setup-interop.sh)."""

import json
import os
import signal
import subprocess
import sys

STAGES, STEPS, BATCH, WORKERS = 3, 4, 4, 2
RANGES = {"web": (2, 20), "books": (20, 40), "proofs": (40, 60)}
FIELDS = {"web": "general", "books": "general", "proofs": "math"}
SCHEDULE = [{"web": 1.0}, {"books": 1.0}, {"proofs": 1.0}]


def domain_of(token):
    return next(name for name, (lo, hi) in RANGES.items() if lo <= token < hi)


def train(out, kill_at_step=None, resume=False):
    """One training run in this process; rows trained are appended to out/rows.jsonl."""
    import datasets
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

    import mixagent
    from mixagent.hf import MixagentCallback, MixtureDataset, StageWeights

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2,
                                         max_position_embeddings=32))
    seqs = {n: [[lo + (i + j) % (hi - lo) for j in range(8)] for i in range(50)] for n, (lo, hi) in RANGES.items()}
    domains = {
        "web": datasets.Dataset.from_dict({"input_ids": seqs["web"]}),
        "books": seqs["books"],  # a plain sequence
        # an iterable source with a shard per dataloader worker
        "proofs": datasets.Dataset.from_dict({"input_ids": seqs["proofs"]}).to_iterable_dataset(num_shards=WORKERS),
    }
    schedule = os.path.join(out, "schedule.json")
    with open(schedule, "w") as f:
        json.dump({"name": "switch", "stages": SCHEDULE}, f)
    state = os.path.join(out, "controller.json")
    if resume:
        controller = mixagent.Controller.from_state(state)
    else:
        controller = mixagent.Controller(f"schedule:{schedule}", list(FIELDS.items()), total_stages=STAGES)
    weights = StageWeights(os.path.join(out, "weights"))

    def transform(example, domain):
        ids = example["input_ids"] if isinstance(example, dict) else example
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(ids)}

    dataset = MixtureDataset(domains, weights, samples_per_stage=STEPS * BATCH, batch_size=BATCH,
                             stages=STAGES, transform=transform)
    probe = {"general": torch.tensor([seqs["web"][0]]), "math": torch.tensor([seqs["proofs"][0]])}

    @torch.no_grad()
    def feedback(m):
        return {f: -m(ids, labels=ids).loss.item() for f, ids in probe.items()}

    class Recording(Trainer):
        def training_step(self, model, inputs, num_items_in_batch=None):
            rows = [domain_of(int(r[0])) for r in inputs["input_ids"]]
            with open(os.path.join(out, "rows.jsonl"), "a") as f:
                f.write(json.dumps({"step": self.state.global_step + 1, "rows": rows}) + "\n")
            return super().training_step(model, inputs, num_items_in_batch)

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == kill_at_step:
                os.kill(os.getpid(), signal.SIGKILL)

    args = TrainingArguments(output_dir=os.path.join(out, "trainer"), per_device_train_batch_size=BATCH,
                             max_steps=STAGES * STEPS, dataloader_num_workers=WORKERS, save_steps=STEPS,
                             logging_steps=100, report_to=[], learning_rate=1e-3, use_cpu=True, seed=0)
    callback = MixagentCallback(controller, weights, feedback, STEPS, BATCH * 8, state)
    trainer = Recording(model=model, args=args, train_dataset=dataset, callbacks=[callback, Kill()])
    trainer.train(resume_from_checkpoint=resume or None)


def run(out, *flags):
    return subprocess.run([sys.executable, __file__, str(out), *flags], capture_output=True, text=True)


def trained_rows(out):
    """The rows of each optimizer step, the last time it was trained."""
    steps = {}
    with open(os.path.join(out, "rows.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            steps[r["step"]] = r["rows"]
    return [steps[s] for s in sorted(steps)]


def test_stages_train_on_their_mixture_exactly_and_a_killed_run_resumes(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir(), cut.mkdir()
    p = run(whole)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = trained_rows(whole)
    assert len(rows) == STAGES * STEPS
    for step, r in enumerate(rows):
        (want,) = SCHEDULE[step // STEPS]
        assert r == [want] * BATCH, f"step {step + 1}: {r}, stage {step // STEPS} is all {want}"
    # Killed in stage 1 (after the checkpoint at step 4), then resumed: the same data.
    p = run(cut, "--kill-at", "6")
    assert p.returncode == -signal.SIGKILL, p.stderr[-3000:]
    p = run(cut, "--resume")
    assert p.returncode == 0, p.stderr[-3000:]
    assert trained_rows(cut) == rows
    for out in (whole, cut):
        with open(out / "controller.json") as f:
            assert len(json.load(f)["stages"]) == STAGES


if __name__ == "__main__":
    out = sys.argv[1]
    kill = int(sys.argv[sys.argv.index("--kill-at") + 1]) if "--kill-at" in sys.argv else None
    train(out, kill_at_step=kill, resume="--resume" in sys.argv)
