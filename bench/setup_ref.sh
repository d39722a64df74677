#!/usr/bin/env bash
# Builds the Python environment for the PyTorch eager reference trainer (bench/train_ref.py):
# a venv at $CACHE/venv-torch with the same torch==2.13.0 wheel that scripts/setup.sh unpacks
# libtorch from, so `mixagent bench train` compares the Rust trainer with eager PyTorch on the
# same kernels.
#
# Only what `import torch` needs on CPU is installed: the torch wheel with --no-deps (none of the
# ~3 GB of CUDA wheels it declares), the cudart and cupti wheels (libtorch_cpu.so NEEDS libcudart
# and libcupti even on CPU), torch's pure-Python dependencies, numpy and matplotlib (plots). `import torch` also
# loads libtorch_cuda.so, which NEEDS cuBLAS, cuDNN, cuFFT, cuSPARSE, NCCL, NVSHMEM, ...; for
# those the script compiles empty stand-ins (stub_cuda_libs below: the real sonames and symbol
# versions, every function returns an error code) into the venv's nvidia/cu13/lib, which is on
# libtorch's RPATH. Nothing calls them on CPU; `--device cuda` would need the real wheels, which
# this script does not install. Needs `cc`, `nm`, `readelf` and `ldd` (the C toolchain that
# the Rust build uses anyway).
#
# Idempotent: skipped in seconds when the venv already imports the right torch; otherwise the
# venv is rebuilt from scratch. The wheels are taken from $CACHE/wheels (scripts/setup.sh puts
# them there) and downloaded with pip only when missing.
#
#   MIXAGENT_CACHE   cache folder (default ~/.cache/mixagent)
set -Eeuo pipefail

CACHE="${MIXAGENT_CACHE:-$HOME/.cache/mixagent}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
WHEELS="$CACHE/wheels"
VENV="$CACHE/venv-torch"
TORCH_VERSION=2.13.0
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
# torch's pure-Python run-time dependencies (from the wheel's Requires-Dist; setuptools is only
# needed for building C++ extensions and is not installed).
PY_DEPS=(filelock "typing-extensions>=4.10.0" "sympy>=1.13.3" "networkx>=2.5.1" jinja2 "fsspec>=0.8.5" numpy matplotlib)

log() { echo "setup_ref: $*" >&2; }
trap 'log "FAILED (exit $?, line $LINENO); re-run to rebuild the venv"' ERR

check() {
    "$VENV/bin/python" - "$TORCH_VERSION" <<'PY' 2>/dev/null
import sys
import torch
torch.set_num_threads(2)
assert torch.__version__.split("+")[0] == sys.argv[1], torch.__version__
import numpy  # noqa: F401
import matplotlib  # noqa: F401  (scripts/plot_metrics.py)
print(torch.__version__)
PY
}

# wheel GLOB PIP-SPEC: the cached wheel, downloaded with pip first when missing.
wheel() {
    local f
    f=$(compgen -G "$WHEELS/$1" | sort | tail -n 1 || true)
    if [[ -z $f ]]; then
        mkdir -p "$WHEELS"
        log "downloading $2 (pip)"
        python3 -m pip download --quiet --no-deps -d "$WHEELS" "$2" >&2
        f=$(compgen -G "$WHEELS/$1" | sort | tail -n 1)
    fi
    echo "$f"
}

# stub_cuda_libs SITE_PACKAGES: compiles a stub for every library that torch/lib/*.so NEEDS and
# the loader cannot find. Each stub has the real soname, defines the symbol-version nodes the
# torch libraries ask of it (`libcudnn.so.9`, `NVSHMEM`, ...) and every symbol they import from
# it, as a function returning 999 (an error status in every CUDA library's API).
stub_cuda_libs() {
    local work
    work=$(mktemp -d)
    python3 - "$1" "$work" <<'PY'
import collections, glob, os, re, subprocess, sys

sp, work = sys.argv[1], sys.argv[2]
lib = os.path.join(sp, "torch", "lib")
out = os.path.join(sp, "nvidia", "cu13", "lib")  # on libtorch's RPATH
os.makedirs(out, exist_ok=True)
torch_libs = sorted(glob.glob(os.path.join(lib, "*.so")))
env = dict(os.environ, LD_LIBRARY_PATH=out)

def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, env=env).stdout

missing, found = set(), set()
for f in torch_libs:
    for line in run("ldd", f).splitlines():
        m = re.match(r"\s*(\S+) => (not found|(/\S+))", line)
        if m:
            (missing if m.group(2) == "not found" else found).add(m.group(3) or m.group(1))
