import Glibc
import LXCCapabilities
import LXCConfig
import LXCConsole
import LXCInit
import LXCSystem

/// What `exec` runs: runc's `--process` file (an OCI `process` object) or a command line.
public struct OCIExecOptions: Sendable {
    public var id: String
    public var root: String
    /// The process: `args`, `env`, `cwd`, `user` (`uid`, `gid`, `additionalGids`),
    /// `terminal`, `noNewPrivileges`, `capabilities.bounding`.
    public var process: OCIExecProcess
    public var consoleSocket: String?
    public var pidFile: String?
    /// The caller's fds that become the process's 0, 1 and 2 (without a terminal).
    public var stdio: [Int32] = [0, 1, 2]

    public init(id: String, root: String, process: OCIExecProcess) {
        self.id = id
        self.root = root
        self.process = process
    }
}

/// The parts of an OCI `process` object that `exec` acts on.
public struct OCIExecProcess: Sendable, Equatable {
    public var args: [String]
    public var env: [String]?
    public var cwd: String?
    public var uid: UInt32?
    public var gid: UInt32?
    public var additionalGids: [UInt32]?
    public var terminal = false
    /// `consoleSize.height` and `.width`: the terminal's rows and columns.
    public var consoleHeight: UInt16?
    public var consoleWidth: UInt16?
    public var noNewPrivileges: Bool?
    public var bounding: [String]?

    public init(args: [String]) {
        self.args = args
    }

    /// Reads `--process FILE`; errors name the file and the key.
    public init(file: String) throws(OCIRuntimeError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(try FileContents.read(file))
        } catch {
            throw OCIRuntimeError("\(file): \(error)")
        }
        func bad(_ key: String) -> OCIRuntimeError { OCIRuntimeError("\(file): \(key) is invalid") }
        func strings(_ item: JSONValue?, _ key: String) throws(OCIRuntimeError) -> [String]? {
            guard let item else { return nil }
            guard case .array(let list) = item else { throw bad(key) }
            var result: [String] = []
            for entry in list {
                guard case .string(let text) = entry else { throw bad(key) }
                result.append(text)
            }
            return result
        }
        func number(_ item: JSONValue?, _ key: String) throws(OCIRuntimeError) -> UInt32? {
            guard let item else { return nil }
            guard case .number(let number) = item, let result = number.exactly(UInt32.self) else {
                throw bad(key)
            }
            return result
        }
        guard let args = try strings(value["args"], "args"), !args.isEmpty else {
            throw OCIRuntimeError("\(file): args: no command given")
        }
        self.args = args
        env = try strings(value["env"], "env")
        if case .string(let text)? = value["cwd"] { cwd = text }
        if let user = value["user"] {
            uid = try number(user["uid"], "user.uid")
            gid = try number(user["gid"], "user.gid")
            if case .array(let list)? = user["additionalGids"] {
                var groups: [UInt32] = []
                for entry in list { groups.append(try number(entry, "user.additionalGids") ?? 0) }
                additionalGids = groups
            }
        }
        if case .bool(let flag)? = value["terminal"] { terminal = flag }
        if let size = value["consoleSize"] {
            guard let rows = try number(size["height"], "consoleSize.height"),
                let columns = try number(size["width"], "consoleSize.width")
            else { throw bad("consoleSize") }
            consoleHeight = UInt16(clamping: rows)
            consoleWidth = UInt16(clamping: columns)
        }
        if case .bool(let flag)? = value["noNewPrivileges"] { noNewPrivileges = flag }
        bounding = try strings(value["capabilities"]?["bounding"], "capabilities.bounding")
    }
}

