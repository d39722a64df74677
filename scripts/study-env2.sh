#!/usr/bin/env bash
# Issue 21 on the version-2 environment, end to end: the corpus and the two bases of the fifth
# headroom reading (experiments/headroom-study.toml), 384 study trajectories, the agent chosen
# on held-out proxy seeds, MixMin's proxies, then the comparison settings named on the command
# line (experiments/env2/<setting>.toml; default: all six, issue 17's three first). Each setting runs every policy on
# seeds 0-2 (table-3seeds.md), then the agent and the three strongest baselines of that table
# on seeds 3-4 in the same folder (table.md, five paired seeds). Every step resumes or skips finished work:
# rerun the script after an interruption (a session's end, a kill) and nothing is lost.
#
# Waits for the environment: run it once the fifth reading passes its gates (issue 18).
# Cost on 2 cores, from the fourth and fifth readings' run times: the collection about 7 hours,
# the selection about 1.5, MixMin's 29 proxies about 0.5, each setting 1.5-2.5 (long: 1.5x).
#
#   bash scripts/study-env2.sh                 # everything
#   bash scripts/study-env2.sh math 2d         # only these settings (after the shared steps)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A private copy of the binary: rebuilding the tree while this runs must not change it midway
# (child processes are started from the running binary's path).
mkdir -p runs/env2
if [ ! -x runs/env2/mixagent ]; then
    bash scripts/setup.sh
    source scripts/cargo-target.sh
    cargo build --release --locked -p mixagent
    cp "$CARGO_TARGET_DIR/release/mixagent" runs/env2/mixagent
fi
bin=runs/env2/mixagent
settings=("${@:-math 2d code source space long}")
corpus=data/v5
base=runs/study-v5/base-math5
target=runs/study-v5/target
# Proxy work (collection, selection, MixMin's proxies) runs its matrix products in bf16 where
# the CPU has bf16 instructions (float32 elsewhere): 1.47x study trajectories per core-hour, and
# per-stage rewards that correlate 0.998-1.000 with float32's (BENCHMARKS.md, issue 20).
fast=(--set 'train.precision="auto"' --set 'observe.precision="auto"')
run_sets=(--run-set "corpus=$corpus" --run-set "base=$base"
    --run-set 'train.precision="auto"' --run-set 'observe.precision="auto"')

[ -d $corpus ] || $bin prepare --config configs/default.toml --out $corpus
# The proxy base reads 5% math, the target 20% (experiments/headroom-study.toml says why);
# pretrain resumes or skips a finished base. The two run side by side, one core each.
$bin pretrain --preset study --tokens 4000000 --also math=0.05 --corpus $corpus --out $base \
    --threads 1 &
proxy_base=$!
$bin pretrain --preset study-target --tokens 4000000 --also math=0.2 --corpus $corpus \
    --out $target --threads 1
wait $proxy_base

# Every stage jitters each field's split (log-normal σ 0.5): four of the six families keep a
# field's split fixed for the whole run, and then nothing in a run tells the domains of a
# field apart (the agent's credit features read within fields; issue 21). Set here, not in the
# collection config, which the headroom reading's runs also name.
$bin collect --config experiments/collect-study-v2.toml --set "corpus=$corpus" --set "base=$base" \
    --set families.within_jitter=0.5 "${fast[@]}" --out runs/collect-env2 --workers 2
# The agent's settings chosen on held-out proxy seeds 100-102 (never a reported seed), in K-D
# and 2-D together: the critics' target and the history window, each with and without the
# critics choosing among 16 candidate mixtures, and with and without exploring within fields
# at decision time (4 trainings, 16 candidates).
# (Skipped once chosen: artifacts of an older format cannot be reloaded by a newer binary.)
[ -f runs/select-env2/selection.json ] || $bin select-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
    --run experiments/collect-study-v2.toml "${run_sets[@]}" --setting 'space.level="fields"' \
    --seeds 100,101,102 --set 'algorithm="cql"' --set 'sft.weighting="advantage"' \
    --grid 'cql.critic_target="td","return"' --grid net.history=0,24 \
    --grid decision.candidates=0,16 --grid decision.explore=0,0.3 --out runs/select-env2 --workers 2
$bin mixmin --run experiments/collect-study-v2.toml --set "corpus=$corpus" --set "base=$base" \
    "${fast[@]}" --out runs/mixmin-env2 --workers 2

# Decision quality against the number of trajectories (issue 21, point 6): the chosen settings
# trained on the first 128 and 256 trajectories, beside the chosen agent (all 384) and uniform
# on the held-out proxy seeds.
chosen=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("\n".join(s["shared"] + s["chosen_settings"]))' runs/select-env2/selection.json)
for n in 128 256; do
    if [ ! -f runs/env2/agent-$n/agent.json ]; then
        sets=()
        while IFS= read -r kv; do if [ -n "$kv" ]; then sets+=(--set "$kv"); fi; done <<< "$chosen"
        $bin train-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
            --limit $n "${sets[@]}" --out runs/env2/agent-$n
    fi
done
# (Skipped once its table is written: its agents are of format 5, which the rebuilt binary
# refuses to load, even to re-read finished runs.)
[ -f runs/env2-curve/table.md ] || $bin compare --config experiments/env2/curve.toml --out runs/env2-curve
# The agent with the collection's per-domain prior (artifact version 6), chosen over the
# version-5 one on the same held-out seeds; the math and 2-D settings' version-5 rows stay as
# they were, the prior agent's rows go beside them (runs/env2-{math,2d}-prior), and the other
# settings run it alone.
bash scripts/env2-prior.sh

for s in ${settings[*]}; do
    if [ "$s" = source ]; then
        # Another source mix: six general domains at equal weight (80%), and the math domains
        # exactly as the target base read them (20%).
        mix=$(python3 scripts/env2-source-mix.py $corpus/manifest.json $target/run.json)
        $bin pretrain --preset study-target --tokens 4000000 --corpus $corpus --mix "$mix" \
            --out runs/study-v5/target-src --threads 1
    fi
    out=runs/env2-$s
    $bin compare --config "experiments/env2/$s.toml" --out "$out"
    # The 5-seed table below is written into the same folder: keep the 3-seed one beside it.
    cp "$out/table.json" "$out/table-3seeds.json"
    cp "$out/table.md" "$out/table-3seeds.md"
    # Seeds 3-4 for the agent and the three strongest baselines of the 3-seed table (by mean
    # balanced score; the oracle is a reference line, not a baseline).
    python3 scripts/env2-five-seeds.py "experiments/env2/$s.toml" "$out/table-3seeds.json" \
        "$out/compare-5.toml"
    $bin compare --config "$out/compare-5.toml" --out "$out"
done
