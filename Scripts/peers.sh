#!/bin/sh
# Prepares the peer runtimes that swiftlxc-bench compares against, on the same rootfs:
#   - makes crun usable on this cgroup v1/v2 hybrid host (hugetlb as a v1 hierarchy),
#   - builds a busybox rootfs,
#   - writes one OCI bundle (used by swiftlxc, crun and runc) and one LXC config,
#   - builds a system rootfs with busybox init and its configs (empty and veth network),
#   - writes the seccomp bundle (podman's default profile) and conmon's bundle,
#   - builds the seccomp notify rootfs, workload, policy and configs,
#   - writes 50 bundles with distinct cgroup paths for the concurrent starts,
#   - writes the console config and builds the LXC mount-injection peer (shared shmounts),
#   - checks that each peer really runs /bin/true with exit status 0.
# Idempotent: running it again changes nothing that is already in place.
#
# Usage: Scripts/peers.sh [DIR]     (DIR defaults to $SWIFTLXC_BENCH_DIR or
#                                    /var/tmp/swiftlxc-bench)
# Exit status: 0 when the files are in place, even if a peer fails its check; the failing
# peer is named on stderr, and the bench reports and skips it itself.
set -eu

dir=${1:-${SWIFTLXC_BENCH_DIR:-/var/tmp/swiftlxc-bench}}
here=$(cd "$(dirname "$0")" && pwd)
bundle=$dir/bundle
rootfs=$bundle/rootfs
lxcdir=$dir/lxc

