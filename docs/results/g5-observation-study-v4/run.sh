#!/usr/bin/env bash
# G5 probe: the fourth study reading's branch phase (8 mixtures at stage 12 from a shared state,
# seeds 105-109, the 0.53M proxy) again with 256 observation items a field instead of 48, to ask
# whether a stage's reward noise is the observation's (fewer items) or the training's. Needs the
# reading's runs (runs/headroom-study-v4, for its compare config and schedules); out in $OUT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
MIXAGENT=${MIXAGENT:-mixagent}
OUT=${OUT:-/tmp/g5obs}
ITEMS=${ITEMS:-256}
mkdir -p "$OUT"
sed -e "s/\"base=runs\/study-v2-nobb\/base\"\]/\"base=runs\/study-v2-nobb\/base\", \"observe.items_per_field=$ITEMS\", \"observe.batch_size=64\"]/" \
    -e 's/final_items = 1024/final_items = 64/' \
    -e "s/title = .*/title = \"G5 probe: branch phase with $ITEMS observation items a field\"/" \
    runs/headroom-study-v4/branch/compare.toml > "$OUT/compare.toml"
"$MIXAGENT" compare --config "$OUT/compare.toml" --out "$OUT/out" --workers "${WORKERS:-2}" --threads 1

python3 docs/results/g5-observation-study-v4/read.py runs/headroom-study-v4/branch "$OUT/out"
