import CShim
import Glibc
import LXCCapabilities
import LXCMount
import LXCSystem

/// The container-side stage: a freshly exec'd, single-threaded process, PID 1 in the new
/// namespaces. It receives its plan over the sync socket, performs it step by step, reports
/// `ready`, waits for `go` and runs the workload. It never writes to the container's stdio:
/// every failure travels back over the socket.
public enum ContainerStage {
    /// The stage's whole life; returns only to exit with the returned status.
    public static func main() -> Int32 {
        let socket = FileDescriptor(owning: syncSocketDescriptor)
        // The socket must not reach the workload.
        guard (try? socket.setCloseOnExec(true)) != nil else { return 1 }

        let plan: ContainerPlan
        let idmapped: DescriptorList
        do {
            (plan, idmapped) = try receivePlan(socket)
        } catch {
            report(
                StageFailure(
                    step: "receive plan", call: "recvmsg", errno: Errno.EIO.rawValue,
                    object: "\(error)"), on: socket)
            return 1
        }

        let prepared: PreparedExec
        do {
            prepared = try setUp(plan, idmapped: idmapped)
        } catch {
            report(error, on: socket)
            return error.isExecFailure ? 127 : 1
        }

        do {
            // The notify listener and the devpts mount travel with `ready`; the host serves
            // them from then on.
            var files: StageFiles = []
            var descriptors: [Int32] = []
            for (file, fd) in [
                (StageFiles.seccompListener, prepared.seccompListener),
                (.devptsMount, prepared.devptsMount),
            ] where fd >= 0 {
                files.insert(file)
                descriptors.append(fd)
            }
            try socket.send(SyncMessage.stageReady(files).encoded(), descriptors: descriptors)
            for fd in descriptors { close(fd) }
            let reply = try socket.receive(capacity: 64)
            guard !reply.bytes.isEmpty, try SyncMessage(decoding: reply.bytes) == .go else {
                return 1  // the host went away or changed its mind
            }
        } catch {
            return 1
        }
        if plan.startGate >= 0 && !waitAtStartGate(plan.startGate) { return 1 }
        // OCI's startContainer: during start, in the container, before the workload runs;
        // a failure goes to start over the gate's connection and ends the container.
        do throws(HookError) {
            try OCIHookCommand.runAll(
                plan.ociHooks.startContainer, stage: "startContainer",
                state: plan.ociHooks.startState)
        } catch {
            report(
                StageFailure(
                    step: error.step,
                    error.cause ?? SyscallError(.EINVAL, call: "hook", object: error.text)),
                on: socket)
            return 1
        }

        switch plan.initMode {
        case .exec:
            _ = prepared.execute()
            return 127
        case .minimalInit:
            return MinimalInit.run(prepared, socket: socket)
        }
    }

