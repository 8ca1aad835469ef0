// Variadic entry points, the attach fork, and the functions an attached child runs.
// Nothing here runs Swift after a fork.
#define _GNU_SOURCE
#include "clxcabi.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The layout of liblxc.so.1 5.0.2 on x86_64, as measured (Docs/abi.md).
_Static_assert(sizeof(struct lxc_container) == 568, "struct lxc_container is 568 bytes");
_Static_assert(offsetof(struct lxc_container, numthreads) == 40, "numthreads");
_Static_assert(offsetof(struct lxc_container, error_string) == 56, "error_string");
_Static_assert(offsetof(struct lxc_container, error_num) == 64, "error_num");
_Static_assert(offsetof(struct lxc_container, daemonize) == 68, "daemonize");
_Static_assert(offsetof(struct lxc_container, config_path) == 72, "config_path");
_Static_assert(offsetof(struct lxc_container, is_defined) == 80, "is_defined");
_Static_assert(offsetof(struct lxc_container, clone) == 344, "clone");
_Static_assert(offsetof(struct lxc_container, attach) == 368, "attach");
_Static_assert(offsetof(struct lxc_container, may_control) == 424, "may_control");
_Static_assert(offsetof(struct lxc_container, migrate) == 496, "migrate");
_Static_assert(offsetof(struct lxc_container, console_log) == 504, "console_log");
_Static_assert(offsetof(struct lxc_container, devpts_fd) == 560, "devpts_fd");
_Static_assert(sizeof(lxc_attach_options_t) == 96, "lxc_attach_options_t");
_Static_assert(offsetof(lxc_attach_options_t, stdin_fd) == 56, "stdin_fd");
_Static_assert(offsetof(lxc_attach_options_t, groups) == 80, "groups");
_Static_assert(sizeof(lxc_attach_command_t) == 16, "lxc_attach_command_t");
_Static_assert(sizeof(struct bdev_specs) == 72, "bdev_specs");
_Static_assert(sizeof(struct lxc_snapshot) == 40, "lxc_snapshot");
_Static_assert(sizeof(struct lxc_console_log) == 24, "lxc_console_log");
_Static_assert(sizeof(struct lxc_log) == 48, "lxc_log");
_Static_assert(sizeof(struct lxc_mount) == 4, "lxc_mount");

// Data that liblxc.so.1 exports; no known client reads them.
int lxc_log_fd = -1;
bool lxc_log_use_global_fd = false;

/// Collects a NULL-terminated variadic list, `first` included, into a malloc'ed array.
static char **collect(const char *first, va_list ap) {
    size_t count = 0, capacity = 8;
    char **list = malloc(capacity * sizeof(char *));
    if (!list) return NULL;
    for (const char *arg = first; arg; arg = va_arg(ap, const char *)) {
        if (count + 2 > capacity) {
            capacity *= 2;
            char **grown = realloc(list, capacity * sizeof(char *));
            if (!grown) {
                free(list);
                return NULL;
            }
            list = grown;
        }
        list[count++] = (char *)arg;
    }
    list[count] = NULL;
    return list;
}

bool cabi_startl(struct lxc_container *c, int useinit, ...) {
    if (!c) return false;
    va_list ap;
    va_start(ap, useinit);
    const char *first = va_arg(ap, const char *);
    char **argv = collect(first, ap);
    va_end(ap);
    if (!argv) return false;
    bool ok = c->start(c, useinit, argv[0] ? argv : NULL);
    free(argv);
    return ok;
}

bool cabi_createl(
    struct lxc_container *c, const char *t, const char *bdevtype, struct bdev_specs *specs,
    int flags, ...) {
    if (!c) return false;
    va_list ap;
    va_start(ap, flags);
    const char *first = va_arg(ap, const char *);
    char **argv = collect(first, ap);
    va_end(ap);
    if (!argv) return false;
    bool ok = c->create(c, t, bdevtype, specs, flags, argv);
    free(argv);
    return ok;
}

int cabi_attach_run_waitl(
    struct lxc_container *c, lxc_attach_options_t *options, const char *program,
    const char *arg, ...) {
    if (!c) return -1;
    va_list ap;
    va_start(ap, arg);
    char **argv = collect(arg, ap);
    va_end(ap);
    if (!argv) return -1;
    int status = c->attach_run_wait(c, options, program, (const char *const *)argv);
    free(argv);
    return status;
}

int lxc_attach_run_command(void *payload) {
    lxc_attach_command_t *command = payload;
    if (!command || !command->program) return -1;
    execvp(command->program, command->argv);
    int error = errno;
    fprintf(stderr, "lxc_attach_run_command: execvp %s: %s\n", command->program, strerror(error));
    if (error == ENOENT) return 127;
    if (error == ENOEXEC || error == EACCES) return 126;
    return -1;
}

int lxc_attach_run_shell(void *payload) {
    (void)payload;
    const char *shell = NULL;
    struct passwd *entry = getpwuid(getuid());
    if (entry && entry->pw_shell && entry->pw_shell[0] == '/') shell = entry->pw_shell;
    if (!shell || access(shell, X_OK) != 0) shell = "/bin/sh";
    execlp(shell, shell, (char *)NULL);
    fprintf(stderr, "lxc_attach_run_shell: exec %s: %s\n", shell, strerror(errno));
    return -1;
}

