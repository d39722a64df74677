#!/usr/bin/env bash
# The Python environments of the interop tests (crates/cli/tests/interop.rs), where the upstream
# libraries themselves load what mixagent writes. Idempotent: seconds when they exist.
#   - $CACHE/venv-torch: the eager-PyTorch venv of bench/setup_ref.sh (the torch wheel libtorch
#     comes from, no CUDA wheels) plus transformers, accelerate, datasets, PyYAML and pytest
#     (scripts/python.sh also runs the `mixagent.hf` tests with a real Trainer in it);
#   - $CACHE/venv-levanter: marin-levanter (JAX on CPU), apart, since it pins another
#     transformers. Its release does not declare GitPython, which it imports.
# Prints `MIXAGENT_INTEROP_PYTHON=...` and `MIXAGENT_LEVANTER_PYTHON=...` on stdout, for
# `export $(bash scripts/setup-interop.sh)`.
#
#   MIXAGENT_CACHE   cache folder (default ~/.cache/mixagent)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE="${MIXAGENT_CACHE:-$HOME/.cache/mixagent}"
# The versions tested (README, "Steering your own trainer").
TORCH_PINS=(transformers==5.23.0 accelerate==1.15.0 datasets==5.2.0 pyyaml==6.0.3 pytest==9.2.0)
LEVANTER_PINS=(marin-levanter==0.2.20.dev202606180959 gitpython==3.2.1)

# has PYTHON PIN...: whether the venv has exactly these versions.
has() {
    local py=$1
    shift
    [[ -x $py ]] && "$py" - "$@" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    assert m.version(name) == version, pin
PY
}

bash bench/setup_ref.sh >&2
torch_py="$CACHE/venv-torch/bin/python"
if ! has "$torch_py" "${TORCH_PINS[@]}"; then
    echo "setup-interop: installing ${TORCH_PINS[*]} into $CACHE/venv-torch" >&2
    "$torch_py" -m pip install -q --disable-pip-version-check "${TORCH_PINS[@]}" >&2
fi

levanter_py="$CACHE/venv-levanter/bin/python"
if ! has "$levanter_py" "${LEVANTER_PINS[@]}"; then
    echo "setup-interop: building $CACHE/venv-levanter (${LEVANTER_PINS[*]}; a few minutes once)" >&2
    rm -rf "$CACHE/venv-levanter.tmp"
    python3 -m venv "$CACHE/venv-levanter.tmp"
    "$CACHE/venv-levanter.tmp/bin/python" -m pip install -q --disable-pip-version-check \
        "${LEVANTER_PINS[@]}" >&2
    # Built under .tmp and moved into place once complete, so a killed install leaves no
    # half-built venv; the scripts' shebangs name the folder, so they are rewritten.
    rm -rf "$CACHE/venv-levanter"
    mv "$CACHE/venv-levanter.tmp" "$CACHE/venv-levanter"
    grep -rlF "$CACHE/venv-levanter.tmp" "$CACHE/venv-levanter/bin" |
        xargs -r sed -i "s|$CACHE/venv-levanter.tmp|$CACHE/venv-levanter|g"
fi
echo "MIXAGENT_INTEROP_PYTHON=$torch_py"
echo "MIXAGENT_LEVANTER_PYTHON=$levanter_py"
