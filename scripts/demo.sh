#!/usr/bin/env bash
# The main job on the built-in default (README): set-up, build, prepare the default corpus,
# print its table, pretrain a small demo base model on the source field, evaluate it and
# collect mixing trajectories from it, train the mixing agent on them, and let the agent steer
# a continual pre-training run from the base. Later stages (compare, report) join here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo build --release --locked -p mixagent
bin=target/release/mixagent
if [[ -f data/default/manifest.json ]]; then
    echo "demo: data/default exists; reusing it (delete it to rebuild)" >&2
else
    "$bin" prepare --config configs/default.toml --out data/default
fi
"$bin" corpus stats --corpus data/default
# Re-running resumes (or skips) the same run.
"$bin" pretrain --corpus data/default --preset demo --tokens 4000000 --checkpoint-every 250 \
    --out runs/demo/base
# Feedback, held-out bits per byte and the benchmark suite of the base model.
"$bin" eval runs/demo/base --suite full --task-items 100
# 32 mixing trajectories × 10 stages of the demo proxy from that base (resumable), and the
# trade-off they carry.
"$bin" collect --config experiments/collect-demo.toml --workers 2
"$bin" trajectories stats runs/collect-demo
# The agent: warm-up on the best trajectories, then CQL; written to runs/agent-demo.
"$bin" train-agent --trajectories runs/collect-demo --config experiments/agent-demo.toml \
    --out runs/agent-demo
# The agent steers 10 stages of continual pre-training from the base, reading its feedback.
"$bin" cpt --policy agent:runs/agent-demo --config experiments/collect-demo.toml \
    --out runs/cpt-demo-agent