    /// OCI `create`: the host has gone, and the stage waits for `start` to connect to the
    /// gate. The connection takes the sync socket's place, so `start` reads end of file once
    /// the workload runs, or the exec failure.
    private static func waitAtStartGate(_ gate: Int32) -> Bool {
        var connection: Int32 = -1
        repeat {
            connection = accept4(gate, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        } while connection < 0 && errno == EINTR
        _ = close(gate)
        guard connection >= 0 else { return false }
        let moved = dup3(connection, syncSocketDescriptor, O_CLOEXEC)
        _ = close(connection)
        return moved == syncSocketDescriptor
    }

    /// The plan, with the idmapped trees the host made for it (`idmap=`) as `SCM_RIGHTS`.
    private static func receivePlan(_ socket: borrowing FileDescriptor) throws
        -> (ContainerPlan, DescriptorList)
    {
        let message = try socket.receive(capacity: syncMessageCapacity, maxDescriptors: 253)
        guard case .plan(let plan) = try SyncMessage(decoding: message.bytes) else {
            throw WireError("expected a plan")
        }
        return (plan, message.descriptors)
    }

    static func report(_ failure: StageFailure, on socket: borrowing FileDescriptor) {
        _ = try? socket.send(SyncMessage.failed(failure).encoded())
    }

    // MARK: - The steps, in order

    /// Performs every step of `plan` up to the exec, and prepares the exec itself.
    static func setUp(_ plan: ContainerPlan, idmapped: DescriptorList = DescriptorList())
        throws(StageFailure) -> PreparedExec
    {
        // Everything below changes this process; a second thread would see half of it.
        if ProcessControl.threadCount() != 1 {
            throw StageFailure(
                step: "start", call: "threads", errno: Errno.EINVAL.rawValue,
                object: "the container-side stage must be single-threaded")
        }
        guard plan.newNamespaces.contains(.mount) else {
            throw StageFailure(
                step: "start", call: "unshare", errno: Errno.EINVAL.rawValue,
                object: "a container needs its own mount namespace")
        }

        // The host placed this process in the container's cgroups before sending the plan,
        // so a cgroup namespace made now is rooted at them.
        if plan.newNamespaces.contains(.cgroup) {
            try step("create the cgroup namespace") { () throws(SyscallError) in
                try Namespaces.unshare(NamespaceSet([.cgroup]))
            }
        }

        // A time namespace applies to the children of the process that makes it, and to
        // this process after its exec; its offsets can only be written before anyone enters.
        if plan.newNamespaces.contains(.time) {
            try step("create the time namespace") { () throws(SyscallError) in
                try Namespaces.unshare(NamespaceSet([.time]))
                let offsets =
                    "boottime \(plan.bootOffset.0) \(plan.bootOffset.1)\n"
                    + "monotonic \(plan.monotonicOffset.0) \(plan.monotonicOffset.1)\n"
                try FileContents.write(offsets, to: "/proc/self/timens_offsets")
            }
        }

        // Joining comes first: a joined user namespace decides what every later step may do.
        for join in sortedJoins(plan.joinNamespaces) {
            try step("join \(join.namespace.procName) namespace") { () throws(SyscallError) in
                let fd = try FileDescriptor.open(join.path, O_RDONLY)
                try Namespaces.join(fd, type: join.namespace.cloneFlag, name: join.path)
            }
        }
        // setns into a pid namespace moves only children: the rest of the set-up (proc
        // mounts above all) and the workload belong in a child, and this process relays.
        if plan.joinNamespaces.contains(where: { $0.namespace == .pid }) {
            try forkIntoJoinedPIDNamespace()
        }

        // A new user namespace: the spawn already made us uid and gid 0 in it before the exec
        // (after the host wrote the maps), so the stage holds the namespace's capabilities.

        if let hostname = plan.hostname {
            try step("set hostname") { () throws(SyscallError) in
                _ = try check(sethostname(hostname, hostname.utf8.count), "sethostname", hostname)
            }
        }
        if let domainname = plan.domainname {
            try step("set domainname") { () throws(SyscallError) in
                _ = try check(
                    setdomainname(domainname, domainname.utf8.count), "setdomainname", domainname)
            }
        }

        // Written through the host's /proc while it is still reachable: these files act on
        // the namespaces of the writer, which are the container's by now.
        if let score = plan.oomScoreAdj {
            try step("set oom_score_adj") { () throws(SyscallError) in
                try FileContents.write(String(score), to: "/proc/self/oom_score_adj")
            }
        }
        for (key, value) in plan.sysctls {
            try writeSysctl(key, value, plan: plan)
        }
        for limit in plan.rlimits {
            try step("set rlimit \(limit.name)") { () throws(SyscallError) in
                var value = rlimit(rlim_cur: rlim_t(limit.soft), rlim_max: rlim_t(limit.hard))
                let resource = __rlimit_resource_t(UInt32(limit.resource))
                _ = try check(setrlimit(resource, &value), "setrlimit", limit.name)
            }
        }
        if let persona = plan.personality {
            try step("set personality") { () throws(SyscallError) in
                _ = try check(CShim.personality(persona), "personality", String(persona))
            }
        }

        // pre-mount runs in the container's namespaces before its root is set up; mount and
        // autodev once the mounts are in place, still with the host's files reachable.
        try runHooks("pre-mount", plan)
        var rootfs = RootfsSetup(plan.rootfs, idmapped: idmapped)
        rootfs.beforePivot = { () throws(HookError) in
            do throws(HookFailure) {
                try plan.hooks.run("mount")
                if plan.rootfs.devTmpfs { try plan.hooks.run("autodev") }
            } catch {
                throw HookError(error.description)
            }
            // OCI's createContainer: in the container's namespaces, its mount namespace
            // included, once the mounts are made and before pivot_root, so that its path
            // still resolves in the runtime's namespace as config.md requires.
            try OCIHookCommand.runAll(
                plan.ociHooks.createContainer, stage: "createContainer",
                state: plan.ociHooks.createState)
        }
        do throws(RootfsError) {
            try rootfs.run()
        } catch {
            throw StageFailure(step: error.step, error.cause)
        }
        let devptsMount = rootfs.takeDevptsMount()?.release() ?? -1
        if plan.rootfs.console != nil {
            // The console on stdin becomes the controlling terminal of a new session, which
            // the init inherits: a shell on it gets job control and ^C.
            try step("make the console the controlling terminal") { () throws(SyscallError) in
                _ = try check(setsid(), "setsid")
                _ = try check(ioctl(0, UInt(TIOCSCTTY), 0), "ioctl TIOCSCTTY", "/dev/console")
            }
        }

        // Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter, so it goes in
        // before the capabilities are dropped; with it, as late as possible, so the filter
        // does not judge the stage's own calls.
        var listener: Int32 = -1
        if !plan.noNewPrivileges { listener = try installSeccomp(plan) }

        try setIdentity(plan)

        if plan.noNewPrivileges {
            try step("set no_new_privs") { () throws(SyscallError) in
                try ProcessControl.prctl(PR_SET_NO_NEW_PRIVS, 1)
            }
            listener = try installSeccomp(plan)
        }

        // start runs inside the container, last, before the workload.
        try runHooks("start", plan)

        var prepared = try PreparedExec(plan: plan)
        prepared.seccompListener = listener
        prepared.devptsMount = devptsMount
        return prepared
    }

    /// Forks; the child returns and carries on in the joined pid namespace, dying with its
    /// parent. The parent never returns: it forwards signals to the child and exits with its
    /// status, so the host's pidfd still stands for the whole container.
    private static func forkIntoJoinedPIDNamespace() throws(StageFailure) {
        var all = sigset_t()
        sigfillset(&all)
        var previous = sigset_t()
        sigprocmask(SIG_SETMASK, &all, &previous)
        let child = fork()
        if child < 0 {
            throw StageFailure(
                step: "enter the joined pid namespace", call: "fork",
                errno: Errno.current.rawValue)
        }
        if child == 0 {
            sigprocmask(SIG_SETMASK, &previous, nil)
            // The relay is a plain process, so PDEATHSIG reaches this one if it is killed.
            do {
                try ProcessControl.prctl(PR_SET_PDEATHSIG, UInt(SIGKILL))
            } catch {
                throw StageFailure(step: "enter the joined pid namespace", error)
            }
            return
        }
        for signal in MinimalInit.forwarded + [SIGCHLD] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in }
            sigaction(signal, &action, nil)
        }
        while true {
            var info = siginfo_t()
            let signal = sigwaitinfo(&all, &info)
            if signal < 0 { continue }
            if signal != SIGCHLD {
                _ = kill(child, signal)
                continue
            }
            var raw: Int32 = 0
            if waitpid(child, &raw, WNOHANG) == child {
                _exit(TerminationStatus(waitStatus: raw).shellStatus)
            }
        }
    }

    private static func runHooks(_ stage: String, _ plan: ContainerPlan) throws(StageFailure) {
        do {
            try plan.hooks.run(stage)
        } catch {
            throw StageFailure(
                step: "lxc.hook.\(stage)", call: error.command, errno: Errno.EINVAL.rawValue,
                object: error.reason)
        }
    }

    /// Loads the plan's seccomp program; returns the notify listener, or -1. A process that is
    /// already filtered loads nothing unless nesting is allowed, as LXC does.
    private static func installSeccomp(_ plan: ContainerPlan) throws(StageFailure) -> Int32 {
        guard !plan.seccompProgram.isEmpty else { return -1 }
        if !plan.seccompAllowNesting && SeccompInstaller.isFiltered() { return -1 }
        var listener: Int32 = -1
        try step("load the seccomp filter") { () throws(SyscallError) in
            let fd = try SeccompInstaller.install(
                program: plan.seccompProgram, flags: plan.seccompFlags)
            listener = fd?.release() ?? -1
        }
        return listener
    }

    /// The user, groups and capabilities, in the order the kernel allows.
    private static func setIdentity(_ plan: ContainerPlan) throws(StageFailure) {
        let changesUser = plan.uid != 0 || plan.gid != 0 || !plan.additionalGids.isEmpty
        if let sets = plan.capabilities {
            // Dropping from the bounding set needs CAP_SETPCAP: do it while still root.
            try step("limit the bounding set") { () throws(SyscallError) in
                try CapabilityControl.limitBoundingSet(to: sets.bounding)
            }
        }
        if changesUser {
            try step("switch to uid \(plan.uid) gid \(plan.gid)") { () throws(SyscallError) in
                if plan.capabilities != nil { try CapabilityControl.keepAcrossUserChange(true) }
                var groups = plan.additionalGids.map { gid_t($0) }
                _ = try check(
                    setgroups(groups.count, &groups), "setgroups",
                    plan.additionalGids.map(String.init).joined(separator: ","))
                _ = try check(
                    setresgid(plan.gid, plan.gid, plan.gid), "setresgid", String(plan.gid))
                _ = try check(
                    setresuid(plan.uid, plan.uid, plan.uid), "setresuid", String(plan.uid))
                if plan.capabilities != nil { try CapabilityControl.keepAcrossUserChange(false) }
            }
        } else if plan.newNamespaces.contains(.user) || plan.joinNamespaces.isEmpty {
            try step("clear supplementary groups") { () throws(SyscallError) in
                _ = try check(setgroups(0, nil), "setgroups", "none")
            }
        }
        if let sets = plan.capabilities {
            try step("set capabilities") { () throws(SyscallError) in
                try CapabilityControl.apply(sets)
            }
        }
        if let mask = plan.umask {
            _ = Glibc.umask(mode_t(mask))
        }
        try step("change directory") { () throws(SyscallError) in
            _ = try check(chdir(plan.cwd), "chdir", plan.cwd)
        }
    }

    /// Sysctls the kernel keeps per namespace, by prefix, and the namespace each needs.
    private static let namespacedSysctls: [(String, Namespace)] = [
        ("net.", .network), ("kernel.msgmax", .ipc), ("kernel.msgmnb", .ipc),
        ("kernel.msgmni", .ipc), ("kernel.sem", .ipc), ("kernel.shmall", .ipc),
        ("kernel.shmmax", .ipc), ("kernel.shmmni", .ipc), ("kernel.shm_rmid_forced", .ipc),
        ("fs.mqueue.", .ipc), ("kernel.hostname", .uts), ("kernel.domainname", .uts),
    ]

    private static func writeSysctl(_ key: String, _ value: String, plan: ContainerPlan)
        throws(StageFailure)
    {
        // A sysctl outside the container's own namespaces would change the host.
        guard let (_, namespace) = namespacedSysctls.first(where: { key.hasPrefix($0.0) }),
            plan.newNamespaces.contains(namespace)
        else {
            throw StageFailure(
                step: "set sysctl \(key)", call: "sysctl",
                errno: Errno.EPERM.rawValue,
                object: "\(key) is not in a namespace of this container")
        }
        let path = "/proc/sys/" + key.replacingDots()
        try step("set sysctl \(key) = \(value)") { () throws(SyscallError) in
            try FileContents.write(value, to: path)
        }
    }

    /// User namespace first: it decides the permissions for joining the others.
    private static func sortedJoins(_ joins: [ContainerPlan.NamespaceJoin])
        -> [ContainerPlan.NamespaceJoin]
    {
        joins.filter { $0.namespace == .user } + joins.filter { $0.namespace != .user }
    }

    static func step(_ name: String, _ body: () throws(SyscallError) -> Void) throws(StageFailure) {
        do {
            try body()
        } catch {
            throw StageFailure(step: name, error)
        }
    }
}

