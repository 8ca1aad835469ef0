import CShim
import Glibc
import LXCCapabilities
import LXCSystem

/// The attach mode of `swiftlxc-init` (LXC's attach): a freshly exec'd, single-threaded
/// helper that the host has already placed in the container's cgroups. It joins the
/// container's namespaces all at once through the init's pidfd, starts the command as the
/// *caller's* child (`CLONE_PARENT`), hands the caller its pidfd with `ready`, and exits.
/// The command sets its identity, capabilities and directory and execs; a failure on the
/// way comes back as `failed`, and the command's status is then 127 (exec) or 1.
///
/// The helper is run from a sealed memfd copy the monitor made (CVE-2019-5736): nothing in
/// the container can reach the host's binary through `/proc/<pid>/exe`.
public enum AttachStage {
    /// The helper's whole life; returns only to exit with the returned status.
    public static func main() -> Int32 {
        let socket = FileDescriptor(owning: syncSocketDescriptor)
        // Neither the socket nor the init's pidfd may reach the command.
        guard (try? socket.setCloseOnExec(true)) != nil,
            fcntl(attachInitPIDFDDescriptor, F_SETFD, FD_CLOEXEC) == 0
        else { return 1 }
        do throws(StageFailure) {
            let plan: AttachPlan
            do {
                let message = try socket.receive(capacity: syncMessageCapacity, maxDescriptors: 0)
                plan = try AttachPlan(decoding: message.bytes)
            } catch {
                throw StageFailure(
                    step: "receive attach plan", call: "recvmsg", errno: Errno.EIO.rawValue,
                    object: "\(error)")
            }
            try start(plan, socket: socket)
            return 0
        } catch {
            ContainerStage.report(error, on: socket)
            return 1
        }
    }

    /// Joins the namespaces and starts the command; returns in the helper once the caller
    /// has the command's pidfd. The command's side never returns.
    private static func start(_ plan: AttachPlan, socket: borrowing FileDescriptor)
        throws(StageFailure)
    {
        // setns of a mount or user namespace needs a process that shares nothing.
        if ProcessControl.threadCount() != 1 {
            throw StageFailure(
                step: "start", call: "threads", errno: Errno.EINVAL.rawValue,
                object: "the attach helper must be single-threaded")
        }
        let joined = try namespacesToJoin(plan.namespaces)
        if joined.rawValue != 0 {
            // One call joins them all, user namespace first, as one change of the process.
            let names = joined.members.map(\.procName).joined(separator: ",")
            try ContainerStage.step("join the container's namespaces") { () throws(SyscallError) in
                _ = try check(setns(attachInitPIDFDDescriptor, joined.rawValue), "setns", names)
            }
        }

        var all = sigset_t()
        sigfillset(&all)
        var previous = sigset_t()
        sigprocmask(SIG_SETMASK, &all, &previous)
        var pidfd: Int32 = -1
        let child = withUnsafeMutablePointer(to: &pidfd) { pidfdPointer in
            // struct clone_args, CLONE_ARGS_SIZE_VER0: flags, pidfd, child_tid, parent_tid,
            // exit_signal (0: CLONE_PARENT takes this process's), stack, stack_size, tls.
            var arguments = [UInt64](repeating: 0, count: 8)
            arguments[0] = UInt64(CLONE_PARENT) | UInt64(CLONE_PIDFD)
            arguments[1] = UInt64(UInt(bitPattern: pidfdPointer))
            return arguments.withUnsafeBytes {
                shim_syscall6(435, Int(bitPattern: $0.baseAddress), 64, 0, 0, 0, 0)  // clone3
            }
        }
        if child < 0 {
            let error = Errno.current
            sigprocmask(SIG_SETMASK, &previous, nil)
            throw StageFailure(step: "start the command", call: "clone3", errno: error.rawValue)
        }
        if child == 0 {
            sigprocmask(SIG_SETMASK, &previous, nil)
            let failure = runCommand(plan, socket: socket)
            ContainerStage.report(failure, on: socket)
            _exit(failure.isExecFailure ? 127 : 1)
        }
        sigprocmask(SIG_SETMASK, &previous, nil)
        do {
            try socket.send(SyncMessage.ready.encoded(), descriptors: [pidfd])
        } catch {
            // Without its pidfd the caller cannot know the command: end it.
            _ = pidfd_send_signal(pidfd, SIGKILL, nil, 0)
            throw StageFailure(step: "report the command", error)
        }
        close(pidfd)
    }

