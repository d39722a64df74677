# Rescores the study reading's finished static-mixture runs on the target (selection seeds 0-2)
# and the target base with more feedback items than the runs observe (48 a field), so the
# final score's seed noise can be read at each size (read.py). Needs the runs' checkpoints.
set -e
H=${H:-runs/headroom-study-v2}; B=${B:-mixagent}; O=${O:-runs/final-items-probe}
mkdir -p $O
score() { # checkpoint-or-run name
  for n in 256 1024; do
    [ -f $O/$2.$n.json ] || $B eval $1 --suite feedback --fields general,math --items $n --windows 1 --json $O/$2.$n.json --threads 1 >/dev/null
  done
}
score runs/study-v2/target base
for d in $H/statics-target/runs/*/seed-*; do
  name=$(python3 -c "import json; r=json.load(open('$d/run.json')); print(r['policy_name'] if len(r['stages']) == r['config']['stages'] else '')" 2>/dev/null || true)
  [ -n "$name" ] || continue   # not finished yet
  score $d "$name.$(basename $d)"
done
