#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need through scripts/setup.sh
# (cached, seconds when warm), checks formatting, lints and docs, then runs the whole
# workspace's tests on the real data and the Python module's pytest suite, and closes with one
# summary line over every test binary (and the checks that failed, if any).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# The report test renders an HTML page in headless Chromium (Debian `chromium`): the one
# system package the tests need, installed once.
if ! command -v chromium >/dev/null 2>&1; then
    echo "test: installing Debian chromium for the report's screenshot test" >&2
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get install -y --no-install-recommends chromium >/dev/null ||
        { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends chromium >/dev/null; }
fi
# The Slurm test starts a throw-away single-node cluster (scripts/slurm-cluster.sh): four Debian
# packages, installed once (about 15 s). If they cannot be installed the test says so and skips.
slurm_packages=(slurmctld slurmd slurm-client munge)
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v sbatch >/dev/null 2>&1 ||
    ! command -v munged >/dev/null 2>&1; then
    echo "test: installing Debian ${slurm_packages[*]} for the Slurm job-array test" >&2
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends "${slurm_packages[@]}" >/dev/null ||
        { $sudo apt-get update >/dev/null &&
            $sudo apt-get install -y --no-install-recommends "${slurm_packages[@]}" >/dev/null; } ||
        echo "test: could not install ${slurm_packages[*]}: the Slurm test will skip" >&2
fi
if command -v slurmctld >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    export MIXAGENT_REQUIRE_SLURM=1
fi
# The interop tests run the upstream libraries (transformers, PyYAML, Levanter) on what mixagent
# writes, in the venvs scripts/setup-interop.sh builds (cached; it prints where they are).
if interop_env=$(bash scripts/setup-interop.sh); then
    # shellcheck disable=SC2046
    export $interop_env MIXAGENT_REQUIRE_INTEROP=1
else
    echo "test: the interop environment could not be built: the interop tests will skip" >&2
fi
# The real-corpus tests must not skip here: setup has just installed the raw sources.
export MIXAGENT_REQUIRE_DATA=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# The style guide's checks first (formatting, lints and API docs, warnings denied); the tests
# run either way, and any failure fails the whole command.
checks=()
cargo fmt --all --check || checks+=("cargo fmt --all --check")
cargo clippy --workspace --all-targets --locked -- -D warnings || checks+=("cargo clippy")
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q || checks+=("cargo doc")
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The Python module: built as a wheel with maturin, tested with pytest (no torch needed).
bash scripts/python.sh 2>&1 | tee -a "$log"
py_status=${PIPESTATUS[0]}
[[ $status -ne 0 ]] || status=$py_status
set -e
sum() { grep -Eo "[0-9]+ $1" "$log" | awk '{ s += $1 } END { print s + 0 }'; }
echo "tests: $(sum passed) passed, $(sum failed) failed, $(sum ignored) skipped"
if [[ ${#checks[@]} -gt 0 ]]; then
    echo "checks failed: ${checks[*]}"
    [[ $status -ne 0 ]] || status=1
fi
exit "$status"
