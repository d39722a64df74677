#!/usr/bin/env bash
# Copies one version-2 comparison setting's tables into docs/results/env2-<setting>/ (the runs
# themselves stay in runs/, not committed): the 3-seed and 5-seed tables, the 5-seed config,
# the target share by stage and the helpful-domain shares (scripts/env2-shares.py), each
# policy's seeds (scripts/paired.py --per-seed), and the agent's paired differences (scripts/paired.py). Safe to
# rerun while the setting is still running: it writes what exists.
#
#   bash scripts/env2-results.sh code      # runs/env2-code -> docs/results/env2-code
#   bash scripts/env2-results.sh 2d env2-2d-band   # -> docs/results/env2-2d-band (a rerun of
#                                                  # a setting beside its committed tables)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
s=${1:?usage: bash scripts/env2-results.sh SETTING (code, math, 2d, source, space, long) [FOLDER]}
run=runs/env2-$s
out=docs/results/${2:-env2-$s}
[ -d "$run/runs" ] || { echo "env2-results: $run has no runs yet (bash scripts/study-env2.sh $s)" >&2; exit 1; }
mkdir -p "$out"
for f in table.md table.json table-3seeds.md table-3seeds.json compare-5.toml; do
    [ -f "$run/$f" ] && cp "$run/$f" "$out/"
done
oracle=()
[ -f runs/headroom-study-v5/headroom.json ] && [ "$s" != code ] && oracle=(--oracle runs/headroom-study-v5)
python3 scripts/env2-shares.py "${oracle[@]}" "$run" > "$out/shares.md"
agent=$(python3 -c 'import sys, tomllib; c = tomllib.load(open(sys.argv[1], "rb")); print(next(p for p in c["policies"] if p.startswith("agent:")))' "experiments/env2/$s.toml")
python3 scripts/paired.py "$run" --policy "$agent" > "$out/paired.txt"
python3 scripts/paired.py "$run" --per-seed > "$out/per-seed.txt"
echo "env2-results: $run -> $out ($(ls "$out" | tr '\n' ' '))"
