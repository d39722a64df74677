#!/usr/bin/env bash
# The choices behind scripts/study-env2.sh, made again on its collection (issue 21, points 3
# and 6), resumable; each on the proxy base's held-out seeds 100-102, never a reported seed:
#
# 1. `select-agent`: the agent's settings, in K-D and 2-D together: the critics' target and the
#    history window, each with and without the critics choosing among 16 candidate mixtures,
#    and with and without exploring within fields at decision time (4 trainings, 16
#    candidates; runs/select-env2/selection.json, which scripts/env2-prior.sh then reads
#    instead of the committed docs/results/select-env2/selection.json). About 1.5 h.
# 2. MixMin's 29 single-domain proxies (runs/mixmin-env2, replacing the committed solution the
#    study copied there). About 30 min.
# 3. The prior's strength and the share step: the prior agent, its tilt variants and agent-t1
#    with its share bounded a stage, beside uniform and MixMin
#    (experiments/env2/prior-probe.toml -> runs/env2-prior/probe). About 15 min.
# 4. The agent's training seed and IQL: the prior agent (κ = 1) trained with seeds 1 and 2 and
#    with IQL in place of CQL, beside the seed-0 one (experiments/env2/prior-seeds.toml ->
#    runs/env2-prior/seeds). About 1 h.
# 5. Decision quality against the number of trajectories: the chosen settings trained on the
#    first 128 and 256 trajectories, tilted as agent-t1 is, beside it (all 384) and uniform
#    (experiments/env2/curve.toml -> runs/env2-curve). About 40 min.
#
#   bash scripts/env2-select.sh        # after scripts/study-env2.sh's collection
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env2-agent.sh
bin=runs/env2/mixagent
[ -x $bin ] || { echo "env2-select: run scripts/study-env2.sh first (it builds $bin and the collection)" >&2; exit 1; }
corpus=data/v5
base=runs/study-v5/base-math5
fast=(--set 'train.precision="auto"' --set 'observe.precision="auto"')
run_sets=(--run-set "corpus=$corpus" --run-set "base=$base"
    --run-set 'train.precision="auto"' --run-set 'observe.precision="auto"')
[ -f runs/select-env2/selection.json ] || $bin select-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
    --run experiments/collect-study-v2.toml "${run_sets[@]}" --setting 'space.level="fields"' \
    --seeds 100,101,102 --set 'algorithm="cql"' --set 'sft.weighting="advantage"' \
    --grid 'cql.critic_target="td","return"' --grid net.history=0,24 \
    --grid decision.candidates=0,16 --grid decision.explore=0,0.3 --out runs/select-env2 --workers 2
# The committed solution study-env2.sh copied here (no proxies beside it) is refitted.
[ -d runs/mixmin-env2/proxies ] || rm -f runs/mixmin-env2/mixmin.json
$bin mixmin --run experiments/collect-study-v2.toml --set "corpus=$corpus" --set "base=$base" \
    "${fast[@]}" --out runs/mixmin-env2 --workers 2
bash scripts/env2-prior.sh
# With the prior's binary: the share-step copies need one of 2026-12-07 or later.
runs/env2-prior/mixagent collect --help | grep -q -- --tilt-prior || {
    echo "env2-select: runs/env2-prior/mixagent predates decision.share_step (2026-12-07): rm it && bash scripts/env2-prior.sh rebuilds it" >&2
    exit 1
}
runs/env2-prior/mixagent compare --config experiments/env2/prior-probe.toml --out runs/env2-prior/probe --workers 2
# The prior agent again, one setting changed, then tilted as agent-t1 (the spread of step 4).
variant() { # variant NAME KEY=VALUE...
    local name=$1 && shift
    if [ ! -f runs/env2-prior/$name/agent.json ]; then
        local sets
        selection_sets runs/env2-prior/selection.json
        for kv in "$@"; do sets+=(--set "$kv"); done
        $bin train-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
            "${sets[@]}" --out runs/env2-prior/$name
    fi
    with_decision runs/env2-prior/$name runs/env2-prior/$name-t1 tilt 1.0
}
# The settings the prior agent was trained from (env2-prior.sh keeps its selection beside it).
variant seed1 seed=1
variant seed2 seed=2
variant iql 'algorithm="iql"'
$bin compare --config experiments/env2/prior-seeds.toml --out runs/env2-prior/seeds --workers 2
for n in 128 256; do
    if [ ! -f runs/env2/agent-$n/agent.json ]; then
        selection_sets runs/env2-prior/selection.json
        $bin train-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
            --limit $n "${sets[@]}" --set decision.tilt=1.0 --out runs/env2/agent-$n
    fi
done
$bin compare --config experiments/env2/curve.toml --out runs/env2-curve --workers 2
