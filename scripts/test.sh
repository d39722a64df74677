#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need through scripts/setup.sh
# (cached, seconds when warm), checks formatting, lints and docs, then runs the whole
# workspace's tests on the real data and the Python module's pytest suite, and closes with one
# summary line over every test binary (and the checks that failed, if any).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/cargo-target.sh   # one cargo build folder per machine (CARGO_TARGET_DIR)
# apt_install WHAT PACKAGE...: Debian packages some tests need (as root, else with sudo),
# refreshing the package lists only when the first try fails.
apt_install() {
    local what=$1 sudo=""
    shift
    echo "test: installing Debian $* for $what" >&2
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    local install=($sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@")
    "${install[@]}" >/dev/null || { $sudo apt-get update >/dev/null && "${install[@]}" >/dev/null; }
}
# The report test renders an HTML page in headless Chromium, installed once.
command -v chromium >/dev/null 2>&1 || apt_install "the report's screenshot test" chromium
# The Slurm test starts a throw-away single-node cluster (scripts/slurm-cluster.sh), installed
# once (about 15 s). If the packages cannot be installed the test says so and skips.
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v sbatch >/dev/null 2>&1 ||
    ! command -v munged >/dev/null 2>&1; then
    apt_install "the Slurm job-array test" slurmctld slurmd slurm-client munge ||
        echo "test: could not install the Slurm packages: the Slurm test will skip" >&2
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
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
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