lxc_attach_exec_t cabi_run_command_function(void) { return lxc_attach_run_command; }

void cabi_install_variadic(struct lxc_container *c) {
    c->startl = cabi_startl;
    c->createl = cabi_createl;
    c->attach_run_waitl = cabi_attach_run_waitl;
}

const char *cabi_library_path(void) {
    Dl_info info;
    if (dladdr((void *)lxc_attach_run_command, &info) == 0) return NULL;
    return info.dli_fname;
}

static void write_all(int fd, const void *data, size_t size) {
    const char *bytes = data;
    while (size > 0) {
        ssize_t done = write(fd, bytes, size);
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0) return;
        bytes += done;
        size -= (size_t)done;
    }
}

/// In the attached process: everything before the caller's function. Returns 0 or an errno.
static int prepare(const struct cabi_attach_plan *plan) {
    for (int i = 0; i < 3; i++) {
        if (plan->stdio[i] >= 0 && plan->stdio[i] != i && dup2(plan->stdio[i], i) < 0) return errno;
    }
    if (plan->personality >= 0 && personality((unsigned long)plan->personality) < 0) return errno;
    for (int cap = 0; cap < 64; cap++) {
        if ((plan->drop_bounding >> cap) & 1) {
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return errno;
        }
    }
    if (plan->set_groups) {
        if (setgroups(plan->group_count, plan->groups) < 0) return errno;
    } else if (setgroups(0, NULL) < 0 && errno != EPERM) {
        return errno;
    }
    // Raw system calls: glibc's wrappers would signal threads this process does not have.
    if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0) return errno;
    if (syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0) return errno;
    if (!plan->cwd || chdir(plan->cwd) < 0) {
        if (chdir("/") < 0) return errno;
    }
    if (plan->environment) {
        clearenv();
        for (char *const *entry = plan->environment; *entry; entry++) putenv(*entry);
    }
    if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errno;
    if (plan->seccomp_filter && plan->seccomp_instructions > 0) {
        struct sock_fprog program = {
            .len = (unsigned short)plan->seccomp_instructions,
            .filter = (struct sock_filter *)plan->seccomp_filter,
        };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan->seccomp_flags, &program) < 0)
            return errno;
    }
    return 0;
}

int cabi_attach_fork(
    const struct cabi_attach_plan *plan, lxc_attach_exec_t exec_function, void *exec_payload,
    pid_t *attached) {
    int channel[2];
    if (pipe2(channel, O_CLOEXEC) < 0) return -errno;
    pid_t intermediate = fork();
    if (intermediate < 0) {
        int error = errno;
        close(channel[0]);
        close(channel[1]);
        return -error;
    }
    if (intermediate == 0) {
        // The intermediate: cgroups, namespaces, then the attached process.
        close(channel[0]);
        int report[2] = {0, 0};  // pid, errno
        for (size_t i = 0; i < plan->cgroup_count; i++) {
            int fd = open(plan->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, "0", 1) != 1) {
                report[1] = errno;
                write_all(channel[1], report, sizeof(report));
                _exit(1);
            }
            close(fd);
        }
        if (plan->namespaces != 0 && setns(plan->init_pidfd, plan->namespaces) < 0) {
            report[1] = errno;
            write_all(channel[1], report, sizeof(report));
            _exit(1);
        }
        long child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
        if (child < 0) {
            report[1] = errno;
            write_all(channel[1], report, sizeof(report));
            _exit(1);
        }
        if (child == 0) {
            int error = prepare(plan);
            if (error != 0) {
                report[1] = error;
                write_all(channel[1], report, sizeof(report));
                _exit(127);
            }
            close(channel[1]);
            _exit(exec_function(exec_payload));
        }
        report[0] = (int)child;
        write_all(channel[1], report, sizeof(report));
        _exit(0);
    }
    close(channel[1]);
    int report[2] = {0, 0};
    ssize_t got;
    do {
        got = read(channel[0], report, sizeof(report));
    } while (got < 0 && errno == EINTR);
    // The attached process reports only a failure, after the intermediate's pid message.
    int failure[2] = {0, 0};
    ssize_t more = 0;
    if (got == (ssize_t)sizeof(report) && report[0] > 0) {
        do {
            more = read(channel[0], failure, sizeof(failure));
        } while (more < 0 && errno == EINTR);
    }
    close(channel[0]);
    int status;
    while (waitpid(intermediate, &status, 0) < 0 && errno == EINTR) {}
    if (got != (ssize_t)sizeof(report)) return -EIO;
    if (report[0] <= 0) return -(report[1] ? report[1] : EIO);
    if (more == (ssize_t)sizeof(failure)) {
        // It failed before the caller's function and exits 127; reap it.
        while (waitpid(report[0], &status, 0) < 0 && errno == EINTR) {}
        return -(failure[1] ? failure[1] : EIO);
    }
    *attached = report[0];
    return 0;
}