if not missing:
    sys.exit(0)

# Which version node each missing library must define (readelf's "Version needs").
ver_file = {}
for f in torch_libs:
    cur = None
    for line in run("readelf", "-V", "-W", f).splitlines():
        m = re.search(r"File: (\S+)", line)
        if m:
            cur = m.group(1)
        m = re.search(r"Name: (\S+)\s+Flags", line)
        if m and cur in missing:
            ver_file[m.group(1)] = cur

defined = set()
for f in torch_libs + sorted(found):
    for line in run("nm", "-D", "--defined-only", f).splitlines():
        parts = line.split()
        if len(parts) == 3:
            defined.add(parts[2].split("@")[0])

# plan[file][version or None] = symbols
plan = collections.defaultdict(lambda: collections.defaultdict(set))
for f in torch_libs:
    for line in run("nm", "-D", "--undefined-only", f).splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0] not in "Uw":
            continue
        sym, _, ver = parts[1].partition("@")
        ver = ver.lstrip("@")
        if ver:
            if ver in ver_file:
                plan[ver_file[ver]][ver].add(sym)
        elif sym not in defined and not re.match(r"_?Py|_ITM_|__gmon_start__$", sym):
            # Unversioned and unresolved (Python's C API aside): assign by prefix.
            owner = None
            for prefix, stem in [("cuFile", "libcufile"), ("nccl", "libnccl"),
                                 ("cusparseLt", "libcusparseLt"), ("nvshmem", "libnvshmem_host"),
                                 ("curand", "libcurand"), ("cu", "libcuda")]:
                if sym.startswith(prefix):
                    owner = next((m for m in sorted(missing) if m.startswith(stem + ".so.")), None)
                    break
            plan[owner or sorted(missing)[0]][None].add(sym)

for so in sorted(missing):
    nodes = plan[so]
    versions = sorted(v for v in nodes if v) or [so]
    syms = sorted(set().union(*nodes.values())) if nodes else []
    c = [f'int s{i}(void) __asm__("{s}");\nint s{i}(void) {{ return 999; }}\n' for i, s in enumerate(syms)]
    c.append("int mixagent_cuda_stub(void) { return 0; }\n")
    vmap = []
    for v in versions:
        vs = nodes.get(v, set())
        if v == versions[0]:  # unversioned imports bind to the first node
            vs = vs | nodes.get(None, set()) | {"mixagent_cuda_stub"}
        vmap.append(f"{v} {{\n  global:\n" + "".join(f"    {s};\n" for s in sorted(vs)) + "  local: *;\n};\n")
    src, ver = os.path.join(work, so + ".c"), os.path.join(work, so + ".map")
    open(src, "w").write("".join(c))
    open(ver, "w").write("".join(vmap))
    subprocess.run(["cc", "-shared", "-fPIC", "-O0", f"-Wl,-soname,{so}", f"-Wl,--version-script={ver}",
                    "-o", os.path.join(out, so), src], check=True)
print(" ".join(sorted(missing)))
PY
    rm -rf "$work"
}

if version=$(check); then
    log "cached ($VENV, torch $version)"
    exit 0
fi

start=$EPOCHREALTIME
torch_whl=$(wheel "torch-$TORCH_VERSION-cp311-cp311-*.whl" "torch==$TORCH_VERSION")
cudart_whl=$(wheel "nvidia_cuda_runtime-$CUDART_VERSION-*.whl" "nvidia-cuda-runtime==$CUDART_VERSION")
cupti_whl=$(wheel "nvidia_cuda_cupti-$CUPTI_VERSION-*.whl" "nvidia-cuda-cupti==$CUPTI_VERSION")

PY=python3
command -v python3.11 >/dev/null && PY=python3.11
[[ $($PY -c 'import sys; print("%d%d" % sys.version_info[:2])') == 311 ]] || {
    log "needs Python 3.11 (the cached torch wheel is cp311)"
    exit 1
}

rm -rf "$VENV"
$PY -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_DEPS[@]}" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "$torch_whl" "$cudart_whl" "$cupti_whl" >&2
stubs=$(stub_cuda_libs "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')")
[[ -z $stubs ]] || log "compiled CPU stand-ins for the CUDA libraries torch NEEDS but are not installed: $stubs"

version=$(check) || {
    log "the venv was built but \`import torch\` fails:"
    "$VENV/bin/python" -c "import torch" >&2 || true
    exit 1
}
log "done in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s ($VENV, torch $version)"
