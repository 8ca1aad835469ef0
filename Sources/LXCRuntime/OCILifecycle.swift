import Glibc
import LXCCgroups
import LXCConfig
import LXCConsole
import LXCInit
import LXCSystem

/// What `create` takes besides the bundle: runc's options.
public struct OCICreateOptions: Sendable {
    public var id: String
    /// The bundle directory, absolute.
    public var bundle: String
    /// The runtime's root (`--root`), where `<id>/state.json` lives.
    public var root: String
    /// `--pid-file`: the init's pid is written there.
    public var pidFile: String?
    /// `--console-socket`: with `process.terminal`, the pty's controller goes there.
    public var consoleSocket: String?
    /// `--preserve-fds N`: the caller's fds 3…3+N-1 reach the workload as the same numbers.
    public var preserveFDs = 0
    /// The caller's fds that become the container's 0, 1 and 2 (without a terminal).
    public var stdio: [Int32] = [0, 1, 2]

    public init(id: String, bundle: String, root: String) {
        self.id = id
        self.bundle = bundle
        self.root = root
    }
}

/// runc's lifecycle: `create` leaves the init waiting in its new namespaces and no process
/// of the runtime behind; `start`, `state`, `kill`, `pause`, `resume`, `ps` and `delete`
/// are separate short-lived processes that find it through `<root>/<id>/state.json`.
///
/// The init is a child of the process that ran `create`; once that process exits it is
/// reparented to the nearest child subreaper (conmon, containerd's shim) which reaps it.
public enum OCILifecycle {
    /// runc's default root is `/run/runc`; SwiftLXC's own.
    public static let defaultRoot = "/run/swiftlxc"

    /// Creates the container from `request` (planned from the bundle's config.json by the
    /// caller) and returns the init's pid. Nothing is left behind when it fails.
    public static func create(
        _ options: OCICreateOptions, model: ContainerConfig, request planned: LaunchRequest
    ) throws(OCIRuntimeError) -> pid_t {
        if model.process.terminal && options.consoleSocket == nil {
            throw OCIRuntimeError(
                "process.terminal is true: --console-socket is required to receive the terminal")
        }
        if !model.process.terminal && options.consoleSocket != nil {
            throw OCIRuntimeError("--console-socket was given but process.terminal is false")
        }
        let state = try OCIStateDirectory.make(root: options.root, id: options.id)
        do throws(OCIRuntimeError) {
            return try create(options, model: model, request: planned, in: state)
        } catch {
            state.remove()
            throw error
        }
    }

    private static func create(
        _ options: OCICreateOptions, model: ContainerConfig, request planned: LaunchRequest,
        in state: borrowing OCIStateDirectory
    ) throws(OCIRuntimeError) -> pid_t {
        var request = planned
        request.stdio = options.stdio
        request.extraFiles = (0..<options.preserveFDs).map { Int32(3 + $0) }
        var record = OCIContainerRecord(
            id: options.id, pid: 0, startTime: 0, bundle: options.bundle, rootfs: model.rootfs.path,
            created: rfc3339Now(), annotations: model.annotations,
            hooks: model.hooks.oci.filter { ["poststart", "poststop"].contains($0.key) })
        let gate = try listen(
            at: state.shortPath + "/" + OCIStateDirectory.gateFile, id: options.id)
        request.startGate = gate.rawValue

        // The terminal's controller (0) and peer (1), while create runs.
        let terminal = DescriptorList()
        var terminalPath = ""
        if model.process.terminal {
            do {
                let owner = model.idmaps.first { $0.kind == .user && $0.containerID == 0 }
                    .flatMap { user in
                        model.idmaps.first { $0.kind == .group && $0.containerID == 0 }
                            .map { (uid: user.hostID, gid: $0.hostID) }
                    }
                let pty = try PseudoTerminal.open(owner: owner)
                if let size = model.process.consoleSize {
                    try pty.setSize(
                        rows: UInt16(clamping: size.height), columns: UInt16(clamping: size.width))
                }
                terminal.append(try pty.controller.duplicate())
                terminal.append(try pty.peer.duplicate())
                terminalPath = pty.peerPath
            } catch {
                throw OCIRuntimeError("allocate the terminal: \(error)")
            }
            let peer = terminal.rawValue(at: 1)
            request.stdio = [peer, peer, peer]
            request.plan.rootfs.console = terminalPath
        }

        let before = record
        let hooks = model.hooks.oci
        request.beforePlan = { pid, plan throws(LaunchError) in
            var creating = before
            creating.pid = pid
            let json = creating.stateJSON(status: .creating)
            // The hooks the stage runs inside the container: createContainer during create,
            // startContainer during start (runc gives it the status `created`).
            plan.ociHooks.createState = json
            plan.ociHooks.startState = creating.stateJSON(status: .created)
            for stage in ["prestart", "createRuntime"] {
                do throws(OCIRuntimeError) {
                    try OCIHooks.run(hooks[stage] ?? [], stage: stage, state: json)
                } catch {
                    throw .reported(error.message)
                }
            }
        }
        let container: LaunchedContainer
        do {
            container = try Launcher.start(request)
        } catch {
            throw OCIRuntimeError(error.description)
        }
        let pid = container.process.pid
        do throws(OCIRuntimeError) {
            guard let stat = ProcessStat(pid: pid) else {
                throw OCIRuntimeError("read /proc/\(pid)/stat: the init ended during create")
            }
            record.pid = pid
            record.startTime = stat.startTime
            record.cgroup = container.cgroup?.record
            try state.save(record)
            if let agent = request.seccompAgent {
                do {
                    try container.sendSeccompListener(
                        to: agent, metadata: request.seccompAgentMetadata, id: options.id,
                        bundle: options.bundle)
                } catch {
                    throw OCIRuntimeError(error.description)
                }
            }
            if terminal.count > 0, let socket = options.consoleSocket {
                try sendTerminal(terminal.rawValue(at: 0), path: terminalPath, to: socket)
            }
            if let pidFile = options.pidFile { try writeAtomically("\(pid)", to: pidFile) }
        } catch {
            try? container.process.signal(SIGKILL)
            _ = try? container.process.wait()
            container.releaseResources()
            throw error
        }
        // The launch ends here without waiting: the init stays, the cgroups stay for
        // `delete`, and the sync socket closes (the init waits on the gate now).
        _ = consume container
        return pid
    }

