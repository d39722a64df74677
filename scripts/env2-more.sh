#!/usr/bin/env bash
# Issue 21, point 6, the next round after scripts/study-env2.sh, resumable: 384 more study
# trajectories of the same distribution, and the agent on all 768.
#
# Why: on the held-out proxy seeds the prior agent's score grew with every step of data (128 /
# 256 / 384 trajectories: +0.119 / +0.149 / +0.215, no sign of flattening; RESULTS.md,
# "Decision quality against the number of trajectories, with the prior"), so more of the same
# data is the lever with evidence behind it. (scripts/env2-tilted.sh is the other candidate: a
# second collection tilted toward the prior, a different distribution.)
#
# 1. 384 trajectories, plan seed 1 (not the first collection's draws), otherwise the first
#    collection's config, in trees of a trajectory and two branches (families.branches = 2:
#    about half the stages trained; BENCHMARKS.md, "Branched collections") ->
#    runs/collect-env2-more. About 1.7 h on 2 cores alone in float32 (about twice that beside
#    a comparison).
# 2. The prior agent's settings (runs/env2-prior/selection.json) on both collections (768
#    trajectories), and its κ = 1 copy -> runs/env2-more/agent{,-t1}.
# 3. The held-out probe, experiments/env2/more-probe.toml -> runs/env2-curve: the curve's next
#    row, beside its rows (reused where scripts/env2-select.sh's step 5 ran them) and MixMin.
#
#   bash scripts/env2-more.sh [WORKERS]    # default 2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env2-agent.sh
workers=${1:-2}
bin=runs/env2/mixagent
for need in $bin runs/env2-prior/selection.json runs/collect-env2/collect.json runs/env2/agent-128 runs/env2/agent-256; do
    [ -e $need ] || { echo "env2-more: $need is missing: run scripts/study-env2.sh, then scripts/env2-select.sh (step 5 trains the curve's agents)" >&2; exit 1; }
done
corpus=data/v5
base=runs/study-v5/base-math5
fast=(--set 'train.precision="auto"' --set 'observe.precision="auto"')
$bin collect --config experiments/collect-study-v2.toml --set "corpus=$corpus" --set "base=$base" \
    --set families.within_jitter=0.5 --set seed=1 --set families.branches=2 "${fast[@]}" \
    --out runs/collect-env2-more --workers "$workers"
mkdir -p runs/env2-more
if [ ! -f runs/env2-more/agent/agent.json ]; then
    selection_sets runs/env2-prior/selection.json
    $bin train-agent --trajectories runs/collect-env2 --trajectories runs/collect-env2-more \
        --config experiments/agent-study.toml "${sets[@]}" --out runs/env2-more/agent
fi
with_decision runs/env2-more/agent runs/env2-more/agent-t1 tilt 1.0
$bin compare --config experiments/env2/more-probe.toml --out runs/env2-curve --workers "$workers"
