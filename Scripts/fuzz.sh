#!/bin/sh
# Builds the LXC config and config.json fuzzers with libFuzzer and runs each for a bounded
# time. Exits non-zero when a fuzzer finds a crash. FUZZ_SECONDS overrides the 20 s per target.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-20}
swiftc=${SWIFTC:-swiftc}
out=$root/.build/fuzz
mkdir -p "$out"

# The LXCSystem sources are compiled in as well, since LXCConfig imports that module.
system_sources=$(ls "$root"/Sources/LXCSystem/*.swift)
config_sources=$(ls "$root"/Sources/LXCConfig/*.swift)

# Everything is compiled as one module named LXCSystem, so LXCConfig's `import LXCSystem`
# resolves to itself; CShim comes in through a generated module map and its object file.
cat > "$out/module.modulemap" <<MAP
module CShim {
    header "$root/Sources/CShim/include/cshim.h"
    export *
}
MAP
clang=$(dirname "$(command -v "$swiftc")")/clang
"$clang" -c -O1 -fsanitize=fuzzer-no-link,address -I "$root/Sources/CShim/include" \
    "$root/Sources/CShim/cshim.c" -o "$out/cshim.o"

build() {
    name=$1
    entry=$2
    "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -module-name LXCSystem \
        -suppress-warnings -Xcc -fmodule-map-file="$out/module.modulemap" \
        $system_sources $config_sources "$entry" "$out/cshim.o" -o "$out/$name" \
        2>"$out/$name.build.log" || { cat "$out/$name.build.log" >&2; exit 2; }
}

status=0
for target in LXCConfigFuzz OCISpecFuzz; do
    corpus=$out/$target-corpus
    mkdir -p "$corpus"
    cp "$root"/Tests/LXCConfigTests/Fixtures/*.conf "$root"/Tests/LXCConfigTests/Fixtures/*.json \
        "$corpus"/ 2>/dev/null || true
    echo "building $target"
    build "$target" "$root/Fuzz/$target.swift"
    echo "running $target for ${seconds}s"
    if ! (cd "$out" && "./$target" -max_total_time="$seconds" -max_len=4096 \
        -artifact_prefix="$out/$target-" "$corpus" > "$out/$target.log" 2>&1); then
        echo "$target found a crash; see $out/$target.log" >&2
        tail -30 "$out/$target.log" >&2
        status=1
    fi
done
exit $status
