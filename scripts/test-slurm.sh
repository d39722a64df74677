#!/usr/bin/env bash
# Runs scripts/collect.sbatch under a real single-node Slurm cluster (scripts/slurm-cluster.sh)
# on a collection CONFIG of 6 trajectories, into OUT, and checks what a cluster user meets:
#   1. `sbatch --array=0-2`: every element succeeds, each logs where the script says, and one
#      element requeued (killed) mid-trajectory with `scontrol requeue` runs again and resumes;
#      a follow-up job with `--dependency=afterok` runs once the array has succeeded;
#   2. with slices 1 and 2 deleted, resubmitting one element (`sbatch --array=2`, an array of
#      one element) redoes slice 2 of the original 3, not another slice, and `--array=1` the
#      rest, so the collection is complete again.
# The caller (the `slurm` test in crates/cli/tests/collect.rs) then checks OUT against the same
# plan collected locally. Needs root and Debian's slurmctld, slurmd, slurm-client and munge.
#
#   MIXAGENT=target/debug/mixagent bash scripts/test-slurm.sh CONFIG OUT
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=$(realpath "${1:?usage: MIXAGENT=BIN scripts/test-slurm.sh CONFIG OUT}")
out=$(realpath -m "${2:?usage: MIXAGENT=BIN scripts/test-slurm.sh CONFIG OUT}")
MIXAGENT=$(realpath "${MIXAGENT:?set MIXAGENT to the mixagent binary}")
export MIXAGENT
# The jobs inherit this environment: their logs show each stage and each resumed trajectory.
export MIXAGENT_LOG=info
sbatch_script=${COLLECT_SBATCH:-$repo/scripts/collect.sbatch}

# shellcheck source=slurm-cluster.sh
. "$repo/scripts/slurm-cluster.sh"
trap slurm_down EXIT
start=$SECONDS
slurm_up
echo "test-slurm: cluster up in $((SECONDS - start)) s ($SLURM_T)"
# Jobs start in the submission folder; the script logs to logs/ under it.
submit=$SLURM_T/submit
mkdir -p "$submit/logs"
cd "$submit"

fail() {
    echo "test-slurm: FAIL: $*" >&2
    local f
    for f in logs/*; do
        echo "---- $f" >&2
        tail -n 30 "$f" >&2
    done
    exit 1
}
tid() { printf 't-%05d' "$1"; }
done_ids() {
    local i
    for i in 0 1 2 3 4 5; do
        [[ ! -e $out/trajectories/$(tid "$i").json ]] || printf '%s ' "$i"
    done
}
submit() { sbatch --parsable --cpus-per-task=1 "$@"; }

# 1. The whole array; element 0 requeued once it has saved a stage of trajectory 0.
job=$(submit --array=0-2 "$sbatch_script" "$config" "$out")
after=$(submit --dependency="afterok:$job" --output=logs/after-%j.log \
    --wrap "\"$MIXAGENT\" trajectories ls \"$out\"")
deadline=$((SECONDS + 120))
until compgen -G "$out/work/$(tid 0)/stage-[0-9][0-9][0-9]" >/dev/null; do
    [[ ! -e $out/trajectories/$(tid 0).json ]] ||
        fail "trajectory 0 finished before it could be requeued mid-run: give the config longer stages"
    ((SECONDS < deadline)) || fail "element 0 saved no stage in 120 s"
    sleep 0.05
done
slurm_requeue "${job}_0"
echo "test-slurm: requeued element ${job}_0 mid-trajectory"
slurm_wait "$job" 300 || fail "array $job did not finish"
slurm_wait "$after" 60 || fail "follow-up job $after did not finish"
states=$(slurm_states "$job")
expected=$'0 COMPLETED 0:0 1\n1 COMPLETED 0:0 0\n2 COMPLETED 0:0 0'
[[ $states == "$expected" ]] ||
    fail "array $job: element states (task state exit restarts) are"$'\n'"$states"$'\n'"expected"$'\n'"$expected"
for t in 0 1 2; do
    [[ -s logs/collect-${job}_$t.log ]] || fail "no log logs/collect-${job}_$t.log"
done
runs=$(grep -c '^collect.sbatch: job' "logs/collect-${job}_0.log" || true)
[[ $runs == 2 ]] || fail "element 0's log holds $runs runs, expected 2 (the first and the requeued one)"
grep -q 'resumed trajectory="t-00000"' "logs/collect-${job}_0.log" ||
    fail "the requeued element 0 did not resume trajectory 0 from its saved stage"
[[ $(<"$out/slurm-slices") == 3 ]] || fail "$out/slurm-slices holds $(<"$out/slurm-slices"), expected 3"
[[ $(done_ids) == "0 1 2 3 4 5 " ]] || fail "after the array, finished trajectories: $(done_ids)"
[[ $(slurm_state "$after") == COMPLETED ]] || fail "the afterok job ended $(slurm_state "$after")"
grep -q 't-00005' "logs/after-$after.log" || fail "the afterok job did not list the collection"
echo "test-slurm: array $job done, element 0 requeued and finished, follow-up job $after ran ($((SECONDS - start)) s)"

# 2. Slices 1 and 2 lost; resubmit element 2 alone, then element 1.
rm "$out/trajectories/"{"$(tid 1)","$(tid 2)","$(tid 4)","$(tid 5)"}.json
job2=$(submit --array=2 "$sbatch_script" "$config" "$out")
slurm_wait "$job2" 300 || fail "resubmitted element $job2 did not finish"
[[ $(slurm_states "$job2") == "2 COMPLETED 0:0 0" ]] ||
    fail "resubmitted element 2: $(slurm_states "$job2")"
[[ $(done_ids) == "0 2 3 5 " ]] ||
    fail "resubmitting element 2 should redo trajectories 2 and 5 (slice 2 of 3), finished: $(done_ids)"
job3=$(submit --array=1 "$sbatch_script" "$config" "$out")
slurm_wait "$job3" 300 || fail "resubmitted element $job3 did not finish"
[[ $(done_ids) == "0 1 2 3 4 5 " ]] || fail "after resubmitting 1 and 2, finished: $(done_ids)"
echo "test-slurm: resubmitted elements 2 and 1 took their own slices; all passed in $((SECONDS - start)) s"
