#!/bin/sh
# Runs LXC's own API tests (src/tests/*.c of an LXC 5.0.2 checkout) against SwiftLXC's
# liblxc.so.1. Debian's lxc-test-* binaries cannot do this: each carries LXC's code and
# defines lxc_container_new itself, so it never calls the shared library.
#
#   git clone --depth 1 -b lxc-5.0.2 https://github.com/lxc/lxc /tmp/lxc
#   Scripts/build-liblxc.sh && Scripts/lxc-api-tests.sh /tmp/lxc [test ...]
#
# The tests are compiled in a temporary directory against /usr/include/lxc (lxc-dev), with
# small stand-ins for the few internal helpers they include. Each runs with the library
# first on LD_LIBRARY_PATH in new mount and network namespaces: /var/lib/lxc is an empty
# tmpfs and lxcbr0 a fresh bridge with a busybox DHCP server (the busybox template's rcS
# waits for a lease, and busybox init handles signals only after rcS), so the host's LXC
# and its containers are untouched. Needs root, gcc, busybox.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 LXC_SOURCE_DIR [test ...]" >&2; exit 2; }
source=$(cd "$1" && pwd)
shift
package=$(cd "$(dirname "$0")/.." && pwd)
library=${LIB:-$package/.build/debug}
[ -e "$library/liblxc.so.1" ] || { echo "$library/liblxc.so.1 missing: Scripts/build-liblxc.sh" >&2; exit 1; }
tests=${*:-"get_item getkeys saveconfig list may_control basic destroytest createtest startone
    console_log clonetest concurrent api_reboot shutdowntest shortlived mount_injection"}

work=$(mktemp -d /tmp/swiftlxc-lxc-tests-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$source/src/tests/lxctest.h" "$work/"
: > "$work/config.h"
: > "$work/state.h"
: > "$work/memory_utils.h"
cat > "$work/utils.h" <<'STUB'
#ifndef SWIFTLXC_TEST_STUBS
#define SWIFTLXC_TEST_STUBS
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#define LXC_LINELEN 4096
static inline size_t strlcpy(char *to, const char *from, size_t size) {
    size_t length = strlen(from);
    if (size) {
        size_t count = length >= size ? size - 1 : length;
        memcpy(to, from, count);
        to[count] = 0;
    }
    return length;
}
static inline int lxc_make_tmpfile(char *template, bool remove) {
    int fd = mkstemp(template);
    if (fd >= 0 && remove) unlink(template);
    return fd;
}
static inline int wait_for_pid(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
static inline int run_shell(const char *format, const char *path) {
    char command[4096];
    snprintf(command, sizeof command, format, path);
    return system(command);
}
static inline int mkdir_p(const char *path, mode_t mode) { (void)mode; return run_shell("mkdir -p '%s'", path); }
static inline int lxc_rm_rf(const char *path) { return run_shell("rm -rf '%s'", path); }
#endif
STUB
cp "$work/utils.h" "$work/strlcpy.h"
cp "$work/utils.h" "$work/list.h"

built=""
for t in $tests; do
    cp "$source/src/tests/$t.c" "$work/"
    if gcc -w -I"$work" -DLXCPATH='"/var/lib/lxc"' -o "$work/$t" "$work/$t.c" -llxc -lpthread \
        > "$work/$t.build.log" 2>&1; then
        built="$built $t"
    else
        echo "$t: does not build against the public header ($work/$t.build.log)"
    fi
done

cat > "$work/namespace.sh" <<'RUN'
#!/bin/sh
work=$1 library=$2
shift 2
mount --make-rslave /
mount -t tmpfs swiftlxc-lxc-tests /var/lib/lxc
ip link set lo up
ip link add lxcbr0 type bridge
ip link set lxcbr0 up
ip addr add 10.0.3.1/24 dev lxcbr0
printf 'start 10.0.3.100\nend 10.0.3.200\ninterface lxcbr0\nlease_file %s\noption subnet 255.255.255.0\n' \
    "$work/leases" > "$work/udhcpd.conf"
: > "$work/leases"
busybox udhcpd -f "$work/udhcpd.conf" > /dev/null 2>&1 &
dhcp=$!
for t in "$@"; do
    if LD_LIBRARY_PATH=$library SWIFTLXC_ABI_TRACE=1 timeout 150 "$work/$t" > "$work/$t.log" 2>&1; then
        echo "$t: pass"
    else
        echo "$t: FAIL ($?), last lines:"
        grep -v '^$' "$work/$t.log" | tail -n 3 | sed 's/^/    /'
    fi
done
kill $dhcp
RUN
# shellcheck disable=SC2086
unshare -m -n sh "$work/namespace.sh" "$work" "$library" $built
