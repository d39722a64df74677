#!/usr/bin/env bash
# Builds the `mixagent` Python module (crates/py, an abi3 wheel, with maturin) into a virtual
# environment and runs its pytest suite. Idempotent: the environment (.deps/venv) and its
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
# `mixagent next` (the test profile's build, which `cargo test` has already made).
cargo run -q -p mixagent-policy --example untrained_artifact -- "$agent/agent" >/dev/null
cargo build -q -p mixagent-controller --bin mixagent-next
MIXAGENT_TEST_AGENT="$agent/agent" MIXAGENT_BIN="$PWD/target/debug/mixagent-next" \
    "$VENV/bin/python" -m pytest -q crates/py/tests