extension String {
    fileprivate func replacingDots() -> String {
        String(map { $0 == "." ? "/" : $0 })
    }
}

/// The workload's exec, prepared in full before it happens: the program found on the
/// container's PATH, and argv and envp built, so the exec (or a fork before it) allocates
/// nothing.
struct PreparedExec {
    let path: String
    let argv: CStringArray
    let envp: CStringArray
    /// The seccomp notify listener to hand to the host with `ready`, or -1.
    var seccompListener: Int32 = -1
    /// The container's devpts mount to hand to the host with `ready`, or -1.
    var devptsMount: Int32 = -1
    /// Files the caller passes beyond stdio, at 4… in the stage and 3… in the workload.
    let extraFiles: Int32

    init(plan: ContainerPlan) throws(StageFailure) {
        guard let command = plan.arguments.first, !command.isEmpty else {
            throw StageFailure(
                step: "exec", call: "execve", errno: Errno.ENOENT.rawValue,
                object: "no command given")
        }
        path = try PreparedExec.find(command, environment: plan.environment)
        argv = CStringArray(plan.arguments)
        envp = CStringArray(plan.environment)
        extraFiles = Int32(plan.extraFiles)
    }

    /// Runs the workload in place of this process. Returns only on failure, having sent the
    /// failure over the sync socket (wherever the extra files moved it).
    func execute() -> StageFailure {
        // The caller's extra files arrive at 4…; the workload gets them at 3…, so the sync
        // socket moves above them first (close-on-exec, for the failure report below).
        var sync = syncSocketDescriptor
        if extraFiles > 0 {
            sync = fcntl(syncSocketDescriptor, F_DUPFD_CLOEXEC, 4 + extraFiles)
            for index in 0..<extraFiles {
                _ = dup2(4 + index, 3 + index)
            }
            _ = close(3 + extraFiles)
        }
        // Only 0, 1, 2 and the extra files reach the workload.
        _ = close_range(UInt32(3 + extraFiles), UInt32.max, Int32(CLOSE_RANGE_CLOEXEC))
        execve(path, argv.pointers, envp.pointers)
        let failure = StageFailure(
            step: "exec", call: "execve", errno: Errno.current.rawValue,
            object: path)
        let socket = FileDescriptor(owning: sync)
        ContainerStage.report(failure, on: socket)
        _ = socket.release()
        return failure
    }

    /// `execvp`'s search, on the container's PATH, done before the exec so a missing command
    /// is reported with its name.
    static func find(_ command: String, environment: [String]) throws(StageFailure) -> String {
        if command.contains("/") {
            try checkExecutable(command)
            return command
        }
        let pathVariable =
            environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        var firstError = Errno.ENOENT
        for directory in pathVariable.split(separator: ":") {
            let candidate = "\(directory)/\(command)"
            if access(candidate, X_OK) == 0 {
                var info = stat()
                if stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG {
                    return candidate
                }
            } else if Errno.current == .EACCES {
                firstError = .EACCES
            }
        }
        throw StageFailure(
            step: "exec", call: "execve", errno: firstError.rawValue,
            object: command)
    }

    private static func checkExecutable(_ path: String) throws(StageFailure) {
        if access(path, X_OK) != 0 {
            throw StageFailure(
                step: "exec", call: "execve", errno: Errno.current.rawValue,
                object: path)
        }
    }
}
