#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need through scripts/setup.sh
# (cached, seconds when warm), then runs the whole workspace's tests on the real data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# The real-corpus tests must not skip here: setup has just installed the raw sources.
export MIXAGENT_REQUIRE_DATA=1
cargo test --workspace --locked