    /// Lets the waiting init run its workload; returns once it has executed it. Runs the
    /// `poststart` hooks; a failing one kills the container and is reported.
    public static func start(root: String, id: String) throws(OCIRuntimeError) {
        let state = try OCIStateDirectory.open(root: root, id: id)
        let record = try state.load()
        let status = state.status(of: record)
        guard status == .created else {
            throw OCIRuntimeError(
                "cannot start container \(id): it is \(status.rawValue), not created")
        }
        let connection = try connect(to: state.shortPath + "/" + OCIStateDirectory.gateFile, id: id)
        state.removeGate()
        // End of file: the init closed its end at exec. Anything else is its exec failure.
        let reply: [UInt8]
        do {
            reply = try connection.receive(capacity: 4096, maxDescriptors: 0).bytes
        } catch {
            throw OCIRuntimeError("start container \(id): \(error)")
        }
        if !reply.isEmpty {
            if case .failed(let failure)? = try? SyncMessage(decoding: reply) {
                throw OCIRuntimeError("start container \(id): \(failure)")
            }
            throw OCIRuntimeError("start container \(id): unexpected reply from the init")
        }
        do {
            try OCIHooks.run(
                record.hooks["poststart"] ?? [], stage: "poststart",
                state: record.stateJSON(status: .running))
        } catch {
            if let process = record.liveInit() { try? process.signal(SIGKILL) }
            throw error
        }
    }

    /// The state JSON of the container, as `runc state` prints it.
    public static func state(root: String, id: String) throws(OCIRuntimeError) -> String {
        let state = try OCIStateDirectory.open(root: root, id: id, shared: true)
        let record = try state.load()
        return record.stateJSON(status: state.status(of: record), pretty: true)
    }

    /// Every container in `root` with its status; directories without a state are skipped.
    public static func list(root: String) -> [(OCIContainerRecord, OCIStatus)] {
        var result: [(OCIContainerRecord, OCIStatus)] = []
        for id in OCIStateDirectory.ids(in: root) {
            guard let state = try? OCIStateDirectory.open(root: root, id: id, shared: true),
                let record = try? state.load()
            else { continue }
            result.append((record, state.status(of: record)))
        }
        return result
    }

    /// Sends `signal` to the init, or with `all` to every process of the container's cgroup.
    public static func kill(root: String, id: String, signal: Int32, all: Bool = false)
        throws(OCIRuntimeError)
    {
        let state = try OCIStateDirectory.open(root: root, id: id)
        let record = try state.load()
        guard let process = record.liveInit() else {
            throw OCIRuntimeError("container \(id) is not running")
        }
        if all, let cgroup = try cgroup(of: record) {
            if signal == SIGKILL, (try? cgroup.kill(timeoutMilliseconds: 0)) != nil { return }
            for pid in cgroup.processes() { _ = Glibc.kill(pid, signal) }
            if signal == SIGKILL || signal == SIGTERM {
                // A frozen process cannot act on the signal until thawed, as runc does.
                if (try? cgroup.isFrozen()) == true { try? cgroup.thaw() }
            }
            return
        }
        do {
            try process.signal(signal)
        } catch {
            throw OCIRuntimeError("kill container \(id): \(error)")
        }
    }

    /// Freezes (`pause`) or thaws (`resume`) every process of the container.
    public static func setPaused(_ paused: Bool, root: String, id: String) throws(OCIRuntimeError) {
        let state = try OCIStateDirectory.open(root: root, id: id)
        let record = try state.load()
        let status = state.status(of: record)
        let wanted: OCIStatus = paused ? .running : .paused
        guard status == wanted else {
            throw OCIRuntimeError("container \(id) is \(status.rawValue), not \(wanted.rawValue)")
        }
        guard let cgroup = try cgroup(of: record) else {
            throw OCIRuntimeError("container \(id) has no cgroup to freeze")
        }
        do {
            if paused { try cgroup.freeze() } else { try cgroup.thaw() }
        } catch {
            throw OCIRuntimeError("\(paused ? "pause" : "resume") container \(id): \(error)")
        }
    }

