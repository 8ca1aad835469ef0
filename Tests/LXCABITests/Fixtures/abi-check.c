// Built against LXC's own header (/usr/include/lxc, lxc-dev) and run with SwiftLXC's
// liblxc.so.1 first on LD_LIBRARY_PATH: the offsets this program uses are liblxc's, so a
// layout difference shows as a wrong field or a crash. Prints "ok" when every check holds.
#include <errno.h>
#include <lxc/lxccontainer.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                    \
    do {                                                               \
        if (!(cond)) {                                                 \
            fprintf(stderr, "abi-check:%d: %s\n", __LINE__, #cond);    \
            failures++;                                                \
        }                                                              \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    const char *lxcpath = argv[1], *library = argv[2];

    // The library loaded is the one asked for, not the system's.
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    int ours = 0, system = 0;
    while (maps && fgets(line, sizeof line, maps)) {
        if (strstr(line, library)) ours = 1;
        if (strstr(line, "/usr/lib/x86_64-linux-gnu/liblxc")) system = 1;
    }
    CHECK(ours && !system);

    CHECK(sizeof(struct lxc_container) == 568);
    CHECK(strcmp(lxc_get_version(), "5.0.2") == 0);
    CHECK(lxc_get_wait_states(NULL) == 8);
    const char *states[8];
    CHECK(lxc_get_wait_states(states) == 8 && strcmp(states[7], "THAWED") == 0);
    CHECK(strcmp(lxc_get_global_config_item("lxc.lxcpath"), "/var/lib/lxc") == 0);
    CHECK(strcmp(lxc_get_global_config_item("lxc.default_config"), "/etc/lxc/default.conf") == 0);
    CHECK(lxc_get_global_config_item("lxc.bogus") == NULL);
    CHECK(lxc_config_item_is_supported("lxc.uts.name"));
    CHECK(!lxc_config_item_is_supported("lxc.bogus"));
    CHECK(lxc_has_api_extension("console_log"));
    CHECK(!lxc_has_api_extension("bogus"));
    CHECK(lxc_container_new(NULL, lxcpath) == NULL);

    struct lxc_container *c = lxc_container_new("abicheck", lxcpath);
    CHECK(c != NULL);
    if (!c) return 1;
    CHECK(strcmp(c->name, "abicheck") == 0);
    CHECK(strcmp(c->config_path, lxcpath) == 0);
    CHECK(c->daemonize);
    CHECK(c->numthreads == 1);
    CHECK(c->error_num == 0 && c->error_string == NULL);
    // Every function pointer is set.
    for (size_t offset = offsetof(struct lxc_container, is_defined);
         offset <= offsetof(struct lxc_container, devpts_fd); offset += sizeof(void *)) {
        void *pointer;
        memcpy(&pointer, (char *)c + offset, sizeof pointer);
        if (!pointer) fprintf(stderr, "abi-check: NULL function pointer at offset %zu\n", offset);
        CHECK(pointer != NULL);
    }

    CHECK(!c->is_defined(c));
    CHECK(!c->is_running(c));
    CHECK(strcmp(c->state(c), "STOPPED") == 0);
    CHECK(c->init_pid(c) == -1);
    CHECK(c->init_pidfd(c) < 0);
    CHECK(c->may_control(c));
    CHECK(strcmp(c->get_config_path(c), lxcpath) == 0);
    char *file = c->config_file_name(c);
    char expected[4096];
    snprintf(expected, sizeof expected, "%s/abicheck/config", lxcpath);
    CHECK(file && strcmp(file, expected) == 0);
    free(file);

    // No config yet: reads fail as liblxc's do.
    char value[256];
    CHECK(c->get_config_item(c, "lxc.uts.name", value, sizeof value) == -1);
    CHECK(c->set_config_item(c, "lxc.uts.name", "abicheck-host"));
    CHECK(c->get_config_item(c, "lxc.uts.name", NULL, 0) == 13);
    CHECK(c->get_config_item(c, "lxc.uts.name", value, 5) == 13 && strcmp(value, "abic") == 0);
    CHECK(c->get_config_item(c, "lxc.uts.name", value, sizeof value) == 13);
    CHECK(strcmp(value, "abicheck-host") == 0);
    CHECK(!c->set_config_item(c, "lxc.bogus", "1"));
    CHECK(c->error_num == EINVAL && c->error_string != NULL);
    CHECK(c->get_config_item(c, "lxc.bogus", value, sizeof value) == -1);
    int length = c->get_keys(c, NULL, NULL, 0);
    CHECK(length > 100);
    CHECK(c->clear_config_item(c, "lxc.uts.name"));
    CHECK(c->get_config_item(c, "lxc.uts.name", value, sizeof value) == 0);

    // A stopped, undefined container.
    CHECK(!c->startl(c, 0, "/bin/true", NULL));
    CHECK(c->stop(c));
    CHECK(c->shutdown(c, 0));
    CHECK(!c->freeze(c));
    CHECK(c->wait(c, "STOPPED", 0));
    CHECK(!c->wait(c, "BOGUS", 0));
    CHECK(c->get_cgroup_item(c, "pids.max", value, sizeof value) == -1);
    CHECK(c->get_interfaces(c) == NULL);
    CHECK(c->attach_run_waitl(c, NULL, "/bin/true", "/bin/true", NULL) == -1);
    CHECK(!c->destroy(c));
    CHECK(c->want_daemonize(c, false) && !c->daemonize);
    CHECK(c->want_daemonize(c, true) && c->daemonize);
    CHECK(c->want_close_all_fds(c, true));

    // What SwiftLXC does not implement answers ENOSYS and never crashes.
    struct lxc_snapshot *snapshots = NULL;
    c->error_num = 0;
    CHECK(c->snapshot_list(c, &snapshots) == -1 && c->error_num == ENOSYS);
    CHECK(c->snapshot(c, NULL) == -1 && c->error_num == ENOSYS);
    CHECK(!c->checkpoint(c, "/tmp", false, false) && c->error_num == ENOSYS);
    CHECK(c->devpts_fd(c) < 0 && c->devpts_fd(c) != -ENOSYS);  /* not running */
    CHECK(c->console_getfd(c, NULL, NULL) == -1);  /* not running */
    CHECK(!c->add_device_node(c, "/dev/null", NULL) && c->error_num == ENOSYS);
    CHECK(c->migrate(c, 0, NULL, 0) == -1 && c->error_num == ENOSYS);

    // References: liblxc's get/put counting.
    CHECK(lxc_container_get(c) == 1 && c->numthreads == 2);
    CHECK(lxc_container_put(c) == 0);
    CHECK(lxc_container_put(c) == 1);
    CHECK(lxc_container_put(NULL) == -1);

    // save_config, then the container is defined and listed.
    c = lxc_container_new("abicheck", lxcpath);
    CHECK(c->set_config_item(c, "lxc.uts.name", "abicheck"));
    CHECK(c->save_config(c, NULL));
    CHECK(c->is_defined(c));
    char **names = NULL;
    struct lxc_container **containers = NULL;
    CHECK(list_defined_containers(lxcpath, &names, &containers) == 1);
    CHECK(names && strcmp(names[0], "abicheck") == 0);
    CHECK(containers && containers[0] && strcmp(containers[0]->name, "abicheck") == 0);
    if (containers && containers[0]) {
        CHECK(containers[0]->get_config_item(containers[0], "lxc.uts.name", value, sizeof value) == 8);
        lxc_container_put(containers[0]);
    }
    free(names ? names[0] : NULL);
    free(names);
    free(containers);
    CHECK(list_active_containers(lxcpath, NULL, NULL) == 0);
    CHECK(c->destroy(c));
    CHECK(!c->is_defined(c));
    lxc_container_put(c);

    if (failures) return 1;
    printf("ok\n");
    return 0;
}
