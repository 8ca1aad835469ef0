#!/bin/sh
# Sets up a fresh Debian machine for SwiftLXC, builds it, and runs a demo container.
#   Scripts/setup.sh              packages, release build, busybox rootfs, demo
#   Scripts/setup.sh --packages   the Debian packages only
set -eu
cd "$(dirname "$0")/.."

# Build and test needs: the C libraries, busybox for root filesystems, the peers the tests
# and benchmarks compare against (LXC 5.0.2 with python3-lxc, crun, runc), and iproute2 as
# an independent witness for network tests.
packages="libseccomp-dev libcap-dev pkg-config busybox-static iproute2 \
lxc lxc-tests lxc-dev python3-lxc crun runc hyperfine"

missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $package"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "${1:-}" = "--packages" ] && exit 0

Scripts/build-release.sh
Scripts/make-rootfs.sh .build/rootfs

echo "setup: running a demo container"
.build/release/swiftlxc execute --rootfs "$PWD/.build/rootfs" -n demo \
    -s lxc.mount.auto="proc:mixed sys:mixed" -- \
    /bin/sh -c 'echo "hello from $(hostname), pid $$, as $(id -un)"; ps; mount'
