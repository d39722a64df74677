# Scores the 60 static-mixture models on the target (20 mixtures x 3 seeds) and the two bases
# on the split copies (make_split.py first): PMI feedback on half A, fb_math_kind on half B
# with the living benchmarks. Two models at a time, one thread each.
R=~/.cache/mixagent/persist/runs; H=$R/headroom-demo-v2-3x; O=$R/v2w/pmi/split
B=$R/v2w/mixagent-pmi
mkdir -p $O
score() { # model-dir out-name
  for c in own any; do
    [ -f $O/$2.$c.json ] || $B eval $1 --suite feedback --corpus $R/v2w/pmi/v2s-$c --fields math --items 1024 --windows 1 --json $O/$2.$c.json --threads 1 >/dev/null 2>&1
  done
  [ -f $O/$2.kind.json ] || $B eval $1 --suite full --corpus $R/v2w/pmi/v2s-kind --fields general,math --items 8 --windows 1 --task-items 400 --json $O/$2.kind.json --threads 1 >/dev/null 2>&1
}
jobs_=()
list() {
  echo "$R/demo-v2/base base-proxy"; echo "$R/demo-v2/target base-target"
  for d in $H/statics-target/runs/*/seed-* $H/confirm/runs/*/seed-*; do
    [ -d $d/checkpoints ] || continue
    phase=$(basename $(dirname $(dirname $(dirname $d))))
    echo "$d $phase.$(python3 -c "import json; print(json.load(open('$d/run.json'))['policy_name'])").$(basename $d)"
  done
}
export -f score; export R O B
list | xargs -P 2 -L 1 bash -c 'score $0 $1'