say() { printf 'peers: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { say "must run as root"; exit 1; }
mkdir -p "$dir" "$lxcdir"

# --- cgroups -------------------------------------------------------------------------------
# On this hybrid host the unified hierarchy holds the hugetlb controller and nothing else;
# crun 1.8 then decides the host is cgroup2-with-controllers and fails. Binding hugetlb to a
# v1 hierarchy takes it out of the unified one, which is what crun expects of a hybrid host.
if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb 2>/dev/null; then
    if grep -qw hugetlb /proc/cgroups; then
        say "mounting the v1 hugetlb hierarchy at /sys/fs/cgroup/hugetlb"
        mkdir -p /sys/fs/cgroup/hugetlb
        mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    fi
fi

# --- rootfs --------------------------------------------------------------------------------
build_rootfs() {
    target=$1
    busybox=$(command -v busybox || true)
    [ -n "$busybox" ] || { say "busybox is not installed (apt-get install busybox-static)"; exit 1; }
    mkdir -p "$target/bin" "$target/sbin" "$target/etc" "$target/proc" "$target/sys" \
        "$target/dev" "$target/tmp" "$target/root" "$target/usr/bin" "$target/usr/sbin" \
        "$target/run" "$target/var"
    chmod 1777 "$target/tmp"
    cp "$busybox" "$target/bin/busybox"
    # `busybox --list-full` names each applet with its directory (bin/ls, usr/sbin/chroot).
    "$target/bin/busybox" --list-full | while read -r applet; do
        [ "$applet" = bin/busybox ] && continue
        mkdir -p "$target/$(dirname "$applet")"
        [ -e "$target/$applet" ] || ln -s /bin/busybox "$target/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
        > "$target/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$target/etc/group"
    echo bench > "$target/etc/hostname"
}

if [ ! -x "$rootfs/bin/true" ]; then
    if [ -x "$here/make-rootfs.sh" ]; then
        say "building the busybox rootfs with Scripts/make-rootfs.sh"
        "$here/make-rootfs.sh" "$rootfs"
    else
        say "building the busybox rootfs at $rootfs"
        build_rootfs "$rootfs"
    fi
fi

# --- OCI bundle (swiftlxc, crun, runc) -----------------------------------------------------
# `crun spec` gives the rootful default: pid, network, ipc, uts and mount namespaces, a
# read-only root, /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup.
# Only the process changes; the namespaces are pinned so a newer default cannot add one.
if [ ! -f "$bundle/config.json" ]; then
    say "writing the OCI bundle at $bundle"
    tmp=$(mktemp -d)
    (cd "$tmp" && crun spec)
    jq '.process.args = ["/bin/true"]
        | .process.terminal = false
        | .hostname = "bench"
        | .linux.namespaces = [{"type":"pid"},{"type":"network"},{"type":"ipc"},
                               {"type":"uts"},{"type":"mount"}]' \
        "$tmp/config.json" > "$bundle/config.json"
    rm -rf "$tmp"
fi

# --- LXC config (lxc-execute) --------------------------------------------------------------
# The same rootfs and the same five namespaces: LXC would also unshare the cgroup namespace,
# so it is kept from the host, and the network namespace gets only a loopback device. With
# lxc.namespace.keep set, LXC makes every namespace not listed, user and time included (a
# user namespace without an id map then fails at mkdir dev/pts with EOVERFLOW), so those
# two are kept as well.
lxcconf=$lxcdir/bench.conf
cat > "$lxcconf.new" <<CONF
lxc.uts.name = bench
lxc.rootfs.path = dir:$rootfs
lxc.net.0.type = empty
lxc.namespace.keep = cgroup user time
lxc.mount.auto = proc:mixed sys:ro
lxc.autodev = 1
lxc.apparmor.profile = unconfined
lxc.log.level = ERROR
CONF
if cmp -s "$lxcconf.new" "$lxcconf"; then rm "$lxcconf.new"; else mv "$lxcconf.new" "$lxcconf"; fi

# --- system containers (swiftlxc start, lxc-start) ----------------------------------------
# A rootfs with busybox init and an inittab that never waits on DHCP, and two configs that
# differ only in the network: empty (system-start, monitor-rss) and veth (network).
system=$dir/system
[ -f "$system/rootfs/etc/inittab" ] || "$here/make-rootfs.sh" "$system/rootfs"
mkdir -p "$system/swiftlxc" "$system/lxc"
write_system_conf() {
    conf=$1
    shift
    {
        echo "lxc.uts.name = bench"
        echo "lxc.rootfs.path = dir:$system/rootfs"
        for line in "$@"; do echo "$line"; done
        echo "lxc.mount.auto = proc:mixed sys:mixed"
        echo "lxc.signal.halt = SIGUSR1"
        echo "lxc.signal.reboot = SIGTERM"
        echo "lxc.apparmor.profile = unconfined"
        echo "lxc.log.level = ERROR"
    } > "$conf.new"
    if cmp -s "$conf.new" "$conf"; then rm "$conf.new"; else mv "$conf.new" "$conf"; fi
}
write_system_conf "$system/empty.conf" "lxc.net.0.type = empty"
write_system_conf "$system/veth.conf" "lxc.net.0.type = veth" "lxc.net.0.veth.pair = sxbench0" \
    "lxc.net.0.flags = up" "lxc.net.0.ipv4.address = 10.231.0.2/24" \
    "lxc.net.0.veth.ipv4.route = 10.231.0.2/32"

# --- seccomp bundle (swiftlxc run, crun run) -----------------------------------------------
# The OCI bundle again, with linux.seccomp set to podman's default profile.
seccomp=$dir/seccomp
mkdir -p "$seccomp"
profile=/usr/share/containers/seccomp.json
[ -f "$profile" ] || profile=$here/../Tests/LXCSeccompTests/Fixtures/containers-seccomp.json
cmp -s "$profile" "$seccomp/profile.json" || cp "$profile" "$seccomp/profile.json"
jq --slurpfile profile "$seccomp/profile.json" --arg rootfs "$rootfs" \
    '.linux.seccomp = $profile[0] | .root.path = $rootfs' "$bundle/config.json" \
    > "$seccomp/config.json"

# --- seccomp notify (seccomp-notify) ------------------------------------------------------
# A rootfs holding Scripts/bench/notify-loop.c compiled static, a policy that sends getppid
# to the notifier, and two LXC configs: proxy.conf names the bench's proxy (swiftlxc start
# and lxc-start), monitor.conf none (SwiftLXC's monitor answers by itself). The proxy socket
# is a path: LXC 5.0.2 connects to an abstract name without its last byte.
notify=$dir/seccomp-notify
mkdir -p "$notify/swiftlxc" "$notify/lxc"
[ -x "$notify/rootfs/bin/busybox" ] || "$here/make-rootfs.sh" "$notify/rootfs"
loop=$notify/rootfs/bin/notify-loop
if [ ! -x "$loop" ] || [ "$here/bench/notify-loop.c" -nt "$loop" ]; then
    if command -v gcc >/dev/null; then
        gcc -static -O2 -o "$loop" "$here/bench/notify-loop.c" || say "gcc failed on notify-loop.c"
    else
        say "gcc is not installed: no seccomp-notify workload"
    fi
fi
[ -f "$notify/policy" ] || printf '2\ndenylist\ngetppid notify\n' > "$notify/policy"
write_notify_conf() {
    conf=$1
    shift
    {
        echo "lxc.uts.name = bench"
        echo "lxc.rootfs.path = dir:$notify/rootfs"
        echo "lxc.net.0.type = empty"
        echo "lxc.seccomp.profile = $notify/policy"
        for line in "$@"; do echo "$line"; done
        echo "lxc.apparmor.profile = unconfined"
        echo "lxc.log.level = ERROR"
    } > "$conf.new"
    if cmp -s "$conf.new" "$conf"; then rm "$conf.new"; else mv "$conf.new" "$conf"; fi
}
write_notify_conf "$notify/proxy.conf" "lxc.seccomp.notify.proxy = unix:$notify/proxy.sock" \
    "lxc.seccomp.notify.cookie = swiftlxc-bench"
write_notify_conf "$notify/monitor.conf"

# --- conmon bundle (monitor-rss) -----------------------------------------------------------
# conmon supervises a container that stays up: the same rootfs, running sleep.
conmon=$dir/conmon/bundle
mkdir -p "$conmon"
jq --arg rootfs "$rootfs" '.process.args = ["/bin/sleep", "100000"] | .root.path = $rootfs' \
    "$bundle/config.json" > "$conmon/config.json"

# --- console (console) ---------------------------------------------------------------------
# The system container of system-start with a 1 MiB console ring buffer.
console=$dir/console
mkdir -p "$console/swiftlxc" "$console/lxc"
write_system_conf "$console/console.conf" "lxc.net.0.type = empty" \
    "lxc.console.buffer.size = 1048576"

# --- mount injection (mount-injection) -----------------------------------------------------
# LXC's mount injection (lxc_container.mount) needs lxc.mount.auto = shmounts:HOST, and the
# host directory must sit on a shared mount so that what LXC mounts there propagates into
# the container (systemd hosts share / by default; this one does not). SwiftLXC attaches a
# detached mount directly and needs neither, so its container uses empty.conf.
inject=$dir/inject
mkdir -p "$inject/shmounts" "$inject/source" "$inject/lxc" "$inject/swiftlxc"
echo "injected" > "$inject/source/file"
if ! mountpoint -q "$inject/shmounts"; then
    mount --bind "$inject/shmounts" "$inject/shmounts"
fi
mount --make-shared "$inject/shmounts"
cp "$system/empty.conf" "$inject/lxc.conf.new"
echo "lxc.mount.auto = shmounts:$inject/shmounts" >> "$inject/lxc.conf.new"
if cmp -s "$inject/lxc.conf.new" "$inject/lxc.conf"; then rm "$inject/lxc.conf.new"
else mv "$inject/lxc.conf.new" "$inject/lxc.conf"; fi
helper=$inject/lxc-inject
if [ ! -x "$helper" ] || [ "$here/bench/lxc-inject.c" -nt "$helper" ]; then
    if command -v gcc >/dev/null; then
        gcc -O2 -o "$helper" "$here/bench/lxc-inject.c" -llxc || say "gcc failed on lxc-inject.c"
    else
        say "gcc is not installed: no LXC mount-injection peer"
    fi
fi

# --- concurrent bundles (concurrent-start) -----------------------------------------------
# Container i of the 50 started at once gets its own bundle: the busybox bundle with an
# absolute cgroupsPath, so every runtime puts its container cgroup below the bench's memory
# cgroup /swiftlxc-bench-burst (crun would otherwise use the root, runc and swiftlxc the
# caller's cgroup).
i=0
while [ $i -lt 50 ]; do
    mkdir -p "$dir/many/$i"
    jq --arg rootfs "$rootfs" --arg path "/swiftlxc-bench-burst/many-$i" \
        '.root.path = $rootfs | .linux.cgroupsPath = $path' "$bundle/config.json" \
        > "$dir/many/$i/config.json.new"
    if cmp -s "$dir/many/$i/config.json.new" "$dir/many/$i/config.json"; then
        rm "$dir/many/$i/config.json.new"
    else
        mv "$dir/many/$i/config.json.new" "$dir/many/$i/config.json"
    fi
    i=$((i + 1))
done

# --- check each peer -----------------------------------------------------------------------
status=0
check() {
    name=$1
    shift
    # lxc-execute can hang after a failed setup; a bounded wait keeps the script finite.
    if out=$(timeout -s KILL 30 "$@" 2>&1 </dev/null); then
        say "$name: ok"
    else
        say "$name FAILED (exit $?): $out"
        status=1
    fi
}
check crun crun run --bundle "$bundle" swiftlxc-bench-peers-crun
check runc runc run --bundle "$bundle" swiftlxc-bench-peers-runc
check lxc-execute lxc-execute -P "$lxcdir" -n swiftlxc-bench-peers -f "$lxcconf" -- /bin/true
check "crun with seccomp" crun run --bundle "$seccomp" swiftlxc-bench-peers-crun
if check lxc-start lxc-start -P "$system/lxc" -n swiftlxc-bench-peers -f "$system/empty.conf" -d
then
    check lxc-stop lxc-stop -P "$system/lxc" -n swiftlxc-bench-peers -k
fi
[ $status = 0 ] || say "some peers failed; the bench will report and skip them"
exit 0
