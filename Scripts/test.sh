#!/bin/sh
# Runs every test: the lint, the unit and privileged container tests, and the bounded fuzz runs.
# Usage: Scripts/test.sh
set -eu
cd "$(dirname "$0")/.."

Scripts/setup.sh --packages

echo "test: lint"
swift format lint --strict -r Package.swift Sources Tests

echo "test: build"
swift build --build-tests

# Privileged tests start real containers on this busybox root filesystem.
Scripts/make-rootfs.sh .build/test-rootfs >/dev/null
export SWIFTLXC_TEST_ROOTFS="$PWD/.build/test-rootfs"

echo "test: swift test"
# Kept in a file so the summary can be repeated as the last line of the run.
status=0
swift test --skip-build > .build/test-output.log 2>&1 || status=$?
cat .build/test-output.log
[ "$status" -eq 0 ] || exit "$status"

if [ -x Scripts/fuzz.sh ]; then
    echo "test: fuzz (bounded)"
    Scripts/fuzz.sh
fi

# The test runner's own closing line, last, for whoever reads the end of the log.
grep -E "Test run with [0-9]+ tests" .build/test-output.log | tail -n 1
