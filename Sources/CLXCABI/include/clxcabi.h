// The C side of SwiftLXC's liblxc.so.1: the public types of LXC 5.0.2's C API with the
// layout liblxc.so.1 has on x86_64 (offsets checked at compile time against the measured
// ABI in Docs/abi.md), and what Swift cannot write: the variadic entry points, the functions
// that run in a forked attach child, and the fork itself.
#ifndef CLXCABI_H
#define CLXCABI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct lxc_container;
struct bdev_specs;
struct lxc_snapshot;
struct migrate_opts;
struct lxc_console_log;
struct lxc_mount;

typedef struct lxc_attach_options_t lxc_attach_options_t;
typedef int (*lxc_attach_exec_t)(void *payload);

/// `lxc_groups_t`.
struct cabi_groups {
    size_t size;
    gid_t *list;
};

/// `lxc_attach_options_t`, 96 bytes.
struct lxc_attach_options_t {
    int attach_flags;
    int namespaces;
    long personality;
    char *initial_cwd;
    uid_t uid;
    gid_t gid;
    int env_policy;
    char **extra_env_vars;
    char **extra_keep_env;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int log_fd;
    char *lsm_label;
    struct cabi_groups groups;
};

/// `lxc_attach_command_t`: the payload of `lxc_attach_run_command`.
typedef struct {
    char *program;
    char **argv;
} lxc_attach_command_t;

/// `struct bdev_specs`, 72 bytes; SwiftLXC reads only `fssize`.
struct bdev_specs {
    char *fstype;
    uint64_t fssize;
    struct {
        char *zfsroot;
    } zfs;
    struct {
        char *vg;
        char *lv;
        char *thinpool;
    } lvm;
    char *dir;
    struct {
        char *rbdname;
        char *rbdpool;
    } rbd;
};

/// `struct lxc_snapshot`, 40 bytes.
struct lxc_snapshot {
    char *name;
    char *comment_pathname;
    char *timestamp;
    char *lxcpath;
    void (*free)(struct lxc_snapshot *);
};

/// `struct lxc_console_log`, 24 bytes.
struct lxc_console_log {
    bool clear;
    bool read;
    uint64_t *read_max;
    char *data;
};

/// `struct lxc_log`, 48 bytes.
struct lxc_log {
    const char *name;
    const char *lxcpath;
    const char *file;
    const char *level;
    const char *prefix;
    bool quiet;
};

/// `struct lxc_mount`, 4 bytes.
struct lxc_mount {
    int version;
};

#define C struct lxc_container

/// `struct lxc_container` of liblxc.so.1 (5.0.2), 568 bytes.
struct lxc_container {
    char *name;
    char *configfile;
    char *pidfile;
    void *slock;
    void *privlock;
    int numthreads;
    /// LXC's `struct lxc_conf *`; SwiftLXC keeps its own per-container state here.
    void *lxc_conf;
    char *error_string;
    int error_num;
    bool daemonize;
    char *config_path;

