# Sourced by the version-2 agent scripts (env2-prior, env2-regprior, env2-band, env2-select,
# env2-tilted, env2-more): the steps they share. Not run on its own.

# private_binary DIR: sets `bin` to DIR/mixagent, this checkout's release build copied there
# once (written beside it and renamed), so that rebuilding the tree while the caller runs cannot
# change it midway (child processes are started from the running binary's path).
private_binary() {
    mkdir -p "$1"
    bin=$1/mixagent
    if [ ! -x "$bin" ]; then
        bash scripts/setup.sh
        source scripts/cargo-target.sh
        cargo build --release --locked -p mixagent
        cp "$CARGO_TARGET_DIR/release/mixagent" "$bin.tmp" && mv "$bin.tmp" "$bin"
    fi
}

# needs WHO PATH...: stops WHO, naming the first missing PATH and the script that makes it.
needs() {
    local who=$1 need
    shift
    for need in "$@"; do
        [ -e "$need" ] || { echo "$who: $need is missing: run scripts/study-env2.sh first" >&2; exit 1; }
    done
}

# selection_sets SELECTION: sets the array `sets` to the --set arguments of a selection's shared
# and chosen settings (runs/select-env2/selection.json's shape). Read before use, so that a
# selection that does not parse stops the caller under `set -e` (a process substitution would
# hide the failure).
selection_sets() {
    local chosen
    chosen=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("\n".join(s["shared"] + s["chosen_settings"]))' "$1")
    sets=()
    while IFS= read -r kv; do if [ -n "$kv" ]; then sets+=(--set "$kv"); fi; done <<< "$chosen"
}

# with_decision FROM OUT KEY VALUE: OUT becomes a copy of the agent at FROM with one decision
# setting, decision.KEY = VALUE (JSON), unless OUT already holds one; written beside it and
# renamed, so an interrupted copy is never taken for a finished one. Decision settings only:
# the same network, as select-agent shares a training between decision candidates.
with_decision() {
    local from=$1 out=$2
    [ -f "$out/agent.json" ] && return 0
    rm -rf "$out.tmp" && cp -r "$from" "$out.tmp"
    python3 -c 'import json, sys; p = sys.argv[1] + "/agent.json"; a = json.load(open(p)); a["decision"][sys.argv[2]] = json.loads(sys.argv[3]); json.dump(a, open(p, "w"), indent=2)' "$out.tmp" "$3" "$4"
    mv "$out.tmp" "$out"
}

# train_selected OUT SET...: unless OUT holds an agent, trains the settings of
# runs/env2-prior/selection.json (the prior agent's) with the extra --set arguments SET... on
# runs/collect-env2 into OUT, with the binary of `private_binary`.
train_selected() {
    local out=$1 extra=() kv
    shift
    [ -f "$out/agent.json" ] && return 0
    for kv in "$@"; do extra+=(--set "$kv"); done
    selection_sets runs/env2-prior/selection.json
    $bin train-agent --trajectories runs/collect-env2 --config experiments/agent-study.toml \
        "${sets[@]}" "${extra[@]}" --out "$out"
}
