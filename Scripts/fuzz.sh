#!/bin/sh
# Builds the LXC config, config.json and seccomp policy fuzzers with libFuzzer and runs each
# for a bounded time. Exits non-zero when a fuzzer finds a crash. FUZZ_SECONDS overrides the
# 20 s per target.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-20}
swiftc=${SWIFTC:-swiftc}
out=$root/.build/fuzz
mkdir -p "$out"

# The LXCSystem sources are compiled in as well, since LXCConfig imports that module.
system_sources=$(ls "$root"/Sources/LXCSystem/*.swift)
config_sources=$(ls "$root"/Sources/LXCConfig/*.swift)
seccomp_sources=$(ls "$root"/Sources/LXCSeccomp/*.swift)

# Everything is compiled as one module named LXCSystem, so LXCConfig's `import LXCSystem`
# resolves to itself; CShim comes in through a generated module map and its object file,
# CSeccomp through the same map and -lseccomp.
cat > "$out/module.modulemap" <<MAP
module CShim {
    header "$root/Sources/CShim/include/cshim.h"
    export *
}
module CSeccomp {
    header "$root/Sources/CSeccomp/shim.h"
    link "seccomp"
    export *
}
MAP
clang=$(dirname "$(command -v "$swiftc")")/clang
"$clang" -c -O1 -fsanitize=fuzzer-no-link,address -I "$root/Sources/CShim/include" \
    "$root/Sources/CShim/cshim.c" -o "$out/cshim.o"

# build NAME ENTRY SOURCES... compiles ENTRY with the LXCSystem sources and SOURCES.
build() {
    name=$1
    entry=$2
    shift 2
    "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -module-name LXCSystem \
        -suppress-warnings -Xcc -fmodule-map-file="$out/module.modulemap" \
        $system_sources "$@" "$entry" "$out/cshim.o" -o "$out/$name" \
        2>"$out/$name.build.log" || { cat "$out/$name.build.log" >&2; exit 2; }
}

status=0
for target in LXCConfigFuzz OCISpecFuzz SeccompPolicyFuzz; do
    corpus=$out/$target-corpus
    mkdir -p "$corpus"
    case $target in
    SeccompPolicyFuzz)
        sources="$seccomp_sources -lseccomp"
        cp "$root"/Tests/LXCSeccompTests/Fixtures/* "$corpus"/ 2>/dev/null || true
        ;;
    *)
        sources=$config_sources
        cp "$root"/Tests/LXCConfigTests/Fixtures/*.conf \
            "$root"/Tests/LXCConfigTests/Fixtures/*.json "$corpus"/ 2>/dev/null || true
        ;;
    esac
    echo "building $target"
    # shellcheck disable=SC2086 # the source list splits into words on purpose
    build "$target" "$root/Fuzz/$target.swift" $sources
    echo "running $target for ${seconds}s"
    if ! (cd "$out" && "./$target" -max_total_time="$seconds" -max_len=4096 \
        -artifact_prefix="$out/$target-" "$corpus" > "$out/$target.log" 2>&1); then
        echo "$target found a crash; see $out/$target.log" >&2
        tail -30 "$out/$target.log" >&2
        status=1
    fi
done
exit $status
