"""Steering a Hugging Face `Trainer` (or any PyTorch `DataLoader` loop) stage by stage.

- `StageWeights`: each stage's mixture in its own small file (`stage-00003.json`), written
  atomically by the main process once the controller has decided it and read by every
  dataloader worker, so `dataloader_num_workers > 0` sees new weights.
- `MixtureDataset`: an `IterableDataset` over per-domain sources (a `datasets.Dataset`, any
  sequence, or an iterable such as a `datasets.IterableDataset`). Sample `i` of the run is drawn
  under the weights of stage `i // samples_per_stage`, from a random stream seeded by
  `(seed, i)`: which domain a sample comes from does not depend on when a worker draws it or on
  how many workers there are. A worker that reaches a stage whose weights are not decided yet
  waits for them.
- `MixagentCallback`: reports feedback to the controller and publishes the next stage's
  weights. The `Trainer`'s data loader (accelerate) fetches one batch ahead, and that batch
  must wait for the next stage's weights, so the callback decides `lead_steps` (default 1)
  optimizer steps before each stage ends: every sample of stage k is drawn under stage k's
  weights exactly, and the feedback that decides it is measured `lead_steps` steps before the
  end of stage k-1. The controller's state is saved at every decision; after a crash, resume
  the `Trainer` from its checkpoint (`trainer.train(resume_from_checkpoint=True)`) and the
  controller from its state: stages already decided keep their published weights.

Needs torch and transformers (imported here only).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from transformers import TrainerCallback

__all__ = ["StageWeights", "MixtureDataset", "MixagentCallback"]


class StageWeights:
    """Each stage's mixture as `folder/stage-NNNNN.json`, written atomically, read by any process."""

    def __init__(self, folder: str | os.PathLike, timeout: float = 600.0):
        self.folder = os.fspath(folder)
        self.timeout = timeout
        os.makedirs(self.folder, exist_ok=True)

    def path(self, stage: int) -> str:
        return os.path.join(self.folder, f"stage-{stage:05d}.json")

    def published(self, stage: int) -> bool:
        return os.path.exists(self.path(stage))

    def publish(self, stage: int, weights: Mapping[str, float]) -> None:
        tmp = f"{self.path(stage)}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"stage": stage, "weights": dict(weights)}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path(stage))

    def wait(self, stage: int, parent: int | None = None) -> dict[str, float]:
        """Stage `stage`'s weights, waiting until they are published (at most `timeout` s).
        A dataloader worker passes its parent's pid: if the trainer dies meanwhile (killed, so
        the weights never come), the worker exits instead of outliving it."""
        deadline = time.monotonic() + self.timeout
        while True:
            if parent is not None and os.getppid() != parent:
                os._exit(1)
            try:
                with open(self.path(stage)) as f:
                    return json.load(f)["weights"]
            except FileNotFoundError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the weights of stage {stage} never arrived in {self.folder}: is the "
                        "callback deciding each stage early enough (lead_steps ≥ the batches the "
                        "trainer fetches ahead)?"
                    ) from None
                time.sleep(0.01)


