#!/usr/bin/env bash
# The Python environment of the interop tests (crates/cli/tests/interop.rs): the upstream
# libraries themselves load what mixagent writes. Built on the eager-PyTorch venv of
# bench/setup_ref.sh (the same torch wheel libtorch comes from, no CUDA wheels), plus the pinned
# versions below from the package registry. Idempotent: seconds when the venv already has them.
# Prints the venv's python on stdout.
#
#   MIXAGENT_CACHE   cache folder (default ~/.cache/mixagent)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE="${MIXAGENT_CACHE:-$HOME/.cache/mixagent}"
# The versions tested (README, "Steering your own trainer").
PINS=(transformers==5.23.0 pyyaml==6.0.3)
bash bench/setup_ref.sh >&2
py="$CACHE/venv-torch/bin/python"
if ! "$py" - "${PINS[@]}" <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    assert m.version(name) == version, pin
PY
    echo "setup-interop: installing ${PINS[*]}" >&2
    "$py" -m pip install -q --disable-pip-version-check "${PINS[@]}" >&2
fi
echo "$py"
