/*
 * CShim: the little C that SwiftLXC needs.
 *
 * Swift's Glibc module is built without _GNU_SOURCE, so the Linux-only prototypes and
 * constants a container runtime uses are missing from it. Defining _GNU_SOURCE here would
 * make this module's glibc structs differ from SwiftGlibc's (a clean build then fails on
 * fd_set), so this header declares the few GNU prototypes itself and pulls in only UAPI
 * headers. _GNU_SOURCE is defined in cshim.c alone.
 *
 * Two routines cannot be written safely in Swift and live here:
 *   shim_syscall6  syscall(2) is variadic and cannot be imported;
 *   shim_spawn     a vfork-style child runs on a borrowed stack in the parent's memory;
 *   shim_inject    the same kind of child joins a running container's mount namespace
 *                  and attaches or detaches one mount there (mount injection).
 */
#ifndef SWIFTLXC_CSHIM_H
#define SWIFTLXC_CSHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/pidfd.h>
#include <sys/statfs.h>
#include <sys/personality.h>
#include <linux/sched.h>
#include <linux/openat2.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/memfd.h>
#include <linux/prctl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
/* rtnetlink pulls in netlink.h, if_link.h, if_addr.h and neighbour.h. Never linux/if.h:
   it clashes with glibc's net/if.h. */
#include <linux/rtnetlink.h>
#include <linux/veth.h>

/* Flags glibc hides behind _GNU_SOURCE. Values are the kernel's (asm-generic, x86). */
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef O_PATH
#define O_PATH 010000000
#endif
#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0x40000000
#endif

/* GNU-only libc functions, present in libc.so but not declared to Swift. */
int unshare(int flags);
int setns(int fd, int nstype);
int pipe2(int fds[2], int flags);
int dup3(int oldfd, int newfd, int flags);
pid_t gettid(void);
int memfd_create(const char *name, unsigned int flags);
int close_range(unsigned int first, unsigned int last, int flags);
int setresuid(uid_t ruid, uid_t euid, uid_t suid);
int setresgid(gid_t rgid, gid_t egid, gid_t sgid);
int syncfs(int fd);
int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/* struct ucred, which glibc declares only under _GNU_SOURCE (SO_PEERCRED's answer). */
struct shim_ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

/* syscall(2) with a fixed arity: returns -1 and sets errno as the libc wrapper does. */
long shim_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6);

/* ---- vfork-style spawn ------------------------------------------------------------ */

/* Largest fd map the spawn routine accepts; the child keeps its scratch copy on its stack. */
#define SHIM_SPAWN_MAX_FDS 64

/* shim_spawn_request.flags */
#define SHIM_SPAWN_SETSID 0x1         /* the child starts a new session before exec */
#define SHIM_SPAWN_KEEP_SIGMASK 0x2   /* keep the caller's signal mask instead of an empty one */
#define SHIM_SPAWN_BECOME_ROOT 0x4    /* held spawns: become uid and gid 0 of the child's user
                                         namespace after the release, so execve keeps the
                                         namespace's capabilities */

/* Where a failed spawn stopped. */
enum shim_spawn_stage {
    SHIM_SPAWN_STAGE_NONE = 0,
    SHIM_SPAWN_STAGE_PREPARE = 1, /* the parent's pipe, stack or fd map check */
    SHIM_SPAWN_STAGE_CLONE = 2,   /* clone(2) itself */
    SHIM_SPAWN_STAGE_SETUP = 3,   /* the child's setsid or fd map */
    SHIM_SPAWN_STAGE_EXEC = 4,    /* execve(2) */
};

struct shim_spawn_request {
    const char *path;   /* the program, by path; no PATH search */
    char *const *argv;  /* NULL-terminated */
    char *const *envp;  /* NULL-terminated */
    const int *fd_map;  /* fd_map[i] is the parent's fd that becomes fd i; -1 leaves fd i closed */
    int fd_count;       /* entries in fd_map; every other fd is closed at exec */
    int clone_flags;    /* CLONE_NEW* flags; CLONE_VM|CLONE_VFORK|SIGCHLD are always added */
    int flags;          /* SHIM_SPAWN_* */
    int want_pidfd;     /* nonzero: CLONE_PIDFD, the pidfd is returned in result.pidfd */
};

struct shim_spawn_result {
    pid_t pid;   /* the child's pid in the caller's pid namespace */
    int pidfd;   /* -1 unless want_pidfd */
    int error;   /* errno of the failed step, 0 on success */
    int stage;   /* enum shim_spawn_stage of the failure */
};

/*
 * Starts request->path in a child made by clone(CLONE_VM|CLONE_VFORK|clone_flags).
 * All signals are blocked across clone; the child resets caught signals to their default
 * before it unblocks every signal (or restores the caller's mask with KEEP_SIGMASK),
 * applies the fd map with dup2, and calls execve at once.
 * An execve failure travels back over a close-on-exec pipe; the child is then reaped.
 * Returns 0 with pid (and pidfd) set, or -1 with error and stage set.
 */
int shim_spawn(const struct shim_spawn_request *request, struct shim_spawn_result *result);

/*
 * The same spawn, but the child waits just before execve until it is released. A child
 * born in a new user namespace needs this: its uid and gid maps must be written before it
 * execs, or execve drops every capability it holds in that namespace. Without CLONE_VFORK
 * the parent runs on while the child waits; the child still shares its memory and only makes
 * system calls. `request` and everything it points to must stay alive until the release.
 * Returns 0 with result.pid set and *hold to pass to shim_spawn_release, or -1.
 */
struct shim_spawn_hold;
int shim_spawn_held(const struct shim_spawn_request *request, struct shim_spawn_result *result,
                    struct shim_spawn_hold **hold);

/*
 * Releases a held child. With proceed nonzero it execs, and the result reports as shim_spawn
 * does (an exec failure reaps the child). With proceed zero the child exits without exec and
 * is reaped. Either way the hold is freed.
 */
int shim_spawn_release(struct shim_spawn_hold *hold, int proceed, struct shim_spawn_result *result);

/*
 * Mount injection: a vfork-style child joins the mount namespace of the process behind
 * `pidfd` (its root and working directory become that namespace's root) and there either
 * attaches the detached mount `tree_fd` onto `target` with move_mount, or (tree_fd < 0)
 * unmounts `target` with `umount_flags`. `target` is resolved inside the container's root
 * with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS; missing components are made when `create`
 * is SHIM_INJECT_CREATE_DIRECTORY or _FILE (the last one a file). The caller's namespaces
 * never change, so it may be multithreaded.
 * Returns 0, or -1 with result.stage (enum shim_inject_stage) and result.error set.
 */
enum shim_inject_create {
    SHIM_INJECT_CREATE_NONE = 0,
    SHIM_INJECT_CREATE_DIRECTORY = 1,
    SHIM_INJECT_CREATE_FILE = 2,
};
enum shim_inject_stage {
    SHIM_INJECT_STAGE_NONE = 0,
    SHIM_INJECT_STAGE_CLONE = 1,   /* clone or the report pipe */
    SHIM_INJECT_STAGE_SETNS = 2,   /* joining the mount namespace */
    SHIM_INJECT_STAGE_TARGET = 3,  /* resolving or creating the target */
    SHIM_INJECT_STAGE_MOUNT = 4,   /* move_mount or umount2 */
};
struct shim_inject_request {
    int pidfd;
    int tree_fd;
    const char *target;
    int create;
    int umount_flags;
};
struct shim_inject_result {
    int stage;
    int error;
};
int shim_inject(const struct shim_inject_request *request, struct shim_inject_result *result);

#endif
