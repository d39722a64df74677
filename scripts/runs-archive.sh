#!/usr/bin/env bash
# Keeps a long experiment's finished runs across machines, without their checkpoints.
#
#   bash scripts/runs-archive.sh pack RUN_DIR ARCHIVE.tar.xz    # the records of RUN_DIR
#   bash scripts/runs-archive.sh unpack ARCHIVE.tar.xz RUN_DIR  # back into RUN_DIR
#
# A study reading (`mixagent headroom`, `mixagent compare`) takes longer than a session, and a
# machine's cache may not survive to the next one. `pack` keeps only what the reports are built
# from: every `run.json` (a steered run's stages and observations), `eval-full.json` and
# `base-eval-full.json` (benchmark scores), `final-feedback-N.json` and
# `base-final-feedback-N.json` (the final scores of `final_items`), and the `schedules/` files; never
# checkpoints or models. `unpack` puts them back, so a rerun of the same command finds those runs
# finished and goes on with the rest; a run packed before its scores were written has no
# checkpoint to score it with, so `compare` trains it again (same seed, same run). The bases
# must be pretrained again first, with the same command: `compare` refuses a finished run whose
# recorded base fingerprint (SHA-256 of its `model.safetensors`) differs from the base it is
# given now, so a base that did not come out bit-identical is caught, not mixed in (on another
# kind of CPU float32 rounding differs and it will not be: the config's `equivalent_bases` then
# names the other machine's bases, README "compare"). An unpack never overwrites a run that is
# already there.
#
# The archive is deterministic (sorted names, fixed owner and time), so packing the same records
# twice gives the same bytes.
set -euo pipefail

die() { echo "runs-archive: $*" >&2; exit 1; }

case "${1:-}" in
pack)
    [[ $# -eq 3 ]] || die "usage: pack RUN_DIR ARCHIVE.tar.xz"
    dir=$2 archive=$3
    [[ -d $dir ]] || die "$dir is not a folder"
    list=$(mktemp)
    trap 'rm -f "$list"' EXIT
    (cd "$dir" && find . -path '*/checkpoints' -prune -o -type f \
        \( -name run.json -o -name eval-full.json -o -name base-eval-full.json \
        -o -name 'final-feedback-*.json' -o -name 'base-final-feedback-*.json' \
        -o -path './schedules/*.json' \) -print | LC_ALL=C sort) >"$list"
    n=$(grep -c '/run.json$' "$list" || true)
    [[ -s $list ]] || die "$dir holds no run records"
    mkdir -p "$(dirname "$archive")"
    tar -C "$dir" --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00Z' \
        --no-recursion -cf - -T "$list" | xz -9e -T1 >"$archive.tmp"
    mv "$archive.tmp" "$archive"
    echo "runs-archive: $n runs of $dir in $archive ($(du -h "$archive" | cut -f1))"
    ;;
unpack)
    [[ $# -eq 3 ]] || die "usage: unpack ARCHIVE.tar.xz RUN_DIR"
    archive=$2 dir=$3
    [[ -f $archive ]] || die "$archive does not exist"
    xz -t "$archive" 2>/dev/null || die "$archive is corrupt or truncated (xz test failed); pack it again"
    mkdir -p "$dir"
    tar -C "$dir" --skip-old-files -xJf "$archive"
    echo "runs-archive: $(tar -tJf "$archive" | grep -c '/run.json$' || true) runs from $archive in $dir (runs already there kept)"
    ;;
*)
    die "usage: pack RUN_DIR ARCHIVE.tar.xz | unpack ARCHIVE.tar.xz RUN_DIR"
    ;;
esac
