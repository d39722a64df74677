# Scores every kept model of the third demo reading on the three copies (make.py first).
set -e
R=~/.cache/mixagent/persist/runs; H=$R/headroom-demo-v2-3x; O=$R/v2w/pmi/scores
B=$R/v2w/mixagent-pmi
mkdir -p $O
score() { # model-dir out-name
  for c in own any shape; do
    [ -f $O/$2.$c.json ] || $B eval $1 --suite feedback --corpus $R/v2w/pmi/v2p-$c --fields math --items 1024 --windows 1 --json $O/$2.$c.json --threads 2 >/dev/null 2>&1
  done
}
score $R/demo-v2/base base-proxy
score $R/demo-v2/target base-target
for phase in relevance statics-target statics-proxy confirm; do
  for d in $H/$phase/runs/*/seed-*; do
    [ -d $d/checkpoints ] || continue
    name=$(python3 -c "import json,sys; print(json.load(open('$d/run.json'))['policy_name'])")
    score $d "$phase.$name.$(basename $d)"
  done
done
