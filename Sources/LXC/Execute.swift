import Glibc
import LXCConfig
import LXCInit
import LXCRuntime
import LXCSystem

/// What `execute` runs: `lxc-execute`'s inputs.
public struct ExecuteOptions: Sendable {
    /// The container's name; also its default hostname.
    public var name: String
    /// The root filesystem directory; overrides `lxc.rootfs.path`.
    public var rootfs: String?
    /// An LXC config file to start from.
    public var configFile: String?
    /// `-s KEY=VALUE` items, applied after the file, in order.
    public var items: [(key: String, value: String)]
    /// The command; replaces `lxc.init.cmd`.
    public var command: [String]
    /// The caller's fds that become the container's 0, 1 and 2.
    public var stdio: [Int32]
    /// Where containers named in `lxc.namespace.share.*` live.
    public var lxcpath = "/var/lib/lxc"

    public init(
        name: String, rootfs: String? = nil, configFile: String? = nil,
        items: [(key: String, value: String)] = [], command: [String], stdio: [Int32] = [0, 1, 2]
    ) {
        self.name = name
        self.rootfs = rootfs
        self.configFile = configFile
        self.items = items
        self.command = command
        self.stdio = stdio
    }
}

/// Why a container could not be run (`execute`, `runBundle`).
public enum RunError: Error, Sendable, CustomStringConvertible {
    /// The config file or an item did not load; every error, each with its line.
    case config([ConfigError])
    /// An OCI bundle's `config.json` did not load.
    case oci(OCIError)
    /// The config asks for something the runtime cannot do.
    case plan(PlanError)
    /// The start failed on the host or in the container.
    case launch(LaunchError)

    /// The status a command line exits with: 127 when the command could not be executed.
    public var exitStatus: Int32 {
        if case .launch(let error) = self { return error.exitStatus }
        return 1
    }

    public var description: String {
        switch self {
        case .config(let errors): return errors.map(\.description).joined(separator: "\n")
        case .oci(let error): return error.description
        case .plan(let error): return error.description
        case .launch(let error): return error.description
        }
    }
}

/// Runs `options.command` in an application container, as `lxc-execute` does: a minimal init
/// is PID 1, and the command's exit status (128 + signal when signalled) is returned.
public func execute(_ options: ExecuteOptions) throws(RunError) -> TerminationStatus {
    var configuration = LXCConfiguration()
    if let file = options.configFile {
        let (loaded, errors) = LXCConfiguration.check(contentsOf: file)
        if !errors.isEmpty { throw .config(errors) }
        configuration = loaded
    }
    if let rootfs = options.rootfs {
        do {
            try configuration.set("lxc.rootfs.path", rootfs)
        } catch {
            throw .config([error])
        }
    }
    for item in options.items {
        do {
            try configuration.set(item.key, item.value)
        } catch {
            throw .config([error])
        }
    }
    let model: ContainerConfig
    do {
        model = try ContainerConfig(lxc: configuration, name: options.name)
    } catch {
        throw .config([error])
    }
    var request: LaunchRequest
    do {
        request = try Planner.launch(
            model, flavor: .lxc, arguments: options.command, initMode: .minimalInit,
            lxcpath: options.lxcpath)
    } catch {
        throw .plan(error)
    }
    request.stdio = options.stdio
    do {
        return try Launcher.run(request)
    } catch {
        throw .launch(error)
    }
}

/// Runs an OCI bundle in the foreground, as `runc run` does: the process of `config.json`
/// is PID 1 (no init stays behind) and its exit status is returned. Warnings about fields the
/// runtime does not act on are passed to `warn`.
public func runBundle(
    _ bundle: String, id: String, stdio: [Int32] = [0, 1, 2], warn: (String) -> Void = { _ in }
) throws(RunError) -> TerminationStatus {
    let started = MonotonicClock.now()
    let model: ContainerConfig
    do {
        model = try ContainerConfig(ociFile: bundle + "/config.json", name: id)
    } catch {
        throw .oci(error)
    }
    Logger("oci").debug(
        "phase config.json decoded \(MonotonicClock.milliseconds(since: started)) ms")
    if model.process.terminal {
        throw .plan(
            PlanError(
                "process.terminal",
                "run has no terminal for the container; use create with --console-socket"))
    }
    if let stage = model.hooks.oci.keys.sorted().first {
        throw .plan(PlanError("hooks.\(stage)", "run does not run hooks; use create and start"))
    }
    var request: LaunchRequest
    do {
        request = try Planner.launch(model, flavor: .oci, initMode: .exec)
    } catch {
        throw .plan(error)
    }
    Logger("oci").debug("phase planned \(MonotonicClock.milliseconds(since: started)) ms")
    for warning in request.warnings { warn(warning) }
    request.stdio = stdio
    do throws(LaunchError) {
        let container = try Launcher.start(request)
        if let agent = request.seccompAgent {
            do throws(LaunchError) {
                try container.sendSeccompListener(
                    to: agent, metadata: request.seccompAgentMetadata, id: id, bundle: bundle)
            } catch {
                try? container.process.signal(SIGKILL)
                _ = try? container.wait()
                throw error
            }
        }
        return try container.wait()
    } catch {
        throw .launch(error)
    }
}
