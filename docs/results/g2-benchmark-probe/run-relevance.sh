cd /work/main
F=~/.cache/mixagent/persist/runs/v2w/fbtasks; O=~/.cache/mixagent/persist/runs/v2w/fbrel
M=~/.cache/mixagent/persist/runs/v2w/mixagent-s5c
[ -f $O/base.json ] || $M eval runs/demo-v2/base --suite full --corpus $F/v2b --fields math --task-items 400 --json $O/base.json --threads 1 >/dev/null 2>&1
for d in runs/headroom-demo-v2-3x/relevance/runs/*/; do
  p=$(python3 -c "import json;print(json.load(open('$d/seed-0/run.json'))['policy'])" | sed 's|.*/single-||; s|-[0-9a-f]*\.json||')
  case $p in math_mispaired|math_misaligned|math_numbers|math_arithmetic|math_comparison|math_algebra)
    [ -f $O/$p.json ] || $M eval $d/seed-0 --suite full --corpus $F/v2b --fields math --task-items 400 --json $O/$p.json --threads 1 >/dev/null 2>&1;;
  esac
done
