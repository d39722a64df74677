#!/usr/bin/env bash
# G2 probe: math benchmarks on the math feedback's own generators. The benchmark suite (600
# items a task) of the study base and the fourth reading's target statics' uniform and
# helpful-only models (selection seeds 0-2), with the math benchmark items (the math part of
# feedback-rest.jsonl, which module_cloze, module_word_order and answer_kind read) replaced by
# fresh problems of the training modules of the four families the math feedback is split
# from. Needs runs/headroom-study-v4 and the venv that scripts/setup.sh builds. Out in $OUT.
# (The default corpus now holds the same problems: scripts/setup.sh generates them with these
# settings, so the probe's corpus differs from data/v5 only in the checks that drop a question.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
MIXAGENT=${MIXAGENT:-mixagent}
OUT=${OUT:-/tmp/g2-split-probe}
CACHE=${MIXAGENT_CACHE:-$HOME/.cache/mixagent}
here=docs/results/g2-split-benchmark-probe
mkdir -p "$OUT"
# The training modules of the four families (the held-out ones, benchmarks today, left out).
modules=$(ls "$CACHE/raw/mathematics_dataset" | sed -n 's/\.txt$//p' | grep -E '^(arithmetic|numbers|comparison|measurement)__' \
  | grep -vxE 'arithmetic__mixed|arithmetic__add_sub_multiple|arithmetic__mul_div_multiple|numbers__place_value|numbers__round_number|comparison__pair|measurement__time' | paste -sd,)
"$CACHE/venv-math/bin/python" scripts/gen_math.py --out "$OUT/fresh" --count 200 --seed 777 --jobs "${JOBS:-1}" --only "$modules"
python3 "$here/make_items.py" "$OUT/fresh" "$CACHE/raw/mathematics_dataset" data/v2-nobb "$OUT/corpus"
# The pre-read's evaluations (base, uniform and helpful-only × seeds 0-2) on the probe corpus.
CORPUS="$OUT/corpus" OUT="$OUT" MIXAGENT="$MIXAGENT" bash docs/results/benchmark-preread-v4/run.sh > /dev/null
# The fifth reading's target base (20% math, the same shards): is answer_kind alive for it?
if [ -d runs/study-v5/target ] && [ ! -f "$OUT/base-math20.json" ]; then
  "$MIXAGENT" eval --suite full --corpus "$OUT/corpus" --fields general,math --task-items 600 --threads 1 --json "$OUT/base-math20.json" runs/study-v5/target > /dev/null
fi
python3 docs/results/benchmark-preread-v4/read.py "$OUT"
