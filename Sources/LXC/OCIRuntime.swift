import Glibc
import LXCConfig
import LXCRuntime
import LXCSystem

/// runc's lifecycle on containers kept in `root` (`--root`): what podman, containerd and
/// CRI-O drive. `create` leaves the init waiting and no process behind; the others are
/// short calls that find the container through `<root>/<id>/state.json`.
public struct OCIRuntime: Sendable {
    public var root: String

    public init(root: String = OCILifecycle.defaultRoot) {
        self.root = root
    }

    /// Creates container `id` from the bundle (`config.json` and its root filesystem) and
    /// returns the init's pid. The init is this process's child until it exits; then the
    /// nearest child subreaper (conmon, a shim) inherits and reaps it. Warnings about fields
    /// the runtime does not act on are passed to `warn`.
    public func create(
        bundle: String, id: String, pidFile: String? = nil, consoleSocket: String? = nil,
        preserveFDs: Int = 0, stdio: [Int32] = [0, 1, 2], warn: (String) -> Void = { _ in }
    ) throws(OCIRuntimeError) -> pid_t {
        try OCIStateDirectory.validate(id: id)
        guard let resolved = realpath(bundle, nil) else {
            throw OCIRuntimeError("bundle \(bundle): \(Errno.current)")
        }
        let path = String(cString: resolved)
        free(resolved)
        let model: ContainerConfig
        do {
            model = try ContainerConfig(ociFile: path + "/config.json", name: id)
        } catch {
            throw OCIRuntimeError(error.description)
        }
        let request: LaunchRequest
        do {
            request = try Planner.launch(model, flavor: .oci, initMode: .exec)
        } catch {
            throw OCIRuntimeError(error.description)
        }
        for warning in request.warnings { warn(warning) }
        var options = OCICreateOptions(id: id, bundle: path, root: root)
        options.pidFile = pidFile
        options.consoleSocket = consoleSocket
        options.preserveFDs = preserveFDs
        options.stdio = stdio
        return try OCILifecycle.create(options, model: model, request: request)
    }

    /// Runs the created container's process; returns once it has been executed.
    public func start(_ id: String) throws(OCIRuntimeError) {
        try OCILifecycle.start(root: root, id: id)
    }

    /// The state JSON (`runc state`).
    public func state(_ id: String) throws(OCIRuntimeError) -> String {
        try OCILifecycle.state(root: root, id: id)
    }

    /// Every container with its status.
    public func list() -> [(record: OCIContainerRecord, status: OCIStatus)] {
        OCILifecycle.list(root: root).map { (record: $0.0, status: $0.1) }
    }

    public func kill(_ id: String, signal: Int32 = SIGTERM, all: Bool = false)
        throws(OCIRuntimeError)
    {
        try OCILifecycle.kill(root: root, id: id, signal: signal, all: all)
    }

    public func delete(_ id: String, force: Bool = false, warn: (String) -> Void = { _ in })
        throws(OCIRuntimeError)
    {
        try OCILifecycle.delete(root: root, id: id, force: force, warn: warn)
    }

    public func pause(_ id: String) throws(OCIRuntimeError) {
        try OCILifecycle.setPaused(true, root: root, id: id)
    }

    public func resume(_ id: String) throws(OCIRuntimeError) {
        try OCILifecycle.setPaused(false, root: root, id: id)
    }

    /// Runs `process` in the running container (`runc exec`) and returns its pidfd once it
    /// has been executed; it is this process's child.
    public func exec(
        _ id: String, process: OCIExecProcess, consoleSocket: String? = nil, pidFile: String? = nil,
        stdio: [Int32] = [0, 1, 2]
    ) throws(OCIRuntimeError) -> PIDFD {
        var options = OCIExecOptions(id: id, root: root, process: process)
        options.consoleSocket = consoleSocket
        options.pidFile = pidFile
        options.stdio = stdio
        return try OCILifecycle.exec(options)
    }

    /// The pids of the container's processes, in this process's pid namespace.
    public func processes(_ id: String) throws(OCIRuntimeError) -> [pid_t] {
        try OCILifecycle.processes(root: root, id: id)
    }

    /// A signal by number or name, with or without `SIG` (`9`, `KILL`, `SIGKILL`).
    public static func signal(named text: String) -> Int32? {
        if let number = Int32(text), number > 0, number < 65 { return number }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name = String(name.dropFirst(3)) }
        let names: [String: Int32] = [
            "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP,
            "ABRT": SIGABRT, "IOT": SIGABRT, "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL,
            "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM,
            "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD, "CONT": SIGCONT,
            "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG,
            "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF,
            "WINCH": SIGWINCH, "IO": SIGIO, "POLL": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
        ]
        if let number = names[name] { return number }
        // RTMIN+n and RTMAX-n.
        if name.hasPrefix("RTMIN+"), let offset = Int32(name.dropFirst(6)) { return 34 + offset }
        if name.hasPrefix("RTMAX-"), let offset = Int32(name.dropFirst(6)) { return 64 - offset }
        if name == "RTMIN" { return 34 }
        if name == "RTMAX" { return 64 }
        return nil
    }
}
