#!/usr/bin/env bash
# The version-1 study-scale pipeline behind RESULTS.md, end to end: the study proxy base, 384 trajectories,
# the agent, the study target model, then the comparison settings named on the command line
# (default: code 2d math). Every step resumes or skips finished work, so the script can be rerun
# after an interruption (a session's end, a kill) and loses nothing. About 3.5 hours on 2 cores.
#
#   bash scripts/study.sh                # all three settings
#   bash scripts/study.sh code           # one setting
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A private copy of the binary: rebuilding the tree while this runs must not change it midway.
mkdir -p runs/study
[ -x runs/study/mixagent ] || cp target/release/mixagent runs/study/mixagent
bin=runs/study/mixagent
settings=("${@:-code 2d math}")
[ -d data/default ] || $bin prepare --config configs/v1.toml --out data/default   # the version-1 corpus of RESULTS.md
$bin pretrain --preset study --tokens 4000000 --out runs/study/base
$bin collect --config experiments/collect-study.toml --workers 2
[ -f runs/agent-study/agent.json ] || \
  $bin train-agent --trajectories runs/collect-study --config experiments/agent-study.toml --out runs/agent-study
$bin pretrain --preset study-target --tokens 4000000 --out runs/study/target
for s in ${settings[*]}; do
  $bin compare --config "experiments/compare-study-$s.toml"
done