    bool (*is_defined)(C *c);
    const char *(*state)(C *c);
    bool (*is_running)(C *c);
    bool (*freeze)(C *c);
    bool (*unfreeze)(C *c);
    pid_t (*init_pid)(C *c);
    bool (*load_config)(C *c, const char *alt_file);
    bool (*start)(C *c, int useinit, char *const argv[]);
    bool (*startl)(C *c, int useinit, ...);
    bool (*stop)(C *c);
    bool (*want_daemonize)(C *c, bool state);
    bool (*want_close_all_fds)(C *c, bool state);
    char *(*config_file_name)(C *c);
    bool (*wait)(C *c, const char *state, int timeout);
    bool (*set_config_item)(C *c, const char *key, const char *value);
    bool (*destroy)(C *c);
    bool (*save_config)(C *c, const char *alt_file);
    bool (*create)(
        C *c, const char *t, const char *bdevtype, struct bdev_specs *specs, int flags,
        char *const argv[]);
    bool (*createl)(
        C *c, const char *t, const char *bdevtype, struct bdev_specs *specs, int flags, ...);
    bool (*rename)(C *c, const char *newname);
    bool (*reboot)(C *c);
    bool (*shutdown)(C *c, int timeout);
    void (*clear_config)(C *c);
    bool (*clear_config_item)(C *c, const char *key);
    int (*get_config_item)(C *c, const char *key, char *retv, int inlen);
    char *(*get_running_config_item)(C *c, const char *key);
    int (*get_keys)(C *c, const char *key, char *retv, int inlen);
    char **(*get_interfaces)(C *c);
    char **(*get_ips)(C *c, const char *interface, const char *family, int scope);
    int (*get_cgroup_item)(C *c, const char *subsys, char *retv, int inlen);
    bool (*set_cgroup_item)(C *c, const char *subsys, const char *value);
    const char *(*get_config_path)(C *c);
    bool (*set_config_path)(C *c, const char *path);
    C *(*clone)(
        C *c, const char *newname, const char *lxcpath, int flags, const char *bdevtype,
        const char *bdevdata, uint64_t newsize, char **hookargs);
    int (*console_getfd)(C *c, int *ttynum, int *ptxfd);
    int (*console)(C *c, int ttynum, int stdinfd, int stdoutfd, int stderrfd, int escape);
    int (*attach)(
        C *c, lxc_attach_exec_t exec_function, void *exec_payload,
        lxc_attach_options_t *options, pid_t *attached_process);
    int (*attach_run_wait)(
        C *c, lxc_attach_options_t *options, const char *program, const char *const argv[]);
    int (*attach_run_waitl)(
        C *c, lxc_attach_options_t *options, const char *program, const char *arg, ...);
    int (*snapshot)(C *c, const char *commentfile);
    int (*snapshot_list)(C *c, struct lxc_snapshot **snapshots);
    bool (*snapshot_restore)(C *c, const char *snapname, const char *newname);
    bool (*snapshot_destroy)(C *c, const char *snapname);
    bool (*may_control)(C *c);
    bool (*add_device_node)(C *c, const char *src_path, const char *dest_path);
    bool (*remove_device_node)(C *c, const char *src_path, const char *dest_path);
    bool (*attach_interface)(C *c, const char *dev, const char *dst_dev);
    bool (*detach_interface)(C *c, const char *dev, const char *dst_dev);
    bool (*checkpoint)(C *c, char *directory, bool stop, bool verbose);
    bool (*restore)(C *c, char *directory, bool verbose);
    bool (*destroy_with_snapshots)(C *c);
    bool (*snapshot_destroy_all)(C *c);
    int (*migrate)(C *c, unsigned int cmd, struct migrate_opts *opts, unsigned int size);
    int (*console_log)(C *c, struct lxc_console_log *log);
    bool (*reboot2)(C *c, int timeout);
    int (*mount)(
        C *c, const char *source, const char *target, const char *filesystemtype,
        unsigned long mountflags, const void *data, struct lxc_mount *mnt);
    int (*umount)(C *c, const char *target, unsigned long mountflags, struct lxc_mount *mnt);
    int (*seccomp_notify_fd)(C *c);
    int (*seccomp_notify_fd_active)(C *c);
    int (*init_pidfd)(C *c);
    int (*devpts_fd)(C *c);
};

#undef C

// MARK: - Implemented in C

/// The variadic entry points: they gather their arguments and call `start`, `create` and
/// `attach_run_wait` through the container's own pointers.
bool cabi_startl(struct lxc_container *c, int useinit, ...);
bool cabi_createl(
    struct lxc_container *c, const char *t, const char *bdevtype, struct bdev_specs *specs,
    int flags, ...);
int cabi_attach_run_waitl(
    struct lxc_container *c, lxc_attach_options_t *options, const char *program,
    const char *arg, ...);

/// Exported: run inside an attached child, as LXC's are.
int lxc_attach_run_command(void *payload);
int lxc_attach_run_shell(void *payload);

/// What the forked attach child does before it calls the caller's function.
struct cabi_attach_plan {
    /// A pidfd of the container's init, and the `CLONE_NEW*` namespaces to join through it.
    int init_pidfd;
    int namespaces;
    /// `cgroup.procs` files to write the child into before it joins the namespaces.
    const char *const *cgroup_procs;
    size_t cgroup_count;
    /// -1 to keep the caller's.
    long personality;
    /// Capabilities to drop from the bounding set, a bit per capability number.
    uint64_t drop_bounding;
    uid_t uid;
    gid_t gid;
    /// Supplementary groups; `set_groups` false leaves them.
    bool set_groups;
    const gid_t *groups;
    size_t group_count;
    /// The working directory, `/` when it does not exist; NULL keeps `/` of the container.
    const char *cwd;
    /// The complete environment, NULL-terminated.
    char *const *environment;
    bool no_new_privs;
    /// A classic BPF program for `seccomp(SECCOMP_SET_MODE_FILTER)`, or none.
    const void *seccomp_filter;
    size_t seccomp_instructions;
    unsigned int seccomp_flags;
    int stdio[3];
};

/// LXC's `attach` with any function: forks a child that joins the cgroups and namespaces of
/// `plan` and forks, with `CLONE_PARENT`, the process that prepares itself and returns
/// `exec_function(exec_payload)` as its exit status. That process is the caller's child; its
/// pid goes to `*attached`. Returns 0, or -errno naming no call (the caller reports).
int cabi_attach_fork(
    const struct cabi_attach_plan *plan, lxc_attach_exec_t exec_function, void *exec_payload,
    pid_t *attached);

/// The address of `lxc_attach_run_command`, so Swift can recognise it.
lxc_attach_exec_t cabi_run_command_function(void);

/// Sets `startl`, `createl` and `attach_run_waitl`, which Swift cannot name.
void cabi_install_variadic(struct lxc_container *c);

/// The path this library was loaded from (`dladdr`), or NULL.
const char *cabi_library_path(void);

#endif
