/* See cshim.h. _GNU_SOURCE is defined only here, never in the public header. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cshim.h"

long shim_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6)
{
    return syscall(number, a1, a2, a3, a4, a5, a6);
}

/* The child's borrowed stack: it only resets signals, moves fds and calls execve. */
#define SPAWN_STACK_SIZE (64 * 1024)

struct spawn_context {
    const struct shim_spawn_request *request;
    sigset_t parent_mask;
    int report_fd; /* write end of the close-on-exec report pipe */
    int hold_fd;   /* read end of the release pipe, or -1 when the child does not wait */
};

struct spawn_report {
    int stage;
    int error;
};

static void spawn_report_failure(int fd, int stage)
{
    struct spawn_report report = { stage, errno };
    ssize_t n;

    do {
        n = write(fd, &report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

/* Runs in the vfork-style child. It shares the parent's memory, so it must not allocate,
 * take locks, or return into the parent's frames: only syscalls, then execve or _exit. */
static int spawn_child(void *arg)
{
    struct spawn_context *context = arg;
    const struct shim_spawn_request *request = context->request;
    int count = request->fd_count;
    int moved[SHIM_SPAWN_MAX_FDS];
    int report_fd = context->report_fd;

    /* A handler inherited from the parent would run on this borrowed stack; reset every
     * caught signal before the mask is lifted. Ignored signals stay ignored, as exec keeps. */
    for (int sig = 1; sig < _NSIG; sig++) {
        struct sigaction action;

        if (sigaction(sig, NULL, &action) < 0)
            continue;
        if (action.sa_handler == SIG_IGN || action.sa_handler == SIG_DFL)
            continue;
        memset(&action, 0, sizeof(action));
        action.sa_handler = SIG_DFL;
        sigaction(sig, &action, NULL);
    }

    if ((request->flags & SHIM_SPAWN_SETSID) && setsid() < 0)
        spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_SETUP);

    /* The report and release pipes must survive the dup2 calls below. */
    if (report_fd < count) {
        report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, count);
        if (report_fd < 0)
            spawn_report_failure(context->report_fd, SHIM_SPAWN_STAGE_SETUP);
    }
    int hold_fd = context->hold_fd;
    if (hold_fd >= 0 && hold_fd < count) {
        hold_fd = fcntl(hold_fd, F_DUPFD_CLOEXEC, count);
        if (hold_fd < 0)
            spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_SETUP);
    }

    /* Copy every source above the map first, so no dup2 overwrites a source still needed. */
    for (int i = 0; i < count; i++) {
        int source = request->fd_map[i];

        moved[i] = -1;
        if (source < 0 || source == i)
            continue;
        moved[i] = fcntl(source, F_DUPFD_CLOEXEC, count);
        if (moved[i] < 0)
            spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_SETUP);
    }

    for (int i = 0; i < count; i++) {
        int source = request->fd_map[i];

        if (source == i) {
            if (fcntl(i, F_SETFD, 0) < 0)
                spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_SETUP);
        } else if (source >= 0) {
            if (dup2(moved[i], i) < 0)
                spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_SETUP);
        } else {
            close(i);
        }
    }

    /* Only the mapped fds reach the program; the report pipe closes at exec like the rest. */
    if (close_range(count, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_SETUP);

    /* Held: wait for the parent's byte. End of file means it gave up on this child. */
    if (hold_fd >= 0) {
        char go = 0;
        ssize_t n;

        do {
            n = read(hold_fd, &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(127);

        /* Raw system calls: glibc's set*id wrappers would signal every thread of the
         * memory this child shares, which are the parent's threads. */
        if (request->flags & SHIM_SPAWN_BECOME_ROOT) {
            if (syscall(SYS_setgroups, 0, NULL) < 0 ||
                syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
                spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_SETUP);
        }
    }

    /* A program expects to start with nothing blocked; the calling thread's mask (a runtime
     * or test thread may block signals) is kept only on request. */
    if (request->flags & SHIM_SPAWN_KEEP_SIGMASK) {
        sigprocmask(SIG_SETMASK, &context->parent_mask, NULL);
    } else {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
    }

    execve(request->path, request->argv, request->envp);
    spawn_report_failure(report_fd, SHIM_SPAWN_STAGE_EXEC);
    return 127;
}

static int spawn_fail(struct shim_spawn_result *result, int stage, int error)
{
    result->stage = stage;
    result->error = error;
    return -1;
}

int shim_spawn(const struct shim_spawn_request *request, struct shim_spawn_result *result)
{
    struct spawn_context context = { .request = request, .hold_fd = -1 };
    struct spawn_report report;
    sigset_t all;
    int pipe_fds[2];
    int flags, saved_errno;
    void *stack;
    pid_t pid;
    ssize_t n;

    result->pid = -1;
    result->pidfd = -1;
    result->error = 0;
    result->stage = SHIM_SPAWN_STAGE_NONE;

    if (request->fd_count < 0 || request->fd_count > SHIM_SPAWN_MAX_FDS)
        return spawn_fail(result, SHIM_SPAWN_STAGE_PREPARE, EINVAL);

    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return spawn_fail(result, SHIM_SPAWN_STAGE_PREPARE, errno);

    stack = mmap(NULL, SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        saved_errno = errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return spawn_fail(result, SHIM_SPAWN_STAGE_PREPARE, saved_errno);
    }
    context.report_fd = pipe_fds[1];

    flags = request->clone_flags | CLONE_VM | CLONE_VFORK | SIGCHLD;
    if (request->want_pidfd)
        flags |= CLONE_PIDFD;

    /* No signal may reach a handler while the child borrows this process's memory. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &context.parent_mask);

    /* With CLONE_PIDFD the kernel stores the pidfd through the parent_tid argument. */
    pid = clone(spawn_child, (char *)stack + SPAWN_STACK_SIZE, flags, &context,
                &result->pidfd);
    saved_errno = errno;

    pthread_sigmask(SIG_SETMASK, &context.parent_mask, NULL);
    munmap(stack, SPAWN_STACK_SIZE);
    close(pipe_fds[1]);

    if (pid < 0) {
        close(pipe_fds[0]);
        result->pidfd = -1;
        return spawn_fail(result, SHIM_SPAWN_STAGE_CLONE, saved_errno);
    }

    /* CLONE_VFORK: the child has exec'd or exited by now, so this read does not block. */
    do {
        n = read(pipe_fds[0], &report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    close(pipe_fds[0]);

    if (n == (ssize_t)sizeof(report)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (result->pidfd >= 0)
            close(result->pidfd);
        result->pidfd = -1;
        return spawn_fail(result, report.stage, report.error);
    }

    result->pid = pid;
    return 0;
}

/* A held child's memory: its stack and context must outlive shim_spawn_held's frame. */
struct shim_spawn_hold {
    struct spawn_context context;
    pid_t pid;
    int pidfd;
    int report_fd; /* read end of the report pipe */
    int release_fd; /* write end of the release pipe */
    size_t size;
};

int shim_spawn_held(const struct shim_spawn_request *request, struct shim_spawn_result *result,
                    struct shim_spawn_hold **hold_out)
{
    size_t size = SPAWN_STACK_SIZE;
    struct shim_spawn_hold *hold;
    int report[2], release[2];
    int flags, saved_errno;
    sigset_t all;
    char *region;
    pid_t pid;

    result->pid = -1;
    result->pidfd = -1;
    result->error = 0;
    result->stage = SHIM_SPAWN_STAGE_NONE;
    *hold_out = NULL;

    if (request->fd_count < 0 || request->fd_count > SHIM_SPAWN_MAX_FDS)
        return spawn_fail(result, SHIM_SPAWN_STAGE_PREPARE, EINVAL);

    if (pipe2(report, O_CLOEXEC) < 0)
        return spawn_fail(result, SHIM_SPAWN_STAGE_PREPARE, errno);
    if (pipe2(release, O_CLOEXEC) < 0) {
        saved_errno = errno;
        close(report[0]);
        close(report[1]);
        return spawn_fail(result, SHIM_SPAWN_STAGE_PREPARE, saved_errno);
    }

    /* The stack grows down from the top of the region; the hold sits at its bottom. */
    region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                  -1, 0);
    if (region == MAP_FAILED) {
        saved_errno = errno;
        close(report[0]);
        close(report[1]);
        close(release[0]);
        close(release[1]);
        return spawn_fail(result, SHIM_SPAWN_STAGE_PREPARE, saved_errno);
    }
    hold = (struct shim_spawn_hold *)region;
    hold->context.request = request;
    hold->context.report_fd = report[1];
    hold->context.hold_fd = release[0];
    hold->report_fd = report[0];
    hold->release_fd = release[1];
    hold->pidfd = -1;
    hold->size = size;

    flags = request->clone_flags | CLONE_VM | SIGCHLD;
    if (request->want_pidfd)
        flags |= CLONE_PIDFD;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &hold->context.parent_mask);
    pid = clone(spawn_child, region + size, flags, &hold->context, &hold->pidfd);
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &hold->context.parent_mask, NULL);

    /* The child has its own copies of these ends. */
    close(report[1]);
    close(release[0]);

    if (pid < 0) {
        close(report[0]);
        close(release[1]);
        munmap(region, size);
        return spawn_fail(result, SHIM_SPAWN_STAGE_CLONE, saved_errno);
    }
    hold->pid = pid;
    result->pid = pid;
    result->pidfd = hold->pidfd;
    *hold_out = hold;
    return 0;
}

int shim_spawn_release(struct shim_spawn_hold *hold, int proceed, struct shim_spawn_result *result)
{
    struct spawn_report report;
    ssize_t n;
    int status = 0;

    result->pid = hold->pid;
    result->pidfd = hold->pidfd;
    result->error = 0;
    result->stage = SHIM_SPAWN_STAGE_NONE;

    if (proceed) {
        char go = 1;

        do {
            n = write(hold->release_fd, &go, 1);
        } while (n < 0 && errno == EINTR);
    }
    close(hold->release_fd);

    /* The report pipe reaches end of file when the child has exec'd or exited; only then
     * may its stack be unmapped. */
    do {
        n = read(hold->report_fd, &report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    close(hold->report_fd);

    if (n == (ssize_t)sizeof(report) || !proceed) {
        while (waitpid(hold->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (hold->pidfd >= 0)
            close(hold->pidfd);
        result->pid = -1;
        result->pidfd = -1;
        if (n == (ssize_t)sizeof(report)) {
            result->stage = report.stage;
            result->error = report.error;
        } else {
            result->stage = SHIM_SPAWN_STAGE_EXEC;
            result->error = ECANCELED;
        }
        status = -1;
    }
    munmap(hold, hold->size);
    return status;
}

/* ---- Mount injection ---- */

#define INJECT_STACK_SIZE (64 * 1024)

struct inject_context {
    const struct shim_inject_request *request;
    int report_fd;
};

static void inject_report(int fd, int stage)
{
    struct spawn_report report = { stage, errno };
    ssize_t n;

    do {
        n = write(fd, &report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    _exit(1);
}

static int inject_openat2(int root, const char *path)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd;

    /* EAGAIN: a rename or mount raced with the ".." checks; the kernel asks for a retry. */
    for (int attempt = 0; attempt < 1000; attempt++) {
        fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            return fd;
    }
    return -1;
}

/* Opens `target` inside `root`, making missing components one at a time: each is created
 * directly in its already resolved parent, so no symlink can send the creation elsewhere. */
static int inject_open_target(int root, const char *target, int create)
{
    char path[PATH_MAX];
    size_t length = strlen(target);
    int parent, fd;

    fd = inject_openat2(root, target);
    if (fd >= 0 || errno != ENOENT || create == SHIM_INJECT_CREATE_NONE)
        return fd;
    if (length >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, target, length + 1);

    parent = inject_openat2(root, "/");
    if (parent < 0)
        return -1;
    for (size_t end = 0; end <= length; end++) {
        if (path[end] != '/' && path[end] != '\0')
            continue;
        size_t start = end;
        while (start > 0 && path[start - 1] != '/')
            start--;
        if (start == end)
            continue; /* empty component: a leading or doubled slash */
        char saved = path[end];
        int last = (saved == '\0');
        path[end] = '\0';
        fd = inject_openat2(root, path);
        if (fd < 0 && errno == ENOENT) {
            int made;
            if (last && create == SHIM_INJECT_CREATE_FILE) {
                made = openat(parent, path + start,
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (made >= 0)
                    close(made);
            } else {
                made = mkdirat(parent, path + start, 0755);
            }
            if (made < 0 && errno != EEXIST) {
                close(parent);
                return -1;
            }
            fd = inject_openat2(root, path);
        }
        path[end] = saved;
        close(parent);
        if (fd < 0)
            return -1;
        parent = fd;
    }
    return parent;
}

/* Runs in the vfork-style child: only syscalls, then _exit. */
static int inject_child(void *arg)
{
    struct inject_context *context = arg;
    const struct shim_inject_request *request = context->request;
    int root, target;

    if (setns(request->pidfd, CLONE_NEWNS) < 0)
        inject_report(context->report_fd, SHIM_INJECT_STAGE_SETNS);
    root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        inject_report(context->report_fd, SHIM_INJECT_STAGE_TARGET);
    target = inject_open_target(root, request->target,
                                request->tree_fd >= 0 ? request->create : SHIM_INJECT_CREATE_NONE);
    if (target < 0)
        inject_report(context->report_fd, SHIM_INJECT_STAGE_TARGET);

    if (request->tree_fd >= 0) {
        if (syscall(SYS_move_mount, request->tree_fd, "", target, "",
                    0x00000004 /* MOVE_MOUNT_F_EMPTY_PATH */ |
                        0x00000040 /* MOVE_MOUNT_T_EMPTY_PATH */) < 0)
            inject_report(context->report_fd, SHIM_INJECT_STAGE_MOUNT);
    } else {
        /* umount2 takes only a path. The target resolved inside the root above; the path
         * resolves the same way now, since this process's root is the container's, and
         * UMOUNT_NOFOLLOW keeps a last component that is a symlink from being followed. An
         * open fd on the mount, even O_PATH, would make it busy: close it first. */
        close(target);
        if (umount2(request->target, request->umount_flags | UMOUNT_NOFOLLOW) < 0)
            inject_report(context->report_fd, SHIM_INJECT_STAGE_MOUNT);
    }
    _exit(0);
}

int shim_inject(const struct shim_inject_request *request, struct shim_inject_result *result)
{
    struct inject_context context = { .request = request };
    struct spawn_report report;
    sigset_t all, saved_mask;
    int pipe_fds[2], saved_errno;
    void *stack;
    pid_t pid;
    ssize_t n;

    result->stage = SHIM_INJECT_STAGE_NONE;
    result->error = 0;
    if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
        result->stage = SHIM_INJECT_STAGE_CLONE;
        result->error = errno;
        return -1;
    }
    stack = mmap(NULL, INJECT_STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        saved_errno = errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        result->stage = SHIM_INJECT_STAGE_CLONE;
        result->error = saved_errno;
        return -1;
    }
    context.report_fd = pipe_fds[1];

    /* No handler may run on the borrowed stack; the child exits without unblocking. No
     * CLONE_FS: setns into a mount namespace needs a filesystem context of its own. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved_mask);
    pid = clone(inject_child, (char *)stack + INJECT_STACK_SIZE,
                CLONE_VM | CLONE_VFORK | SIGCHLD, &context);
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
    munmap(stack, INJECT_STACK_SIZE);
    close(pipe_fds[1]);

    if (pid < 0) {
        close(pipe_fds[0]);
        result->stage = SHIM_INJECT_STAGE_CLONE;
        result->error = saved_errno;
        return -1;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    do {
        n = read(pipe_fds[0], &report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    close(pipe_fds[0]);
    if (n == (ssize_t)sizeof(report)) {
        result->stage = report.stage;
        result->error = report.error;
        return -1;
    }
    return 0;
}