    /// The pids of the container's cgroups, in the runtime's pid namespace.
    public static func processes(root: String, id: String) throws(OCIRuntimeError) -> [pid_t] {
        let state = try OCIStateDirectory.open(root: root, id: id, shared: true)
        let record = try state.load()
        guard let cgroup = try cgroup(of: record) else {
            if let process = record.liveInit() { return [process.pid] }
            return []
        }
        return cgroup.processes()
    }

    /// Removes a stopped (or, with `force`, any) container: kills what is left, removes its
    /// cgroups and its state, and runs the `poststop` hooks (each failure is passed to
    /// `warn`, and the later hooks still run). A created container that never started is
    /// deleted without `force`, as runc does. With `force`, a container that does not exist is no error.
    public static func delete(
        root: String, id: String, force: Bool, warn: (String) -> Void = { _ in }
    ) throws(OCIRuntimeError) {
        let state: OCIStateDirectory
        do {
            state = try OCIStateDirectory.open(root: root, id: id)
        } catch {
            if force, (try? OCIStateDirectory.validate(id: id)) != nil { return }
            throw error
        }
        let record: OCIContainerRecord
        do {
            record = try state.load()
        } catch {
            // A create that died before saving leaves only the directory.
            state.remove()
            if force { return }
            throw error
        }
        let status = state.status(of: record)
        if status == .running || status == .paused, !force {
            throw OCIRuntimeError(
                "cannot delete container \(id) that is not stopped: \(status.rawValue) (use --force)"
            )
        }
        if let process = record.liveInit() {
            try? process.signal(SIGKILL)
            _ = try? process.waitForExit(milliseconds: 5000)
        }
        if let cgroup = try cgroup(of: record) {
            do {
                try cgroup.kill()
                try cgroup.remove()
            } catch {
                throw OCIRuntimeError("delete container \(id): remove its cgroup: \(error)")
            }
        }
        state.remove()
        OCIHooks.runAll(
            record.hooks["poststop"] ?? [], stage: "poststop",
            state: record.stateJSON(status: .stopped), warn: warn)
    }

    // MARK: - Pieces

    private static func cgroup(of record: OCIContainerRecord) throws(OCIRuntimeError)
        -> ContainerCgroup?
    {
        guard let saved = record.cgroup else { return nil }
        do {
            return ContainerCgroup.reopen(saved, in: try CgroupLayout.detect())
        } catch {
            throw OCIRuntimeError("read the cgroup layout: \(error)")
        }
    }

    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(107))
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in bytes.enumerated() { target[index] = byte }
        }
        return address
    }

    private static func unixSocket(_ type: Int32) throws(SyscallError) -> FileDescriptor {
        FileDescriptor(
            owning: try check(socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0), "socket"))
    }

    /// The gate the init waits on: a listening `SOCK_SEQPACKET` socket at `path`.
    private static func listen(at path: String, id: String) throws(OCIRuntimeError)
        -> FileDescriptor
    {
        do throws(SyscallError) {
            let gate = try unixSocket(Int32(SOCK_SEQPACKET.rawValue))
            var address = address(path)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(gate.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            _ = try check(bound, "bind", OCIStateDirectory.gateFile)
            _ = try check(Glibc.listen(gate.rawValue, 1), "listen", OCIStateDirectory.gateFile)
            return gate
        } catch {
            throw OCIRuntimeError("create container \(id): \(error)")
        }
    }

    private static func connect(to path: String, id: String) throws(OCIRuntimeError)
        -> FileDescriptor
    {
        do throws(SyscallError) {
            let connection = try unixSocket(Int32(SOCK_SEQPACKET.rawValue))
            var address = address(path)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(
                        connection.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            _ = try check(connected, "connect", OCIStateDirectory.gateFile)
            return connection
        } catch {
            throw OCIRuntimeError("start container \(id): \(error)")
        }
    }

    /// Sends the terminal's controller to `--console-socket` with `SCM_RIGHTS`, with the
    /// terminal's name as the message, as runc does (conmon and containerd read it so).
    static func sendTerminal(
        _ controller: Int32, path: String, to socketPath: String
    ) throws(OCIRuntimeError) {
        do throws(SyscallError) {
            let connection = try unixSocket(Int32(SOCK_STREAM.rawValue))
            var address = address(socketPath)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(
                        connection.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            _ = try check(connected, "connect", socketPath)
            try connection.send(Array(path.utf8), descriptors: [controller])
        } catch {
            throw OCIRuntimeError("send the terminal to --console-socket \(socketPath): \(error)")
        }
    }

    static func writeAtomically(_ text: String, to path: String) throws(OCIRuntimeError) {
        let temporary = path + ".tmp"
        do throws(SyscallError) {
            try FileContents.write(
                text, to: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)
            _ = try check(rename(temporary, path), "rename", path)
        } catch {
            unlink(temporary)
            throw OCIRuntimeError("write --pid-file \(path): \(error)")
        }
    }
}
