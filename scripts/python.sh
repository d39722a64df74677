#!/usr/bin/env bash
# Builds the `mixagent` Python module (crates/py, an abi3 wheel, with maturin) into a virtual
# environment and runs its pytest suite and the result readers' (scripts/tests), then (with MIXAGENT_INTEROP_PYTHON) the `mixagent.hf`
# tests under a real Hugging Face Trainer. Idempotent: the environment (.deps/venv) and its
# packages (maturin, pytest, from the package registry) are reused when present.
#   VENV   the virtual environment (default .deps/venv)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-.deps/venv}
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import importlib.metadata as m; [m.version(n) for n in ("maturin", "pytest")]' 2>/dev/null ||
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check 'maturin>=1.9.4,<2' 'pytest>=8'
wheels=$(mktemp -d)
agent=$(mktemp -d)
trap 'rm -rf "$wheels" "$agent"' EXIT
"$VENV/bin/maturin" build --release --locked -m crates/py/Cargo.toml --out "$wheels"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheels"/*.whl
# An untrained agent artifact and the command line, for the tests that compare the module with
# `mixagent next` (in the test profile, whose libraries `cargo test` has already built).
cargo run -q --profile test -p mixagent-policy --example untrained_artifact -- "$agent/agent" >/dev/null
cargo build -q --profile test -p mixagent-controller --bin mixagent-next
MIXAGENT_TEST_AGENT="$agent/agent" MIXAGENT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/mixagent-next" \
    "$VENV/bin/python" -m pytest -q crates/py/tests
# The result readers behind RESULTS.md's tables (standard-library scripts, same pytest).
"$VENV/bin/python" -m pytest -q scripts/tests
# `mixagent.hf` under a real Hugging Face Trainer (torch, transformers, accelerate, datasets), in
# the interop venv when scripts/setup-interop.sh has built it (scripts/test.sh exports it).
if [[ -n ${MIXAGENT_INTEROP_PYTHON:-} ]]; then
    "$MIXAGENT_INTEROP_PYTHON" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheels"/*.whl
    "$MIXAGENT_INTEROP_PYTHON" -m pytest -q crates/py/tests_hf
elif [[ -n ${MIXAGENT_REQUIRE_INTEROP:-} ]]; then
    echo "python.sh: MIXAGENT_INTEROP_PYTHON is not set: export \$(bash scripts/setup-interop.sh)" >&2
    exit 1
else
    echo "python.sh: skipped the Trainer tests (crates/py/tests_hf): export \$(bash scripts/setup-interop.sh) to run them" >&2
fi
