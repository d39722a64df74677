#!/usr/bin/env bash
# The main job on the built-in default (README): set-up (libtorch, the raw corpora), the
# build, then `mixagent demo`: prepare the default corpus, pretrain a proxy and a target base,
# collect mixing trajectories on the proxy, train the agent, and compare it with every baseline
# steering the target model over 3 seeds. Ends with the table and the report's path. Rerunning
# resumes or skips finished steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/cargo-target.sh   # the build folder scripts/test.sh uses (CARGO_TARGET_DIR)
cargo build --release --locked -p mixagent
exec "$CARGO_TARGET_DIR/release/mixagent" demo "$@"
