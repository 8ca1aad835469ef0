#!/bin/sh
# Builds SwiftLXC's liblxc.so.1 (the LXCABI target) with the monitor and init it starts,
# and names it as the dynamic linker looks for it: .build/<config>/liblxc.so.1.
#
#   Scripts/build-liblxc.sh [debug|release]
#   LD_LIBRARY_PATH=$PWD/.build/debug /usr/bin/python3 -c 'import lxc; print(lxc.version)'
#
# Never install it over the system's liblxc.so.1 on a machine whose LXC you still use.
set -eu
config=${1:-debug}
cd "$(dirname "$0")/.."
swift build -c "$config" --product lxc
swift build -c "$config" --product swiftlxc
swift build -c "$config" --product swiftlxc-init
directory=$(swift build -c "$config" --show-bin-path)
ln -sf liblxc.so "$directory/liblxc.so.1"
soname=$(readelf -d "$directory/liblxc.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$soname" != "liblxc.so.1" ]; then
    echo "build-liblxc: $directory/liblxc.so has soname '$soname', not liblxc.so.1" >&2
    exit 1
fi
echo "$directory/liblxc.so.1"
