#!/usr/bin/env bash
# The main job on the built-in default (README): setup, build, prepare the default corpus,
# print its per-domain table. Later stages (pretrain, collect, train-agent, compare) join here
# as they land.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo build --release --locked -p mixagent
bin=target/release/mixagent
if [[ -f data/default/manifest.json ]]; then
    echo "demo: data/default exists; showing it (delete it or use --force to rebuild)" >&2
else
    "$bin" prepare --config configs/default.toml --out data/default
fi
"$bin" corpus stats --corpus data/default
"$bin" bench sampler --corpus data/default --steps 1000 --repeats 5
