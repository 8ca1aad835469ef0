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
swift test --skip-build

if [ -x Scripts/fuzz.sh ]; then
    echo "test: fuzz (bounded)"
    Scripts/fuzz.sh
fi
