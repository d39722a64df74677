#!/usr/bin/env bash
# A refactor's behaviour check: runs the same smoke pipeline (prepare, pretrain, a 4-trajectory
# collection, a 6-policy × 2-seed compare with benchmarks) with two mixagent binaries and
# compares every result file, ignoring timings, format_version keys and the two output folders'
# names. Same seeds, so the results must be identical.
#
#   cp target/release/mixagent /tmp/before        # at the old commit
#   cargo build --release -p mixagent              # at the new one
#   bash scripts/before-after.sh /tmp/before target/release/mixagent runs/before-after
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 3 ]] || { echo "usage: $0 BEFORE_BIN AFTER_BIN OUT_DIR" >&2; exit 2; }
out=$(realpath -m "$3")
pipeline() {
    local bin=$1 dir=$2
    mkdir -p "$dir"
    [ -d "$dir/data" ] || "$bin" prepare --config configs/smoke.toml --out "$dir/data" >/dev/null 2>&1
    [ -d "$dir/base" ] || "$bin" pretrain --corpus "$dir/data" --preset smoke --tokens 200000 --also math=0.05 --out "$dir/base" >/dev/null 2>&1
    "$bin" collect --config experiments/collect-smoke.toml --set corpus="$dir/data" --set base="$dir/base" --out "$dir/collect" --workers 2 >/dev/null 2>&1
    cat > "$dir/compare.toml" <<T
run = "experiments/collect-smoke.toml"
set = ["corpus=$dir/data", "base=$dir/base", "stages=3"]
seeds = [0, 1]
policies = ["uniform", "fixed:0.7", "dbl", "doremi", "odm", "regmix:$dir/collect"]
task_items = 8
T
    "$bin" compare --workers 2 --threads 1 --config "$dir/compare.toml" --out "$dir/cmp" >/dev/null 2>&1
}
pipeline "$(realpath "$1")" "$out/before"
pipeline "$(realpath "$2")" "$out/after"
python3 - "$out" <<'PY'
import glob, json, sys
out = sys.argv[1]
def norm(x):
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()
                if not any(t in k for t in ("secs", "time", "elapsed", "format_version"))}
    if isinstance(x, list):
        return [norm(v) for v in x]
    if isinstance(x, str):
        for side in ("before", "after"):  # paths, and the run folder names made from them
            x = x.replace(f"{out}/{side}", "OUT").replace(f"{out}/{side}".replace("/", "_"), "OUT")
        return x
    return x
def load(path):
    with open(path) as f:
        return [norm(json.loads(l)) for l in f] if path.endswith(".jsonl") else norm(json.load(f))
before = f"{out}/before"
files = (glob.glob(f"{before}/collect/trajectories/*.json") + glob.glob(f"{before}/cmp/runs/*/seed-*/*.json")
         + [f"{before}/cmp/table.json", f"{before}/base/metrics.jsonl"])
slug = lambda p: p.replace(f"{before}/", f"{out}/after/").replace(before.replace("/", "_"), f"{out}/after".replace("/", "_"))
differ = [f for f in files if load(f) != load(slug(f))]
for f in differ:
    print("differs:", f)
print(f"{len(files)} result files compared, {len(differ)} differ")
sys.exit(1 if differ or not files else 0)
PY