class MixtureDataset(torch.utils.data.IterableDataset):
    """Examples from per-domain sources, each domain drawn under its stage's weights.

    `domains`: name -> a `datasets.Dataset` or other sequence (sampled at random) or an iterable
    such as a `datasets.IterableDataset` (read in order, restarted when exhausted, each worker
    taking every n-th example). `batch_size`: the per-device batch size of the data loader,
    which makes sample indices follow the order in which the loader's workers hand out batches.
    `stages`: the run's number of stages; the batches a loader fetches past the run's end (never
    trained) are drawn under the last stage's weights. `transform(example, domain)` turns a
    source example into what the collator takes.
    """

    def __init__(
        self,
        domains: Mapping[str, Any],
        weights: StageWeights,
        samples_per_stage: int,
        batch_size: int,
        stages: int,
        transform: Callable[[Any, str], Any] | None = None,
        seed: int = 0,
    ):
        if samples_per_stage % batch_size:
            raise ValueError(
                f"samples_per_stage {samples_per_stage} is not a multiple of batch_size {batch_size}"
            )
        self.domains = dict(domains)
        self.weights, self.samples_per_stage, self.batch_size = weights, samples_per_stage, batch_size
        self.stages = stages
        self.transform = transform or (lambda example, domain: example)
        self.seed = seed

    def domain_of(self, i: int, weights: Mapping[str, float]) -> str:
        """The domain of sample `i` under its stage's `weights` (a pure function of both)."""
        names = list(self.domains)
        rng = random.Random(f"{self.seed}:{i}")
        return rng.choices(names, weights=[weights.get(n, 0.0) for n in names])[0]

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        parent = os.getppid() if info else None
        streams: dict[str, Any] = {}

        def from_iterable(name):
            # Restarted when exhausted. A `datasets.IterableDataset` splits its shards between
            # dataloader workers itself; any other iterable gives each worker every n-th example.
            source = self.domains[name]
            splits_itself = hasattr(source, "n_shards")
            while True:
                empty = True
                for j, example in enumerate(source):
                    if splits_itself or j % workers == worker:
                        empty = False
                        yield example
                if empty:
                    raise ValueError(
                        f"domain `{name}`: dataloader worker {worker} of {workers} got no example "
                        "from it (a datasets.IterableDataset with fewer shards than workers, or "
                        "an empty source): give it at least as many shards "
                        "(`to_iterable_dataset(num_shards=...)`) or use a map-style Dataset"
                    )

        cached: dict[int, dict[str, float]] = {}
        batch = worker
        while True:
            for i in range(batch * self.batch_size, (batch + 1) * self.batch_size):
                stage = min(i // self.samples_per_stage, self.stages - 1)
                if stage not in cached:
                    cached.clear()
                    cached[stage] = self.weights.wait(stage, parent)
                name = self.domain_of(i, cached[stage])
                source = self.domains[name]
                if hasattr(source, "__getitem__") and hasattr(source, "__len__"):
                    example = source[random.Random(f"{self.seed}:{i}:pick").randrange(len(source))]
                else:
                    if name not in streams:
                        streams[name] = from_iterable(name)
                    example = next(streams[name])
                yield self.transform(example, name)
            batch += workers


class MixagentCallback(TrainerCallback):
    """Applies the controller's mixture to a `MixtureDataset` stage by stage.

    `feedback(model)` returns field -> mean per-token log-probability of the gold answers of the
    field's feedback set. Train for `controller.total_stages * steps_per_stage` steps.
    """

    def __init__(
        self,
        controller,
        weights: StageWeights,
        feedback: Callable[[Any], Mapping[str, float]],
        steps_per_stage: int,
        tokens_per_step: int,
        state_path: str | os.PathLike,
        lead_steps: int = 1,
    ):
        if not 0 <= lead_steps < steps_per_stage:
            raise ValueError(f"lead_steps {lead_steps} must be in [0, steps_per_stage {steps_per_stage})")
        self.controller, self.weights, self.feedback = controller, weights, feedback
        self.steps_per_stage, self.tokens_per_step = steps_per_stage, tokens_per_step
        self.state_path, self.lead_steps = os.fspath(state_path), lead_steps

    def _decide(self, stage: int, model) -> None:
        """Publishes stage `stage`'s weights unless a run before a crash already did."""
        if self.weights.published(stage):
            return
        if self.controller.stage != stage:
            raise RuntimeError(
                f"the controller is at stage {self.controller.stage} but the trainer reached the end "
                f"of stage {stage - 1}: resume the controller from the state saved with this run"
            )
        self.weights.publish(stage, self.controller.next_mixture())
        self.controller.save(self.state_path)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not self.controller.has_base:
            self.controller.observe(self.feedback(model))
        self._decide(0, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step + self.lead_steps
        if step % self.steps_per_stage != 0:
            return
        stage = step // self.steps_per_stage  # the stage about to be decided
        if self.weights.published(stage) or stage > self.controller.total_stages:
            return
        if self.controller.stage == stage - 1:
            tokens = self.steps_per_stage * self.tokens_per_step
            self.controller.observe(self.feedback(model), tokens=tokens)
            self.controller.save(self.state_path)
        if stage < self.controller.total_stages:
            self._decide(stage, model)
