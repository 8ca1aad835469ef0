// Built by LXCABITests against LXC's own header and run with SwiftLXC's liblxc.so.1 first on
// LD_LIBRARY_PATH: devpts_fd of a running container opens a pty of the container's devpts
// instance. Prints "ok" when every check holds.
//   devpts-check LXCPATH ROOTFS
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(condition)                                                                   \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            printf("failed at line %d: %s (errno %d)\n", __LINE__, #condition, errno);     \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

int main(int argc, char **argv) {
    CHECK(argc == 3);
    struct lxc_container *c = lxc_container_new("devptsc", argv[1]);
    CHECK(c != NULL);
    CHECK(c->set_config_item(c, "lxc.rootfs.path", argv[2]));
    CHECK(c->set_config_item(c, "lxc.net.0.type", "empty"));
    CHECK(c->set_config_item(c, "lxc.init.cmd", "/bin/sleep 1000"));
    CHECK(c->create(c, NULL, NULL, NULL, 0, NULL));
    CHECK(c->devpts_fd(c) < 0 && c->devpts_fd(c) != -ENOSYS); /* not running */
    CHECK(c->start(c, 0, NULL));
    CHECK(c->wait(c, "RUNNING", 10));

    int devpts = c->devpts_fd(c);
    CHECK(devpts >= 0);
    int ptmx = openat(devpts, "ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(ptmx >= 0);
    int unlock = 0, number = -1;
    CHECK(ioctl(ptmx, TIOCSPTLCK, &unlock) == 0 && ioctl(ptmx, TIOCGPTN, &number) == 0);
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/root/dev/pts/%d", c->init_pid(c), number);
    struct stat inside;
    CHECK(stat(path, &inside) == 0 && S_ISCHR(inside.st_mode));

    close(ptmx);
    close(devpts);
    CHECK(c->stop(c));
    CHECK(c->destroy(c));
    lxc_container_put(c);
    printf("ok\n");
    return 0;
}