    /// In the command's process: identity, capabilities, directory, exec. Returns only the
    /// failure that kept the exec from happening.
    private static func runCommand(_ plan: AttachPlan, socket: borrowing FileDescriptor)
        -> StageFailure
    {
        do throws(StageFailure) {
            if let persona = plan.personality {
                try ContainerStage.step("set personality") { () throws(SyscallError) in
                    _ = try check(CShim.personality(persona), "personality", String(persona))
                }
            }
            // As root, before the identity changes: the peer is given to the user below.
            if plan.terminal { try openTerminal(plan, socket: socket) }
            if let bounding = plan.bounding {
                try ContainerStage.step("limit the bounding set") { () throws(SyscallError) in
                    try CapabilityControl.limitBoundingSet(to: bounding)
                }
            }
            // Without no_new_privs loading a filter needs CAP_SYS_ADMIN: before the user.
            if !plan.noNewPrivileges { try installSeccomp(plan, socket: socket) }
            try setIdentity(plan)
            if plan.noNewPrivileges {
                try ContainerStage.step("set no_new_privs") { () throws(SyscallError) in
                    try ProcessControl.prctl(PR_SET_NO_NEW_PRIVS, 1)
                }
                try installSeccomp(plan, socket: socket)
            }
            if chdir(plan.cwd) != 0 {
                if plan.cwdRequired {
                    throw StageFailure(
                        step: "change directory", call: "chdir", errno: Errno.current.rawValue,
                        object: plan.cwd)
                }
                _ = chdir("/")
            }
            guard let command = plan.arguments.first, !command.isEmpty else {
                throw StageFailure(
                    step: "exec", call: "execve", errno: Errno.ENOENT.rawValue,
                    object: "no command given")
            }
            let path = try PreparedExec.find(command, environment: plan.environment)
            let argv = CStringArray(plan.arguments)
            let envp = CStringArray(plan.environment)
            _ = close_range(3, UInt32.max, Int32(CLOSE_RANGE_CLOEXEC))
            execve(path, argv.pointers, envp.pointers)
            throw StageFailure(
                step: "exec", call: "execve", errno: Errno.current.rawValue, object: path)
        } catch {
            return error
        }
    }

    /// runc's exec terminal: a pty of the container's own devpts, from its `/dev/ptmx`
    /// (this process is in the container's mount namespace, so `/` is the container's root,
    /// and the path is resolved inside it), unlocked, its peer opened through the controller
    /// (`TIOCGPTPEER`, no path lookup), given to the command's user, made this process's
    /// stdio and the controlling terminal of a new session. The controller goes to the
    /// caller as `terminal`, with the peer's name inside the container.
    private static func openTerminal(_ plan: AttachPlan, socket: borrowing FileDescriptor)
        throws(StageFailure)
    {
        try ContainerStage.step("allocate the terminal") { () throws(SyscallError) in
            let root = try FileDescriptor.open("/", O_PATH | O_DIRECTORY)
            let controller = try root.openAt2(
                "/dev/ptmx", O_RDWR | O_NOCTTY, resolve: [.inRoot, .noMagicLinks])
            // TIOCSPTLCK and TIOCGPTN (_IOW and _IOR of 'T', 0x31 and 0x30), which Glibc does not export.
            var unlock: Int32 = 0
            _ = try check(
                ioctl(controller.rawValue, 0x4004_5431, &unlock), "ioctl TIOCSPTLCK", "/dev/ptmx")
            var number: UInt32 = 0
            // Only a pty controller answers TIOCGPTN: /dev/ptmx was one.
            _ = try check(
                ioctl(controller.rawValue, 0x8004_5430, &number), "ioctl TIOCGPTN", "/dev/ptmx")
            let path = "/dev/pts/\(number)"
            // TIOCGPTPEER: _IO('T', 0x41).
            let peer = FileDescriptor(
                owning: try check(
                    ioctl(controller.rawValue, 0x5441, O_RDWR | O_NOCTTY | O_CLOEXEC),
                    "ioctl TIOCGPTPEER", path))
            if plan.terminalRows > 0 {
                var size = winsize(
                    ws_row: plan.terminalRows, ws_col: plan.terminalColumns, ws_xpixel: 0,
                    ws_ypixel: 0)
                _ = try check(
                    ioctl(peer.rawValue, UInt(TIOCSWINSZ), &size), "ioctl TIOCSWINSZ", path)
            }
            // As runc does for stdio; an id the user namespace does not map stays root's.
            if fchown(peer.rawValue, plan.uid, plan.gid) != 0 {
                let error = Errno.current
                if error != .EINVAL && error != .EPERM {
                    throw SyscallError(error, call: "fchown", object: path)
                }
            }
            _ = try check(setsid(), "setsid")
            _ = try check(ioctl(peer.rawValue, UInt(TIOCSCTTY), 0), "ioctl TIOCSCTTY", path)
            for target in Int32(0)...2 {
                _ = try check(dup2(peer.rawValue, target), "dup2", path)
            }
            try socket.send(
                SyncMessage.terminal(path).encoded(), descriptors: [controller.rawValue])
        }
    }

