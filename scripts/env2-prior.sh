#!/usr/bin/env bash
# Issue 21 on the version-2 environment: the agent with the collection's per-domain prior
# (artifact version 6), end to end and resumable. Needs what scripts/study-env2.sh built first:
# runs/collect-env2, runs/select-env2/selection.json, runs/mixmin-env2, runs/study-v5/*, and
# the math setting's folder runs/env2-math (its baselines' runs are read through hard links,
# not rerun).
#
# 1. Trains the settings select-agent chose (c07) again, now reading the prior
#    (runs/env2-prior/agent).
# 2. Copies it with `decision.tilt` = 1, 2, 4 (every proposal tilted within fields toward the
#    prior's domains; runs/env2-prior/agent-t<κ>) and with `decision.prior_tilts` = [0.5, 1, 2,
#    4] (the critics choose among tilted candidates; agent-tilt): decision settings only, the
#    same network, as select-agent shares a training between decision candidates.
# 3. Steers the proxy base on the held-out seeds 100-102 with each, beside uniform and MixMin
#    (experiments/env2/prior-probe.toml -> runs/env2-prior/probe): the strength is chosen there.
# 4. Runs the chosen one (agent-t1) in the math main and 2-D settings, seeds 0-4
#    (experiments/env2/{math,2d}-prior*.toml -> runs/env2-{math,2d}-prior). The other four
#    settings name agent-t1 in their own configs (scripts/study-env2.sh runs them).
#
# Cost on 2 cores: training 10 min alone (26 with another job), the probe 10 min, the math
# and 2-D rows 15 min each.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p runs/env2-prior
if [ ! -x runs/env2-prior/mixagent ]; then
    bash scripts/setup.sh
    source scripts/cargo-target.sh
    cargo build --release --locked -p mixagent
    cp "$CARGO_TARGET_DIR/release/mixagent" runs/env2-prior/mixagent
fi
bin=runs/env2-prior/mixagent
if [ ! -f runs/env2-prior/agent/agent.json ]; then
    sets=()
    while IFS= read -r kv; do if [ -n "$kv" ]; then sets+=(--set "$kv"); fi; done < <(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("\n".join(s["shared"] + s["chosen_settings"]))' runs/select-env2/selection.json)
    $bin train-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
        "${sets[@]}" --out runs/env2-prior/agent
fi
with_decision() { # with_decision NAME KEY VALUE: a copy of the agent with one decision setting
    local out=runs/env2-prior/$1
    if [ ! -f "$out/agent.json" ]; then
        rm -rf "$out.tmp" && cp -r runs/env2-prior/agent "$out.tmp"
        python3 -c 'import json, sys; p = sys.argv[1] + "/agent.json"; a = json.load(open(p)); a["decision"][sys.argv[2]] = json.loads(sys.argv[3]); json.dump(a, open(p, "w"), indent=2)' "$out.tmp" "$2" "$3"
        mv "$out.tmp" "$out"
    fi
}
with_decision agent-tilt prior_tilts '[0.5, 1.0, 2.0, 4.0]'
for k in 1 2 4; do with_decision agent-t$k tilt "$k.0"; done
$bin compare --config experiments/env2/prior-probe.toml --out runs/env2-prior/probe --workers 2
[ -d runs/env2-math-prior ] || cp -al runs/env2-math runs/env2-math-prior
$bin compare --config experiments/env2/math-prior.toml --out runs/env2-math-prior --workers 2
$bin compare --config experiments/env2/math-prior-5.toml --out runs/env2-math-prior --workers 2
[ -d runs/env2-2d-prior ] || cp -al runs/env2-2d runs/env2-2d-prior
$bin compare --config experiments/env2/2d-prior.toml --out runs/env2-2d-prior --workers 2
$bin compare --config experiments/env2/2d-prior-5.toml --out runs/env2-2d-prior --workers 2
