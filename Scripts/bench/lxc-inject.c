/* The LXC side of swiftlxc-bench's mount-injection scenario: one mount or umount of a
 * running container through liblxc's own API (lxc_container.mount / .umount, LXC's
 * mount_injection), as SwiftLXC's `swiftlxc mount` / `swiftlxc umount` do one each.
 *
 * usage: lxc-inject mount LXCPATH NAME SOURCE TARGET
 *        lxc-inject umount LXCPATH NAME TARGET
 * Built by Scripts/peers.sh with gcc and -llxc (lxc-dev). */
#include <lxc/lxccontainer.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

int main(int argc, char **argv)
{
    struct lxc_mount mnt = { .version = LXC_MOUNT_API_V1 };
    struct lxc_container *c;
    int mounting, ret;

    if (argc < 5)
        return 2;
    mounting = strcmp(argv[1], "mount") == 0;
    if (mounting && argc != 6)
        return 2;
    c = lxc_container_new(argv[3], argv[2]);
    if (!c) {
        fprintf(stderr, "lxc-inject: no container %s in %s\n", argv[3], argv[2]);
        return 1;
    }
    if (mounting)
        ret = c->mount(c, argv[4], argv[5], NULL, MS_BIND, NULL, &mnt);
    else
        ret = c->umount(c, argv[4], MNT_DETACH, &mnt);
    if (ret < 0)
        fprintf(stderr, "lxc-inject %s: %s\n", argv[1], strerror(-ret));
    lxc_container_put(c);
    return ret < 0;
}