    private static func setIdentity(_ plan: AttachPlan) throws(StageFailure) {
        let step = "switch to uid \(plan.uid) gid \(plan.gid)"
        try ContainerStage.step(step) { () throws(SyscallError) in
            if let groups = plan.groups {
                var list = groups.map { gid_t($0) }
                _ = try check(
                    setgroups(list.count, &list), "setgroups",
                    groups.map(String.init).joined(separator: ","))
            } else {
                // A user namespace may deny setgroups; then the groups stay as they are.
                _ = setgroups(0, nil)
            }
            _ = try check(setresgid(plan.gid, plan.gid, plan.gid), "setresgid", String(plan.gid))
            _ = try check(setresuid(plan.uid, plan.uid, plan.uid), "setresuid", String(plan.uid))
        }
    }

    /// Loads the container's filter. A filter with notify rules brings its own listener
    /// (`SECCOMP_FILTER_FLAG_NEW_LISTENER` stays in the flags): it goes to the caller, which
    /// hands it to the monitor, so the command's notifications are served like the init's.
    private static func installSeccomp(_ plan: AttachPlan, socket: borrowing FileDescriptor)
        throws(StageFailure)
    {
        guard !plan.seccompProgram.isEmpty else { return }
        try ContainerStage.step("load the seccomp filter") { () throws(SyscallError) in
            guard
                let listener = try SeccompInstaller.install(
                    program: plan.seccompProgram, flags: plan.seccompFlags)
            else { return }
            try socket.send(SyncMessage.seccompListener.encoded(), descriptors: [listener.rawValue])
        }
    }

    /// The requested namespaces that differ from the helper's own: joining one's own user
    /// namespace is an error, and joining any other one that is shared changes nothing.
    private static func namespacesToJoin(_ requested: NamespaceSet) throws(StageFailure)
        -> NamespaceSet
    {
        // PIDFD_GET_<kind>_NAMESPACE: _IO(0xFF, n).
        let requests: [Namespace: UInt] = [
            .cgroup: 0xFF01, .ipc: 0xFF02, .mount: 0xFF03, .network: 0xFF04, .pid: 0xFF05,
            .time: 0xFF07, .user: 0xFF09, .uts: 0xFF0A,
        ]
        var result = NamespaceSet()
        for namespace in requested.members {
            guard let request = requests[namespace] else { continue }
            let fd = ioctl(attachInitPIDFDDescriptor, request, 0)
            if fd < 0 {
                throw StageFailure(
                    step: "find the container's namespaces", call: "ioctl PIDFD_GET_NAMESPACE",
                    errno: Errno.current.rawValue, object: namespace.procName)
            }
            var theirs = stat()
            var ours = stat()
            let same =
                fstat(fd, &theirs) == 0 && stat("/proc/self/ns/\(namespace.procName)", &ours) == 0
                && theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev
            close(fd)
            if !same { result.insert(NamespaceSet([namespace])) }
        }
        return result
    }
}
