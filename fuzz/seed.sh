#!/usr/bin/env bash
# Seeds each fuzz target's corpus with real files of the local data and runs (when present),
# so the fuzzer starts from valid inputs and mutates them. Nothing here is committed.
set -eu  # no pipefail: `find | head` ends find with SIGPIPE
cd "$(dirname "${BASH_SOURCE[0]}")/.."
c=fuzz/corpus
mkdir -p $c/{shard,manifest,trajectory,artifact,config,controller,agent_config}
find data -name '*.bin' -size -64k 2>/dev/null | head -8 | while read -r f; do cp "$f" "$c/shard/"; done
find data -maxdepth 2 -name manifest.json 2>/dev/null | head -2 | while read -r f; do cp "$f" "$c/manifest/$(echo "$f" | tr / _)"; done
find runs -path '*trajectories/*.json' 2>/dev/null | head -4 | while read -r f; do cp "$f" "$c/trajectory/$(basename "$f")"; done
find runs -name run.json -path '*seed-0*' 2>/dev/null | head -2 | while read -r f; do cp "$f" "$c/trajectory/$(echo "$f" | tr / _)"; done
for a in runs/agent-demo runs/agent-study; do
    [[ -f $a/agent.json ]] || continue
    { cat "$a/agent.json"; printf '\xff'; cat "$a/policy.safetensors"; } > "$c/artifact/$(basename $a)"
done
cp experiments/*.toml "$c/config/"
cp experiments/agent-*.toml "$c/agent_config/"
cp examples/controller/state.json "$c/controller/"
cp crates/controller/tests/golden/*.json "$c/controller/" 2>/dev/null || true
ls $c/* | head -50 >/dev/null
for t in shard manifest trajectory artifact config controller agent_config; do echo "$t: $(ls $c/$t | wc -l) seeds"; done
