#!/bin/sh
# Builds SwiftLXC and swiftlxc-bench in release mode, prepares the peer runtimes and runs the
# benchmark, regenerating Docs/benchmarks/latest.{md,json,svg}. Run as root from anywhere:
#
#   Scripts/bench.sh            full run (100 measured runs per contender)
#   Scripts/bench.sh --quick    smoke run (10 runs)
#
# Any other arguments go to swiftlxc-bench (see `swiftlxc-bench --help`).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/opt/swift/usr/bin:$PATH"

# Numbers from a debug build would measure the optimiser's absence, not the runtime. The
# release executables are linked fully static, as Scripts/setup.sh builds them.
Scripts/build-release.sh swiftlxc swiftlxc-init swiftlxc-bench >&2

Scripts/peers.sh

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- Sources Package.swift 2>/dev/null)" ]
then
    commit="$commit+dirty"
fi

exec .build/release/swiftlxc-bench --out Docs/benchmarks --commit "$commit" "$@"
