#!/usr/bin/env bash
# A throw-away single-node Slurm cluster (Debian's slurmctld, slurmd, slurm-client and munge)
# with all of its state in one temporary folder, for tests. Source it, then:
#
#   slurm_up            # munged, slurmctld and slurmd started, node idle; exports SLURM_CONF
#   sbatch ...          # any client command reads $SLURM_CONF
#   slurm_wait JOB      # until no element of JOB is pending or running
#   slurm_states JOB    # one line per element: "TASK STATE EXIT RESTARTS"
#   slurm_down          # cancel everything, stop the daemons by PID, remove the folder
#
# It needs root and the four packages (`scripts/test.sh` installs them). No systemd, no
# cgroups: processes are tracked by `proctrack/linuxproc` and not confined (`task/none`);
# munge runs on its own socket. The recipe and the pitfalls it avoids are in the project's
# shared notes (slurm.md). Ports: SLURM_CTLD_PORT / SLURM_SLURMD_PORT, else two free-looking
# ports derived from this shell's PID, so two clusters on one machine do not collide.

slurm_up() {
    SLURM_T=${SLURM_T:-$(mktemp -d /tmp/mixagent-slurm.XXXXXX)}
    local T=$SLURM_T host
    local ctld_port=${SLURM_CTLD_PORT:-$((20000 + ($$ % 10000) * 2))}
    local slurmd_port=${SLURM_SLURMD_PORT:-$((ctld_port + 1))}
    host=$(hostname -s)
    mkdir -p "$T/munge" "$T/state" "$T/spool/slurmd-$host" "$T/log"
    # munged refuses a socket folder that is not executable by all (mktemp makes 0700).
    chmod 755 "$T" "$T/munge"
    mungekey --create --force --keyfile="$T/munge/munge.key"
    munged -F --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
        --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" \
        --seed-file="$T/munge/munged.seed" >"$T/log/munged.out" 2>&1 &
    SLURM_MUNGED_PID=$!
    local _
    for _ in $(seq 100); do
        munge -n -S "$T/munge/munge.socket" 2>/dev/null |
            unmunge -S "$T/munge/munge.socket" >/dev/null 2>&1 && break
        sleep 0.1
    done
    cat >"$T/slurm.conf" <<CONF
ClusterName=mixagent-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool/slurmd-%n
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
PlugStackConfig=$T/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
$(slurmd -C | head -1) NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    : >"$T/plugstack.conf"
    export SLURM_CONF=$T/slurm.conf
    # Foreground daemons (-D) in the background, so $! is the daemon's own PID.
    (cd "$T" && exec slurmctld -D -f "$SLURM_CONF" >"$T/log/slurmctld.out" 2>&1) &
    SLURM_CTLD_PID=$!
    for _ in $(seq 100); do
        scontrol ping 2>/dev/null | grep -q 'is UP' && break
        sleep 0.1
    done
    # Each job step's slurmstepd detaches from slurmd but keeps its working folder, which is
    # how slurm_down finds the ones still exiting.
    (cd "$T/spool" && exec slurmd -D -f "$SLURM_CONF" >"$T/log/slurmd.out" 2>&1) &
    SLURM_SLURMD_PID=$!
    for _ in $(seq 300); do
        [[ $(sinfo -h -o %T 2>/dev/null) == idle ]] && return 0
        sleep 0.1
    done
    echo "slurm_up: the node never became idle; logs in $T/log" >&2
    sinfo >&2 || true
    return 1
}

# Waits until no element of job $1 is pending or running (at most $2 seconds, default 600).
slurm_wait() {
    local job=$1 deadline=$((SECONDS + ${2:-600}))
    while [[ -n $(squeue -h -j "$job" 2>/dev/null) ]]; do
        if ((SECONDS >= deadline)); then
            echo "slurm_wait: job $job still queued after ${2:-600} s" >&2
            squeue >&2 || true
            return 1
        fi
        sleep 0.5
    done
    return 0
}

# One line per element of job $1, "TASK STATE EXIT RESTARTS", sorted by task id. No
# accounting daemon: `scontrol` keeps finished jobs for MinJobAge (300 s).
slurm_states() {
    scontrol -o show job "$1" |
        sed -E 's/.*ArrayTaskId=([0-9]+).*JobState=([A-Z_]+).*Restarts=([0-9]+).*ExitCode=([0-9:]+).*/\1 \2 \4 \3/' |
        sort -n
}

# The state of one element, e.g. `slurm_state 12_0` → RUNNING.
slurm_state() {
    scontrol -o show job "$1" 2>/dev/null | sed -nE 's/.*JobState=([A-Z_]+).*/\1/p' | head -1
}

# Requeues element $1 (`JOB_TASK`), killing it if it runs, and lets it start again at once
# (Slurm otherwise holds a requeued job for the credential lifetime, about two minutes).
slurm_requeue() {
    scontrol requeue "$1"
    # A running element is requeued only once its processes are gone: set the start time
    # after it is back in the queue, or Slurm's own delay wins.
    local _
    for _ in $(seq 300); do
        [[ $(slurm_state "$1") == PENDING ]] && break
        sleep 0.1
    done
    scontrol update JobId="$1" StartTime=now
}

slurm_stepd_pids() {
    local d
    for d in /proc/[0-9]*; do
        [[ $(readlink "$d/cwd" 2>/dev/null) == "$SLURM_T/spool" ]] || continue
        [[ ${d#/proc/} == "$SLURM_SLURMD_PID" ]] || echo "${d#/proc/}"
    done
    return 0
}

slurm_down() {
    [[ -n ${SLURM_T:-} ]] || return 0
    local _ left
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 50); do
        [[ -z $(squeue -h 2>/dev/null) ]] && break
        sleep 0.2
    done
    # slurmstepd outlives its job by about a second.
    for _ in $(seq 100); do
        [[ -z $(slurm_stepd_pids) ]] && break
        sleep 0.1
    done
    left=$(slurm_stepd_pids)
    if [[ -n $left ]]; then
        echo "slurm_down: killing leftover job steps $left" >&2
        # shellcheck disable=SC2086
        kill $left 2>/dev/null || true
    fi
    local pid
    for pid in "${SLURM_SLURMD_PID:-}" "${SLURM_CTLD_PID:-}" "${SLURM_MUNGED_PID:-}"; do
        [[ -n $pid ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    unset SLURM_CONF
    [[ ${SLURM_KEEP:-0} == 1 ]] || rm -rf "$SLURM_T"
    SLURM_T=""
    return 0
}
