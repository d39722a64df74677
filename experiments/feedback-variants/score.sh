#!/usr/bin/env bash
# Scores the base and every finished run of the given compare folders whose policy is uniform or
# favours a math domain on each variant's math feedback (experiments/feedback-variants/make.py);
# resumable: a score already written is kept.
#   bash experiments/feedback-variants/score.sh MIXAGENT VARIANTS BASE OUT COMPARE_DIR...
set -euo pipefail
mixagent=$1 variants=$2 base=$3 out=$4
shift 4
mkdir -p "$out"
score() { # checkpoint-or-run, variant, json
    if [ ! -f "$3" ]; then
        "$mixagent" eval "$1" --corpus "$variants/$2" --fields math --items 100000 \
            --windows 1 --threads 1 --json "$3.tmp" > /dev/null
        mv "$3.tmp" "$3"
    fi
}
for v in $(ls "$variants"); do
    score "$base" "$v" "$out/base.$v.json"
    for dir in "$@"; do
        for run in "$dir"/runs/*/seed-*; do
            [ -f "$run/run.json" ] && ls "$run"/final-feedback-*.json > /dev/null 2>&1 || continue
            grep -qE '"policy": *"[^"]*(uniform|beside-math_|beside-numeric_tables)' "$run/run.json" || continue
            key=$(basename "$(dirname "$run")")-$(basename "$run")
            echo "$run" > "$out/$key.run"
            score "$run" "$v" "$out/$key.$v.json"
        done
    done
    echo "scored $v"
done
