#!/usr/bin/env bash
# The Python environments of the interop tests (crates/cli/tests/interop.rs), where the upstream
# libraries themselves load what mixagent writes. Idempotent: seconds when they exist.
#   - $CACHE/venv-torch: the eager-PyTorch venv of bench/setup_ref.sh (the torch wheel libtorch
#     comes from, no CUDA wheels) plus transformers, accelerate, datasets, PyYAML, pytest and
#     megatron-core (scripts/python.sh also runs the `mixagent.hf` tests with a real Trainer in it);
#   - $CACHE/venv-levanter: marin-levanter (JAX on CPU), apart, since it pins another
#     transformers. Its release does not declare GitPython, which it imports.
#   - $CACHE/venv-olmo: ai2-olmo-core, apart, since it pins older huggingface_hub, rich and
#     filelock than transformers wants; $CACHE/venv-mosaic: mosaicml-streaming, apart, since it
#     pins numpy < 2.2 and transformers < 5. Both take torch from venv-torch (a .pth file puts
#     venv-torch's site-packages after their own) instead of a second copy of torch.
# Prints `MIXAGENT_INTEROP_PYTHON=...`, `MIXAGENT_LEVANTER_PYTHON=...`, `MIXAGENT_OLMO_PYTHON=...`
# and `MIXAGENT_MOSAIC_PYTHON=...` on stdout, for `export $(bash scripts/setup-interop.sh)`.
#
#   MIXAGENT_CACHE   cache folder (default ~/.cache/mixagent)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE="${MIXAGENT_CACHE:-$HOME/.cache/mixagent}"
# The versions tested (README, "Steering your own trainer").
TORCH_PINS=(transformers==5.23.0 accelerate==1.15.0 datasets==5.2.0 pyyaml==6.0.3 pytest==9.2.0
    megatron-core==0.16.1)
LEVANTER_PINS=(marin-levanter==0.2.20.dev202606180959 gitpython==3.2.1)
OLMO_PINS=(ai2-olmo-core==3.0.0)
# torchvision (which streaming requires) at the release built for torch 2.13.
MOSAIC_PINS=(mosaicml-streaming==0.13.0 numpy==2.1.3 transformers==4.57.6 torchvision==0.28.0)

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

# venv NAME [SITE-PACKAGES-BELOW] PIN...: builds $CACHE/NAME with these pins under NAME.tmp and
# moves it into place once complete, so a killed install leaves no half-built venv (the
# scripts' shebangs name the folder, so they are rewritten). With a folder as second argument,
# that site-packages is on the venv's path after its own.
venv() {
    local name=$1 below=""
    shift
    if [[ -d ${1:-} ]]; then
        below=$1
        shift
    fi
    local dir="$CACHE/$name"
    has "$dir/bin/python" "$@" && return
    echo "setup-interop: building $dir ($*; a few minutes once)" >&2
    rm -rf "$dir.tmp"
    python3 -m venv "$dir.tmp"
    if [[ -n $below ]]; then
        local site
        site=$("$dir.tmp/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        echo "$below" >"$site/zz-below.pth"
    fi
    "$dir.tmp/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    grep -rlF "$dir.tmp" "$dir/bin" | xargs -r sed -i "s|$dir.tmp|$dir|g"
}

venv venv-levanter "${LEVANTER_PINS[@]}"
torch_site=$("$torch_py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
venv venv-olmo "$torch_site" "${OLMO_PINS[@]}"
venv venv-mosaic "$torch_site" "${MOSAIC_PINS[@]}"
echo "MIXAGENT_INTEROP_PYTHON=$torch_py"
echo "MIXAGENT_LEVANTER_PYTHON=$CACHE/venv-levanter/bin/python"
echo "MIXAGENT_OLMO_PYTHON=$CACHE/venv-olmo/bin/python"
echo "MIXAGENT_MOSAIC_PYTHON=$CACHE/venv-mosaic/bin/python"
