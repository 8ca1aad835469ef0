#!/bin/sh
# Runs a command on a pure cgroup2 view of this host: in a new mount namespace, every cgroup
# mount under /sys/fs/cgroup is lazily unmounted and cgroup2 is mounted there alone, so the
# command's /proc/self/mountinfo shows one unified hierarchy. The controllers it offers are
# the ones no v1 hierarchy holds. The host's mounts are untouched; processes the command
# leaves running (a container's monitor) keep this view.
#
# usage: pure-cgroup2.sh COMMAND [ARG...]     (root; needs unshare(1) from util-linux)
set -eu
if [ "${1:-}" = "--inside" ]; then
    shift
    mount --make-rprivate /
    umount -R -l /sys/fs/cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
    exec "$@"
fi
exec unshare --mount --propagation private "$0" --inside "$@"
