#!/bin/bash
# Runs the OCI runtime-tools validation suite (github.com/opencontainers/runtime-tools,
# its validation/*/ programs) against swiftlxc and prints a table: test, result, reason.
# Not part of CI; downloads nothing: the checkout, Go and the rootfs come from the user.
#
# Usage (as root): Scripts/oci-validation.sh [options] RUNTIME_TOOLS_CHECKOUT [TEST...]
#   --runtime PATH   the runtime binary (default: .build/debug/swiftlxc of this project;
#                    swiftlxc-init must sit beside it)
#   --rootfs TARBALL the rootfs-amd64.tar.gz the tests unpack into each bundle (default:
#                    the checkout's own, else a busybox rootfs from Scripts/make-rootfs.sh)
#   --work DIR       where the binaries, the TAP output and the table go
#                    (default /tmp/swiftlxc-oci-validation)
#   --timeout SECS   per test (default 120)
# TEST names a validation directory (kill, linux_cgroups_devices, ...); default: all.
#
# Building needs Go and the checkout's vendor/ directory (GOFLAGS=-mod=vendor, GOPROXY=off).
# runtime-tools after commit 260e151 (March 2025) needs Go >= 1.21 (its vendored
# moby/sys/capability imports "slices"); with Debian 12's Go 1.19 use that commit:
#   git -C runtime-tools checkout 260e151   (or: git archive 260e151 | tar -x -C DIR)
set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
runtime=$project/.build/debug/swiftlxc
rootfs=
work=/tmp/swiftlxc-oci-validation
timeout=120
while [ $# -gt 0 ]; do
    case $1 in
    --runtime) runtime=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "oci-validation: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
checkout=${1:?usage: oci-validation.sh [options] RUNTIME_TOOLS_CHECKOUT [TEST...]}
shift
checkout=$(cd "$checkout" && pwd)

[ "$(id -u)" = 0 ] || { echo "oci-validation: the tests create containers: run as root" >&2; exit 1; }
[ -d "$checkout/validation" ] && [ -d "$checkout/vendor" ] \
    || { echo "oci-validation: $checkout has no validation/ and vendor/" >&2; exit 1; }
[ -x "$runtime" ] || { echo "oci-validation: no runtime at $runtime (swift build --product swiftlxc)" >&2; exit 1; }
runtime=$(cd "$(dirname "$runtime")" && pwd)/$(basename "$runtime")
command -v go >/dev/null || { echo "oci-validation: go is missing (apt-get install golang-go)" >&2; exit 1; }

mkdir -p "$work/bin" "$work/tap"
# The tests read runtimetest and rootfs-<arch>.tar.gz from their working directory.
if [ -z "$rootfs" ] && [ -s "$checkout/rootfs-amd64.tar.gz" ]; then
    rootfs=$checkout/rootfs-amd64.tar.gz
fi
if [ -n "$rootfs" ]; then
    cp "$rootfs" "$work/rootfs-amd64.tar.gz"
else
    "$project/Scripts/make-rootfs.sh" "$work/rootfs"
    tar -czf "$work/rootfs-amd64.tar.gz" -C "$work/rootfs" .
fi

export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local
(
    cd "$checkout"
    # runtimetest runs inside the busybox rootfs: static.
    CGO_ENABLED=0 go build -tags "netgo osusergo" -o "$work/runtimetest" ./cmd/runtimetest
) || {
    echo "oci-validation: building runtimetest failed; with Go $(go env GOVERSION) see the note" \
        "on Go versions at the top of this script" >&2
    exit 1
}

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=()
    for dir in "$checkout"/validation/*/; do
        name=$(basename "$dir")
        [ "$name" = util ] || tests+=("$name")
    done
fi
for name in "${tests[@]}"; do
    (cd "$checkout" && go build -o "$work/bin/$name" "./validation/$name") \
        || { echo "oci-validation: building validation/$name failed" >&2; exit 1; }
done

# pass: exit 0 and no "not ok"; a suite of 1..0 that printed an "error" is a failure too
# (hooks, prestart, poststart_fail, poststop_fail report that way). skip: only SKIPs.
table=$work/table.md
{
    echo "| test | result | ok / not ok / skip | first failure |"
    echo "|---|---|---|---|"
} > "$table"
cd "$work"
for name in "${tests[@]}"; do
    tap=$work/tap/$name.tap
    err=$work/tap/$name.stderr
    status=0
    RUNTIME=$runtime timeout "$timeout" "$work/bin/$name" > "$tap" 2> "$err" || status=$?
    ok=$(grep -c '^ok' "$tap" || true)
    skip=$(grep -c '^ok .*# SKIP' "$tap" || true)
    notok=$(grep -c '^not ok' "$tap" || true)
    reason=
    # The runtime's own message, when the test passed it on (create/start failures).
    said=$(grep -m1 -E '^[^ ]+ (create|start|state|kill|delete): ' "$err" || true)
    if [ "$notok" -gt 0 ]; then
        reason=$(grep -m1 '^not ok' "$tap")
        [ -z "$said" ] || reason="$reason: $said"
    elif [ "$status" -ne 0 ]; then
        reason="exit status $status: ${said:-$(grep -v '^$' "$err" | tail -n1)}"
    elif grep -q '^1\.\.0' "$tap" && grep -q '"error": "[^"]' "$tap"; then
        reason=$(grep -m1 '"error": "[^"]' "$tap" | sed 's/^ *"error": "//; s/\\n.*//; s/",\?$//')
    fi
    if [ -n "$reason" ]; then
        result=fail
    elif [ "$ok" -gt 0 ] && [ "$ok" = "$skip" ]; then
        result=skip
    else
        result=pass
    fi
    reason=$(printf '%s' "$reason" | tr '|' '/' | cut -c1-200)
    echo "| $name | $result | $((ok - skip)) / $notok / $skip | $reason |" | tee -a "$table"
done
echo
echo "table: $table; TAP output and stderr: $work/tap/"
