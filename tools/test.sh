#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
# Installs caffeine with its test extras, then runs the default suite and the slow suite.
# pytest's exit status 5 ("no tests collected") counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]' || exit 1

run_pytest() {
    python3 -m pytest "$@"
    local status=$?
    if [ "$status" -eq 5 ]; then
        echo "pytest collected no tests for: $*" >&2
        return 1
    fi
    return "$status"
}

status=0
run_pytest -q -m "not slow" || status=1
run_pytest -q -m "slow" || status=1
exit "$status"