extension OCILifecycle {
    /// Runs a process in a running container, as `runc exec`: the attach helper joins the
    /// init's namespaces and cgroups and starts the process as this process's child, with
    /// the container's seccomp filter, the identity, environment and bounding set of the
    /// process object (the container's own where it has none). Returns its pidfd once it has
    /// been executed.
    public static func exec(_ options: OCIExecOptions) throws(OCIRuntimeError) -> PIDFD {
        let id = options.id
        let process = options.process
        if process.terminal && options.consoleSocket == nil {
            throw OCIRuntimeError("process.terminal is true: --console-socket is required")
        }
        let state = try OCIStateDirectory.open(root: options.root, id: id, shared: true)
        let record = try state.load()
        let status = state.status(of: record)
        guard status == .running || status == .created, let initProcess = record.liveInit() else {
            throw OCIRuntimeError("cannot exec in container \(id): it is \(status.rawValue)")
        }
        // The container's defaults come from its config, planned again.
        let plan: ContainerPlan
        do {
            let model = try ContainerConfig(ociFile: record.bundle + "/config.json", name: id)
            plan = try Planner.launch(model, flavor: .oci, initMode: .exec).plan
        } catch {
            throw OCIRuntimeError("exec in container \(id): \(error)")
        }
        let defaults = AttachDefaults(
            plan: plan, cgroupDirectories: record.cgroup?.members.map(\.payloadDirectory) ?? [])
        var attach = AttachPlan(
            namespaces: NamespaceSet(Namespace.allCases), arguments: process.args)
        attach.uid = process.uid ?? defaults.uid
        attach.gid = process.gid ?? defaults.gid
        attach.groups = process.additionalGids ?? plan.additionalGids
        attach.cwd = process.cwd ?? plan.cwd
        attach.cwdRequired = true
        attach.environment = process.env ?? defaults.environment
        attach.personality = defaults.personality
        attach.noNewPrivileges = process.noNewPrivileges ?? defaults.noNewPrivileges
        attach.seccompProgram = defaults.seccompProgram
        attach.seccompFlags = defaults.seccompFlags
        if let names = process.bounding {
            var capabilities: [Capability] = []
            for name in names {
                guard let capability = Capability(name: name) else {
                    throw OCIRuntimeError("capabilities.bounding: unknown capability \(name)")
                }
                capabilities.append(capability)
            }
            attach.bounding = CapabilitySet(capabilities)
        } else {
            attach.bounding = defaults.bounding
        }
        var request = AttachRequest(plan: attach)
        request.stdio = options.stdio
        request.cgroupDirectories = defaults.cgroupDirectories

        // As runc: the pty comes from the container's devpts, opened by the process itself
        // once in the container's mount namespace; its controller comes back to be sent on.
        if process.terminal {
            request.plan.terminal = true
            if let rows = process.consoleHeight, let columns = process.consoleWidth {
                request.plan.terminalRows = rows
                request.plan.terminalColumns = columns
            }
        }
        let terminal = DescriptorList()
        var terminalPath = ""
        let binary: FileDescriptor
        do {
            binary = try ProcessControl.sealedMemfd(
                "swiftlxc-attach", copying: try Launcher.locateInit())
        } catch let error as SyscallError {
            throw OCIRuntimeError("copy the attach helper: \(error)")
        } catch {
            throw OCIRuntimeError("\(error)")
        }
        let command: PIDFD
        do {
            command = try Attacher.attach(
                request, binary: binary, initPIDFD: initProcess.fd,
                receiveTerminal: { controller, path in
                    terminal.append(controller)
                    terminalPath = path
                })
        } catch {
            throw OCIRuntimeError("exec in container \(id): \(error)")
        }
        do throws(OCIRuntimeError) {
            if process.terminal {
                guard terminal.count > 0, let socket = options.consoleSocket else {
                    throw OCIRuntimeError("exec in container \(id): no terminal came back")
                }
                try sendTerminal(terminal.rawValue(at: 0), path: terminalPath, to: socket)
            }
            if let pidFile = options.pidFile { try writeAtomically("\(command.pid)", to: pidFile) }
        } catch {
            try? command.signal(SIGKILL)
            _ = try? command.wait()
            throw error
        }
        return command
    }
}
