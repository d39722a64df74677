# Sourced by the version-2 agent scripts (env2-prior, env2-select, env2-tilted, env2-more): the
# two steps they share. Not run on its own.

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
