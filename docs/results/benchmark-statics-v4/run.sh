#!/usr/bin/env bash
# The benchmark suite (600 items a task, general + math) on every target static mixture of the
# fourth study reading (runs/headroom-study-v4/statics-target: 19 mixtures × selection seeds
# 0-2), to ask whether the math feedback ranks mixtures as the benchmarks do, and how far the
# benchmark-best static mixture gets above uniform. Reports go to $OUT (default /tmp/bstat);
# resumable (a finished report is not redone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
MIXAGENT=${MIXAGENT:-mixagent}
OUT=${OUT:-/tmp/bstat}
mkdir -p "$OUT"
runs=runs/headroom-study-v4/statics-target/runs
eval_one() {
  [ -f "$OUT/$1.json" ] && return
  "$MIXAGENT" eval --suite full --fields general,math --task-items 600 --threads 1 \
    --json "$OUT/$1.json.tmp" "$2" > /dev/null 2>&1
  mv "$OUT/$1.json.tmp" "$OUT/$1.json"
}
eval_one base runs/study-v2-nobb/target
for dir in "$runs"/*; do
  name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["policy_name"])' "$dir/seed-0/run.json")
  for s in 0 1 2; do eval_one "$name-$s" "$dir/seed-$s"; done
done
python3 docs/results/benchmark-statics-v4/read.py "$OUT" runs/headroom-study-v4/statics-target
