/* The workload of swiftlxc-bench's seccomp-notify scenario, compiled static by Scripts/peers.sh
 * into the scenario's rootfs. It calls getppid, which the container's policy sends to the
 * notifier, COUNT times in a row and writes the mean time of one call to OUTPUT. Every answer
 * is checked, so a number is written only when each call really made the round trip: EXPECT
 * is the value the proxy returns, or ENOSYS for a monitor that answers by itself.
 *
 * usage: notify-loop OUTPUT COUNT EXPECT
 * OUTPUT gets "ok <nanoseconds per call>" or "error <reason>". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int answered(long result, int error, long expected, int wants_enosys)
{
    if (wants_enosys)
        return result == -1 && error == ENOSYS;
    return result == expected;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        return 3;
    long count = strtol(argv[2], NULL, 10);
    int wants_enosys = strcmp(argv[3], "ENOSYS") == 0;
    long expected = wants_enosys ? -1 : strtol(argv[3], NULL, 10);
    if (count < 1) {
        dprintf(out, "error count %s\n", argv[2]);
        return 1;
    }

    /* Untimed warm-up: the first notification also pays for the monitor's first poll. */
    for (int i = 0; i < 20; i++) {
        errno = 0;
        long result = syscall(SYS_getppid);
        if (!answered(result, errno, expected, wants_enosys)) {
            dprintf(out, "error warm-up call %d returned %ld (errno %d), expected %s\n", i,
                    result, errno, argv[3]);
            return 1;
        }
    }

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < count; i++) {
        errno = 0;
        long result = syscall(SYS_getppid);
        if (!answered(result, errno, expected, wants_enosys)) {
            dprintf(out, "error call %ld returned %ld (errno %d), expected %s\n", i, result,
                    errno, argv[3]);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double elapsed = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    dprintf(out, "ok %.1f\n", elapsed / count);
    return 0;
}
