#!/usr/bin/env bash
# Issue 21 on the version-2 environment: the agent with the collection's per-domain prior
# (artifact version 6), resumable. Needs runs/collect-env2 (scripts/study-env2.sh builds it)
# and the agent's settings: runs/select-env2/selection.json where scripts/env2-select.sh has
# chosen them, else the committed choice, docs/results/select-env2/selection.json (c07, chosen
# on held-out proxy seeds 100-102 on 2026-12-06).
#
# 1. Trains the chosen settings, now reading the prior (runs/env2-prior/agent).
# 2. Copies it with `decision.tilt` = 1, 2, 4 (every proposal tilted within fields toward the
#    prior's domains; runs/env2-prior/agent-t<κ>) and with `decision.prior_tilts` = [0.5, 1, 2,
#    4] (the critics choose among tilted candidates; agent-tilt): decision settings only, the
#    same network, as select-agent shares a training between decision candidates. agent-t1,
#    chosen on the held-out probe (experiments/env2/prior-probe.toml, run by
#    scripts/env2-select.sh), is the one the comparison settings run.
# 3. Copies agent-t1 with `decision.share_step` = 0.005, 0.02 and 0.05 (agent-t1-step005,
#    -step02, -step05): its target share moves at most that much a stage (0.005: within 0.12 of
#    its first stage's over 24 stages). Only binaries from 2026-12-07 on read
#    them (runs/env2-prior/mixagent; scripts/env2-select.sh probes them with it).
#
# Cost on 2 cores: training 10 min alone (26 with another job).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env2-agent.sh
private_binary runs/env2-prior
selection=runs/select-env2/selection.json
[ -f $selection ] || selection=docs/results/select-env2/selection.json
if [ ! -f runs/env2-prior/agent/agent.json ]; then
    # The selection the agent was trained from stays beside it: its variants
    # (scripts/env2-select.sh) read the same one.
    cp $selection runs/env2-prior/selection.json
    selection_sets $selection
    echo "env2-prior: the settings of $selection: ${sets[*]}"
    $bin train-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
        "${sets[@]}" --out runs/env2-prior/agent
fi
if ! cmp -s $selection runs/env2-prior/selection.json; then
    echo "env2-prior: warning: runs/env2-prior/agent was trained from another selection than $selection; delete runs/env2-prior to train it again" >&2
fi
p=runs/env2-prior
with_decision $p/agent $p/agent-tilt prior_tilts '[0.5, 1.0, 2.0, 4.0]'
for k in 1 2 4; do with_decision $p/agent $p/agent-t$k tilt "$k.0"; done
# agent-t1 with its target share moving at most 0.005, 0.02 or 0.05 a stage
# (`decision.share_step`): the version-6 agent ran to one field's corner on the target model
# (RESULTS.md).
for step in 005 02 05; do with_decision $p/agent-t1 $p/agent-t1-step$step share_step "0.$step"; done
