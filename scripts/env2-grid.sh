#!/usr/bin/env bash
# Issue 21, after scripts/env2-band.sh, resumable: the band agent whose critics set the field
# split (`decision.share_grid = 5`, the band's ends and three shares evenly between), then
#
# 1. the held-out proxy probe, experiments/env2/grid-probe.toml -> runs/env2-grid-probe (seeds
#    100-102; its rule, declared in the file: adopted if its mean is at least the band agent's);
# 2. if adopted, the unseen-source setting on the fresh seeds 5-9,
#    experiments/env2/source-grid.toml -> runs/env2-source-grid (GRID_SEEDS=5,6,7 runs a
#    prefix first; rerun for the rest: finished runs are kept).
#
#   bash scripts/env2-grid.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env2-agent.sh
needs env2-grid runs/env2-band/agent-t1 runs/study-v5/target-src
private_binary runs/env2-grid
with_decision runs/env2-band/agent-t1 runs/env2-grid/agent-t1 share_grid 5
$bin compare --config experiments/env2/grid-probe.toml --out runs/env2-grid-probe --workers "${WORKERS:-2}"
# The probe's declared rule: the grid agent's mean final balanced score over the three seeds at
# least the band agent's.
adopt=$(python3 - <<'PY'
import sys
sys.path.insert(0, "scripts")
import compare_runs
_, runs, _ = compare_runs.read("runs/env2-grid-probe")
runs = compare_runs.by_policy(runs)
mean = lambda p: sum(r.balanced for r in runs[p].values()) / len(runs[p])
grid, band = mean("agent:runs/env2-grid/agent-t1"), mean("agent:runs/env2-band/agent-t1")
print(f"probe: grid {grid:+.4f}, band {band:+.4f}", file=sys.stderr)
print("yes" if grid >= band else "no")
PY
)
if [ "$adopt" != yes ]; then
    echo "env2-grid: the grid agent scores below the band agent on the held-out probe: not adopted, the source setting's fresh seeds are not run" >&2
    exit 0
fi
# A prefix of the declared seeds first, if asked: the config with its seeds replaced.
GRID_SEEDS=${GRID_SEEDS:-5,6,7,8,9}
mkdir -p runs/env2-source-grid
sed "s/^seeds = .*/seeds = [$GRID_SEEDS]/" experiments/env2/source-grid.toml > runs/env2-source-grid/compare-seeds.toml
$bin compare --config runs/env2-source-grid/compare-seeds.toml --out runs/env2-source-grid --workers "${WORKERS:-2}"
