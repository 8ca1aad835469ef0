/* See cshim.h. _GNU_SOURCE is defined only here, never in the public header. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
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

    /* The report pipe must survive the dup2 calls below. */
    if (report_fd < count) {
        report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, count);
        if (report_fd < 0)
            spawn_report_failure(context->report_fd, SHIM_SPAWN_STAGE_SETUP);
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
    struct spawn_context context = { .request = request };
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
