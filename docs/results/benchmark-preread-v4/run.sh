#!/usr/bin/env bash
# The benchmark suite (600 items a task, general + math) on the study base and on the target
# statics' uniform and helpful-only models, selection seeds 0-2, of the fourth study reading
# (runs/headroom-study-v4). Reports go to $OUT (default /tmp/benchmark-preread).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
MIXAGENT=${MIXAGENT:-mixagent}
OUT=${OUT:-/tmp/benchmark-preread}
mkdir -p "$OUT"
runs=runs/headroom-study-v4/statics-target/runs
# A static mixture's run folder: the one whose run.json names its schedule.
folder() { grep -l "\"policy_name\": \"$1\"" "$runs"/*/seed-0/run.json | head -1 | xargs dirname | xargs dirname; }
# CORPUS: another corpus's benchmark items (default: the one each checkpoint was trained on).
eval_one() { "$MIXAGENT" eval --suite full ${CORPUS:+--corpus "$CORPUS"} --fields general,math --task-items 600 --threads 1 --json "$OUT/$1.json" "$2" > /dev/null; }
[ -f "$OUT/base.json" ] || eval_one base runs/study-v2-nobb/target
for name in uniform helpful-only; do
  dir=$(folder "$name")
  for s in 0 1 2; do
    [ -f "$OUT/$name-$s.json" ] || eval_one "$name-$s" "$dir/seed-$s"
  done
done
python3 docs/results/benchmark-preread-v4/read.py "$OUT"
