# Sourced by scripts/test.sh and scripts/demo.sh: one cargo build folder per machine, kept with
# the other caches, so the dependencies (libtorch's C++ wrapper, tokenizers, ...) compile once
# and a clean clone compiles only mixagent's own crates (their artifacts are told apart by the
# checkout's path). Past 20 GB it starts again empty. An explicit CARGO_TARGET_DIR wins.
if [[ -z ${CARGO_TARGET_DIR:-} ]]; then
    export CARGO_TARGET_DIR="${MIXAGENT_CACHE:-$HOME/.cache/mixagent}/target"
    if [[ -d $CARGO_TARGET_DIR ]] && (($(du -sk "$CARGO_TARGET_DIR" | cut -f1) > 20 * 1024 * 1024)); then
        echo "the build cache $CARGO_TARGET_DIR is over 20 GB: starting it again" >&2
        rm -rf "$CARGO_TARGET_DIR"
    fi
fi
echo "building in $CARGO_TARGET_DIR" >&2
