import Glibc
import LXCCgroups
import LXCConfig
import LXCConsole
import LXCInit
import LXCMount
import LXCNetwork
import LXCSystem
import Synchronization

/// A uid or gid range of a user namespace, as the container model holds it.
public typealias IDMapping = ContainerConfig.IDMap

/// Errors of a container start, each naming where it happened.
public enum LaunchError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The container-side binary could not be found.
    case missingInit(String)
    /// Spawning the container-side stage failed.
    case spawn(SyscallError)
    /// A host-side step (uid map, cgroup placement, network) failed.
    case host(step: String, SyscallError)
    /// A step inside the container failed.
    case container(StageFailure)
    /// The network could not be set up; the text names the key and the kernel's reason.
    case network(String)
    /// A host-side hook failed.
    case hook(HookFailure)
    /// The stage ended without saying why.
    case stageDied(TerminationStatus)
    case protocolError(String)
    /// A failure another process reported as text (the monitor, or building the launch in
    /// it); the text says what and why.
    case reported(String)

    /// The exit status a command line reports: 127 when the workload could not be executed.
    public var exitStatus: Int32 {
        if case .container(let failure) = self, failure.isExecFailure { return 127 }
        return 1
    }

    public var description: String {
        switch self {
        case .missingInit(let path): return "swiftlxc executable not found: \(path)"
        case .spawn(let error): return "spawn the container: \(error)"
        case .host(let step, let error): return "\(step): \(error)"
        case .network(let text): return text
        case .hook(let failure): return failure.description
        case .container(let failure): return failure.description
        case .stageDied(let status): return "container set-up \(status)"
        case .protocolError(let text): return "sync protocol: \(text)"
        case .reported(let text): return text
        }
    }
}

/// How to start one container: the plan for the inside, and what the host does around it.
public struct LaunchRequest: Sendable {
    public var plan: ContainerPlan
    /// uid and gid maps written for the new user namespace.
    public var idMappings: [IDMapping] = []
    /// The caller's fds that become the container's 0, 1 and 2.
    public var stdio: [Int32] = [0, 1, 2]
    /// More of the caller's fds, which become the workload's 3, 4, … (nothing else is
    /// passed on). The caller keeps them open until `start` returns.
    public var extraFiles: [Int32] = []
    /// The container-side binary; found next to this executable when nil.
    public var initPath: String?
    /// What the planner adjusted or will not do, for the caller to show.
    public var warnings: [String] = []
    /// The container's cgroup; nil runs it in the caller's.
    public var cgroup: CgroupPlan?
    /// The cgroup the monitor moves into before it starts the container. A `Monitor` and
    /// `Launcher.run` act on it (the caller is the monitor); `Launcher.start` leaves the
    /// calling process where it is.
    public var monitorCgroup: MonitorCgroupPlan?
    /// Network devices to create (`lxc.net.N` other than `empty` and `none`).
    public var networks: [NetworkSpec] = []
    /// `lxc.seccomp.notify.proxy` (`/path` or `@name`) and its cookie, for the monitor.
    public var seccompProxy: String?
    public var seccompCookie: String?
    /// OCI `linux.seccomp.listenerPath` and `listenerMetadata`: the agent that gets the
    /// listener and the container's state once the container runs.
    public var seccompAgent: String?
    public var seccompAgentMetadata: String?
    /// The console a monitor gives the container (`lxc.console.*`); nil for none. A plain
    /// `Launcher.start` leaves stdio as given: only the monitor makes the terminal.
    public var console: ConsoleOptions?
    /// The `lxc.tty.max` ttys a monitor gives the container; nil for none. Like the console,
    /// only a monitor makes them.
    public var ttys: TTYOptions?
    /// OCI `create`: a listening socket of the caller's that the stage waits on after `go`
    /// until `start` connects (`ContainerPlan.startGate`).
    public var startGate: Int32?
    /// Runs on the host once the stage exists, is placed and has its network, before the
    /// plan is sent (OCI's `prestart` and `createRuntime` hooks); gets the stage's pid and
    /// may complete the plan with it (the state the in-container hooks get).
    public var beforePlan: (@Sendable (pid_t, inout ContainerPlan) throws(LaunchError) -> Void)?

    public init(plan: ContainerPlan) {
        self.plan = plan
    }
}

/// A started container: its init's pidfd and the host's end of the sync socket.
public struct LaunchedContainer: ~Copyable {
    public let process: PIDFD
    let socket: FileDescriptor
    let resources: HostResources

    /// The container's cgroup, while it runs.
    public var cgroup: ContainerCgroup? { resources.cgroup }

    /// The seccomp notify listener of the container's filter, or -1; owned by the launch
    /// until `releaseResources` (the monitor serves it).
    public var seccompListener: Int32 { resources.seccompListener }

