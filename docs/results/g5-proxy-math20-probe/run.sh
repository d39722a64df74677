#!/usr/bin/env bash
# G5's branch reading on a proxy whose base read 20% math, as the target's did (the study proxy
# reads 5%): does a proxy closer to the target see the target's stage-level effect on math?
# The 8 mixtures of the study reading's branch phase (schedules/, copied from
# runs/headroom-study-v5/schedules), on the proxy seeds 115-124, through `cpt --from --until`
# exactly as `mixagent headroom` runs its branches: per seed the 12 uniform stages once, then
# every mixture from their checkpoint for stages 12 and 13. Resumable (rerun it).
#
#   MIXAGENT=path/to/mixagent bash docs/results/g5-proxy-math20-probe/run.sh
#   python3 docs/results/headroom-study-v5/g5_by_field.py runs/g5-proxy-math20-probe
#   python3 docs/results/headroom-study-v5/g5_proxy_vs_target.py runs/g5-proxy-math20-probe \
#       runs/headroom-study-v5/branch-target --proxy-seeds 115-124 --target-seeds 125-134
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
export bin=${MIXAGENT:-mixagent}
export here=docs/results/g5-proxy-math20-probe out=runs/g5-proxy-math20-probe
export base=runs/study-v5/base-math20
$bin pretrain --preset study --tokens 4000000 --also math=0.2 --corpus data/v5 --out $base --threads 1
branch_seed() {
    local seed=$1 prefix=$out/prefix/seed-$1
    local sets=(--config experiments/collect-study-v2.toml --set corpus=data/v5 --set "base=$base"
        --set observe.items_per_field=256 --set families.within_jitter=0.5 --set "seed=$seed"
        --threads 1)
    local f name
    for f in "$here"/schedules/branch-*.json; do
        name=$(basename "$f" .json)
        if [ -f "$out/runs/$name/seed-$seed/run.json" ] &&
            python3 -c 'import json,sys; sys.exit(len(json.load(open(sys.argv[1]))["stages"]) < 14)' \
                "$out/runs/$name/seed-$seed/run.json"; then
            continue
        fi
        "$bin" cpt --policy "schedule:$here/schedules/branch-00-05ea177f.json" "${sets[@]}" \
            --until 12 --out "$prefix" > /dev/null
        "$bin" cpt --policy "schedule:$f" "${sets[@]}" --from "$prefix" --until 14 \
            --out "$out/runs/$name/seed-$seed" > /dev/null
    done
    echo "seed $seed done"
}
export -f branch_seed
printf '%s\n' 115 116 117 118 119 120 121 122 123 124 | xargs -P 2 -I{} bash -c 'branch_seed {}'
