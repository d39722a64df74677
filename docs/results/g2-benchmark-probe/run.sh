cd /work/main
C=runs/headroom-demo-v2-3x/confirm/runs; F=~/.cache/mixagent/persist/runs/v2w/fbtasks
B=$C/schedule__root_.cache_mixagent_persist_runs_headroom-demo-v2-ec9f27220f3c291d
U=$C/schedule__root_.cache_mixagent_persist_runs_headroom-demo-v2-372ec06beb6a63c1
for s in 100 101 102 103 104; do
  [ -f $F/uniform-$s.json ] || ~/.cache/mixagent/persist/runs/v2w/mixagent-s5c eval $U/seed-$s --suite full --corpus $F/v2b --fields general,math --task-items 400 --json $F/uniform-$s.json --threads 1 >/dev/null 2>&1
  [ -f $F/best-$s.json ] || ~/.cache/mixagent/persist/runs/v2w/mixagent-s5c eval $B/seed-$s --suite full --corpus $F/v2b --fields general,math --task-items 400 --json $F/best-$s.json --threads 1 >/dev/null 2>&1
done
