#!/usr/bin/env bash
# Issue 21, the next round after scripts/study-env2.sh, resumable: a second study collection
# whose within-field splits are tilted toward the first collection's per-domain prior, and the
# agent trained on both.
#
# Why: the version-6 agent tilts its proposals toward the prior's domains (decision.tilt), and
# those mixtures train each field faster than any mixture of the first collection did, so the
# feedback trends its field split reads on deployment lie outside its data: on the target model
# it ran to one field's corner (RESULTS.md, "The collection's per-domain prior"). A collection
# tilted the same way puts such runs in the data, for the share head and for the critics.
#
# 1. 384 trajectories (plan seed 1, so not the first collection's draws), every one tilted
#    toward runs/env2-prior/agent's prior (κ drawn in [0.5, 2]), in trees of a trajectory and
#    two branches (families.branches = 2: about half the stages trained; BENCHMARKS.md) ->
#    runs/collect-env2-tilted. About 2.5 h on 2 cores in float32.
# 2. The agent with the prior agent's settings (runs/env2-prior/selection.json) on both
#    collections (768 trajectories), and its κ = 1 copy -> runs/env2-tilted/agent{,-t1}.
# 3. The held-out probe, experiments/env2/tilted-probe.toml -> runs/env2-tilted/probe.
#
#   bash scripts/env2-tilted.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env2-agent.sh
# The prior agent's binary (scripts/env2-prior.sh builds it): it knows families.tilted.
bin=runs/env2-prior/mixagent
for need in $bin runs/env2-prior/agent/agent.json runs/env2-prior/selection.json runs/collect-env2; do
    [ -e $need ] || { echo "env2-tilted: $need is missing: run scripts/study-env2.sh first" >&2; exit 1; }
done
"$bin" collect --help | grep -q -- --tilt-prior || {
    echo "env2-tilted: $bin predates families.tilted (2026-12-07): rm $bin && bash scripts/env2-prior.sh rebuilds it" >&2
    exit 1
}
corpus=data/v5
base=runs/study-v5/base-math5
fast=(--set 'train.precision="auto"' --set 'observe.precision="auto"')
$bin collect --config experiments/collect-study-v2.toml --set "corpus=$corpus" --set "base=$base" \
    --set families.within_jitter=0.5 --set seed=1 --set families.tilted=1 \
    --set families.branches=2 --tilt-prior runs/env2-prior/agent "${fast[@]}" \
    --out runs/collect-env2-tilted --workers 2
mkdir -p runs/env2-tilted
if [ ! -f runs/env2-tilted/agent/agent.json ]; then
    selection_sets runs/env2-prior/selection.json
    $bin train-agent --trajectories runs/collect-env2 --trajectories runs/collect-env2-tilted \
        --config experiments/agent-study.toml "${sets[@]}" --out runs/env2-tilted/agent
fi
with_decision runs/env2-tilted/agent runs/env2-tilted/agent-t1 tilt 1.0
$bin compare --config experiments/env2/tilted-probe.toml --out runs/env2-tilted/probe --workers 2