    /// The mount of the container's devpts instance (its root), or -1 when the container has
    /// none; owned by the launch until `releaseResources` (the monitor hands out copies).
    public var devptsMount: Int32 { resources.devptsMount }

    /// Removes what the host made for the container (network devices, cgroups) once its init
    /// has ended. `wait()` does this itself.
    public func releaseResources() {
        resources.release()
    }

    /// Starts a keeper: a detached process that kills the container and removes what the
    /// host made for it if the calling process dies first (PR_SET_PDEATHSIG cannot do this:
    /// the kernel does not deliver it to the init of a pid namespace). It ends by itself when
    /// the container's init ends or `keeperLine` is written to. Call only from a
    /// single-threaded process: it forks.
    /// `closing` lists the caller's descriptors the keeper must not hold (a listening socket
    /// that has to disappear with the caller). A keeper forked inside the caller's
    /// `monitorCgroup` also removes that cgroup when the caller dies, moving itself out first.
    public func startKeeper(closing: [Int32] = [], monitorCgroup: MonitorCgroup? = nil)
        throws(SyscallError) -> FileDescriptor
    {
        let line = try Pipe()
        let first = fork()
        if first < 0 { throw SyscallError(.current, call: "fork", object: "keeper") }
        if first == 0 {
            // Detach from the caller so that nothing has to reap the keeper.
            if fork() != 0 { _exit(0) }
            _ = setsid()
            _ = Glibc.close(line.writeEnd.rawValue)
            for fd in closing { _ = Glibc.close(fd) }
            var fds = [
                pollfd(fd: line.readEnd.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: process.fd.rawValue, events: Int16(POLLIN), revents: 0),
            ]
            while poll(&fds, 2, -1) < 0 {}
            if fds[1].revents == 0 {
                var byte: UInt8 = 0
                // A byte means "stand down"; end of file means the caller died.
                if Glibc.read(line.readEnd.rawValue, &byte, 1) != 1 {
                    try? process.signal(SIGKILL)
                    var wait = pollfd(fd: process.fd.rawValue, events: Int16(POLLIN), revents: 0)
                    _ = poll(&wait, 1, 5000)
                    resources.release()
                    monitorCgroup?.leaveLogging()
                }
            }
            _exit(0)
        }
        while waitpid(first, nil, 0) < 0 && Errno.current == .EINTR {}
        let writeEnd = try line.writeEnd.duplicate()
        return writeEnd
    }

    /// Waits for the init to end and returns how it ended. An exec failure reported by the
    /// stage after `go` is thrown as `LaunchError.container`.
    public consuming func wait() throws(LaunchError) -> TerminationStatus {
        let status: TerminationStatus
        do {
            status = try process.wait()
        } catch {
            resources.release()
            throw .host(step: "wait for the container", error)
        }
        let exited = MonotonicClock.now()
        resources.release()
        Logger("start").debug(
            "phase released \(MonotonicClock.milliseconds(since: exited)) ms after the exit")
        // After `go` the stage writes only a failure; end of file means the exec happened.
        if let message = try? socket.receive(capacity: 4096, maxDescriptors: 0),
            !message.bytes.isEmpty,
            case .failed(let failure)? = try? SyncMessage(decoding: message.bytes)
        {
            throw .container(failure)
        }
        return status
    }
}

/// Starts containers: spawns the container-side stage, does the host's part while it waits,
/// sends the plan, and lets it run.
public enum Launcher {
    /// Starts `request` and returns once the workload has been told to run.
    ///
    /// On any failure the stage is killed and reaped before the error is thrown; it lived in
    /// its own namespaces, so its mounts go with it.
    public static func start(_ request: LaunchRequest) throws(LaunchError) -> LaunchedContainer {
        let initPath: String
        if let path = request.initPath { initPath = path } else { initPath = try locateInit() }
        let pair: SocketPair
        do {
            pair = try SocketPair()
        } catch {
            throw .host(step: "create the sync socket", error)
        }
        // The cgroup namespace is made by the stage once it has been placed, so its root is
        // the container's own cgroup and not the caller's.
        // clone(2) cannot make a time namespace (its flag overlaps the exit signal bits); the
        // stage makes that one too.
        var cloneNamespaces = request.plan.newNamespaces
        cloneNamespaces.remove(NamespaceSet([.cgroup, .time]))
        var spawn = SpawnRequest(
            path: initPath, arguments: ["swiftlxc-init", request.plan.name],
            environment: [], namespaces: cloneNamespaces)
        spawn.fileMap = request.stdio + [pair.second.rawValue] + request.extraFiles
        var request = request
        request.plan.extraFiles = request.extraFiles.count
        if let gate = request.startGate {
            request.plan.startGate = Int32(spawn.fileMap.count)
            spawn.fileMap.append(gate)
        }

        let started = MonotonicClock.now()
        let log = Logger("start")
        let resources = HostResources()
        resources.hooks = request.plan.hooks
        do {
            try request.plan.hooks.run("pre-start")
        } catch {
            throw .hook(error)
        }
        // The cgroup is made after the spawn: the stage starts its runtime on the other core
        // meanwhile, and it runs nothing of its own before the plan, which comes after the
        // placement.
        let process: PIDFD
        if request.plan.newNamespaces.contains(.user) {
            // A new user namespace needs its maps before the exec, or the stage loses its
            // capabilities there: the child waits before execve while the host writes them.
            let held: HeldSpawn
            do {
                held = try HeldSpawn(spawn, becomeRoot: true)
            } catch {
                resources.release()
                throw .spawn(error)
            }
            do {
                try writeIDMaps(request.idMappings, pid: held.pid)
                try resources.createCgroup(request.cgroup)
                log.debug("phase cgroup-created \(MonotonicClock.milliseconds(since: started)) ms")
                try resources.place(held.pid)
            } catch {
                held.cancel()
                resources.release()
                throw error
            }
            do {
                process = try held.release()
            } catch {
                resources.release()
                throw .spawn(error)
            }
        } else {
            do {
                process = try Spawn.start(spawn)
            } catch {
                resources.release()
                throw .spawn(error)
            }
        }
        let socket = pair.first
        _ = consume pair.second
        log.debug("phase spawned \(MonotonicClock.milliseconds(since: started)) ms")

        do throws(LaunchError) {
            // The stage waits for its plan: it runs nothing of its own before it is placed.
            if !request.plan.newNamespaces.contains(.user) {
                try resources.createCgroup(request.cgroup)
                log.debug("phase cgroup-created \(MonotonicClock.milliseconds(since: started)) ms")
                try resources.place(process.pid)
            }
            log.debug("phase placed \(MonotonicClock.milliseconds(since: started)) ms")
            try resources.createNetwork(
                request.networks, context: NetworkContext(containerName: request.plan.name),
                pid: process.pid)
            log.debug("phase network \(MonotonicClock.milliseconds(since: started)) ms")
            try request.beforePlan?(process.pid, &request.plan)
            // idmap=: only the host holds CAP_SYS_ADMIN over the filesystems, so it makes the
            // idmapped trees, now that the user namespace has its maps, and hands them over.
            let idmapped: DescriptorList
            do {
                idmapped = try DetachedMount.idmappedTrees(
                    for: &request.plan.rootfs, container: "/proc/\(process.pid)/ns/user")
            } catch {
                throw LaunchError.host(step: error.step, error.cause)
            }
            try send(
                .plan(request.plan), on: socket,
                descriptors: (0..<idmapped.count).map { idmapped.rawValue(at: $0) })
            let (reply, descriptors) = try receiveWithDescriptors(on: socket)
            switch reply {
            case .stageReady(let files):
                if let index = files.index(of: .seccompListener), let fd = descriptors.take(index) {
                    resources.seccompListener = fd.release()
                }
                if let index = files.index(of: .devptsMount), let fd = descriptors.take(index) {
                    resources.devptsMount = fd.release()
                }
            case .failed(let failure): throw LaunchError.container(failure)
            case nil: throw LaunchError.stageDied((try? process.wait()) ?? .exited(-1))
            case let other?: throw LaunchError.protocolError("unexpected \(other)")
            }
            log.debug("phase ready \(MonotonicClock.milliseconds(since: started)) ms")
            try send(.go, on: socket)
            resources.started = true
            do {
                try request.plan.hooks.run("start-host", extra: ["LXC_PID=\(process.pid)"])
            } catch {
                throw LaunchError.hook(error)
            }
        } catch {
            try? process.signal(SIGKILL)
            _ = try? process.wait()
            resources.release()
            throw error
        }
        return LaunchedContainer(process: process, socket: socket, resources: resources)
    }

    /// Starts `request`, waits for the workload and returns its status. The calling process
    /// is the container's monitor: it enters `request.monitorCgroup` for the run, and leaves
    /// and removes it afterwards.
    public static func run(_ request: LaunchRequest) throws(LaunchError) -> TerminationStatus {
        guard let plan = request.monitorCgroup else { return try start(request).wait() }
        let monitorCgroup = try plan.enter()
        defer { monitorCgroup.leaveLogging() }
        var request = request
        request.cgroup?.layout = monitorCgroup.layout
        return try start(request).wait()
    }

    /// The container-side binary: `SWIFTLXC_INIT`, or `swiftlxc-init` beside this executable.
    public static func locateInit() throws(LaunchError) -> String {
        try locateExecutable("swiftlxc-init", environment: "SWIFTLXC_INIT")
    }

    /// Where SwiftLXC's executables are when they are not beside this process's executable:
    /// `liblxc.so.1` (LXCABI) loaded into another program sets its own directory.
    public static var executableDirectory: String? {
        get { executableDirectoryBox.value.withLock { $0 } }
        set { executableDirectoryBox.value.withLock { $0 = newValue } }
    }
    private final class DirectoryBox: Sendable {
        let value = Mutex<String?>(nil)
    }
    private static let executableDirectoryBox = DirectoryBox()

    /// A SwiftLXC executable: the path in `environment`, `name` in `executableDirectory`, or
    /// `name` beside this executable.
    public static func locateExecutable(_ name: String, environment: String) throws(LaunchError)
        -> String
    {
        if let path = getenv(environment) { return String(cString: path) }
        if let directory = executableDirectory {
            let candidate = "\(directory)/\(name)"
            guard access(candidate, X_OK) == 0 else { throw .missingInit(candidate) }
            return candidate
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes {
            readlink("/proc/self/exe", $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4095)
        }
        let executable = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        let directory = executable.split(separator: "/").dropLast().joined(separator: "/")
        let candidate = "/\(directory)/\(name)"
        guard access(candidate, X_OK) == 0 else { throw .missingInit(candidate) }
        return candidate
    }

    private static func writeIDMaps(_ mappings: [IDMapping], pid: pid_t) throws(LaunchError) {
        for kind in [IDMapping.Kind.user, .group] {
            let lines = mappings.filter { $0.kind == kind }
                .map { "\($0.containerID) \($0.hostID) \($0.count)\n" }.joined()
            guard !lines.isEmpty else {
                throw .host(
                    step: "write \(kind == .user ? "uid" : "gid") map",
                    SyscallError(.EINVAL, call: "write", object: "no \(kind) mapping given"))
            }
            let file = kind == .user ? "uid_map" : "gid_map"
            let path = "/proc/\(pid)/\(file)"
            do {
                try FileContents.write(lines, to: path)
            } catch {
                throw .host(step: "write \(file)", error)
            }
        }
    }

    private static func send(
        _ message: SyncMessage, on socket: borrowing FileDescriptor, descriptors: [Int32] = []
    ) throws(LaunchError) {
        do {
            try socket.send(message.encoded(), descriptors: descriptors)
        } catch {
            throw .host(step: "send to the container", error)
        }
    }

    private static func receiveWithDescriptors(on socket: borrowing FileDescriptor)
        throws(LaunchError) -> (SyncMessage?, DescriptorList)
    {
        do {
            let message = try socket.receive(capacity: 65536, maxDescriptors: 1)
            if message.bytes.isEmpty { return (nil, message.descriptors) }
            return (try SyncMessage(decoding: message.bytes), message.descriptors)
        } catch let error as SyscallError {
            throw .host(step: "receive from the container", error)
        } catch {
            throw .protocolError("\(error)")
        }
    }

    private static func receive(on socket: borrowing FileDescriptor) throws(LaunchError)
        -> SyncMessage?
    {
        do {
            let message = try socket.receive(capacity: 65536, maxDescriptors: 0)
            if message.bytes.isEmpty { return nil }
            return try SyncMessage(decoding: message.bytes)
        } catch let error as SyscallError {
            throw .host(step: "receive from the container", error)
        } catch {
            throw .protocolError("\(error)")
        }
    }
}

extension LaunchedContainer {
    /// Hands the seccomp listener to an OCI seccomp agent: one message on a stream socket at
    /// `path` with the container process state as JSON and the listener as `SCM_RIGHTS`, as
    /// the runtime spec describes (`fds: ["seccompFd"]`).
    public func sendSeccompListener(
        to path: String, metadata: String?, id: String, bundle: String
    ) throws(LaunchError) {
        guard seccompListener >= 0 else { return }
        let pid = process.pid
        let state =
            "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":\(pid),"
            + "\"metadata\":\(JSONText.quote(metadata ?? "")),\"state\":{\"ociVersion\":\"1.0.2\","
            + "\"id\":\(JSONText.quote(id)),\"status\":\"creating\",\"pid\":\(pid),"
            + "\"bundle\":\(JSONText.quote(bundle)),\"annotations\":{}}}"
        do throws(SyscallError) {
            let fd = try check(
                Glibc.socket(
                    AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
                "socket", path)
            let connection = FileDescriptor(owning: fd)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8.prefix(107))
            withUnsafeMutableBytes(of: &address.sun_path) { target in
                for (index, byte) in bytes.enumerated() { target[index] = byte }
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(connection.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            _ = try check(connected, "connect", path)
            try connection.send(Array(state.utf8), descriptors: [seccompListener])
        } catch {
            throw .host(step: "send the seccomp listener to the agent", error)
        }
    }
}
