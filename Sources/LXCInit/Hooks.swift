import Glibc
import LXCMount
import LXCSystem

/// LXC's hooks: commands run at fixed points of a container's life, with LXC's arguments
/// and environment.
///
/// Version 0 (LXC's default) appends `<name> lxc <hook type>` to the command line; version 1
/// passes those only in the environment (`LXC_NAME`, `LXC_HOOK_TYPE`, `LXC_HOOK_SECTION`).
/// A hook that exits non-zero fails the step it belongs to.
public struct HookSet: Sendable, Equatable {
    /// Commands by LXC stage (`pre-start`, `pre-mount`, `mount`, `autodev`, `start`,
    /// `start-host`, `stop`, `post-stop`, `clone`, `destroy`), each an argv.
    public var commands: [String: [[String]]] = [:]
    public var version = 0
    /// What every hook gets: the config's `lxc.environment` and `lxc.environment.hooks`, then
    /// the `LXC_*` variables (`LXC_NAME`, `LXC_CONFIG_FILE`, `LXC_ROOTFS_PATH`…).
    public var environment: [String] = []
    public var name = ""

    public init() {}

    public var isEmpty: Bool { commands.isEmpty }

    /// Runs the hooks of `stage` in order with `extra` environment (`LXC_PID=…`); throws the
    /// first failure, naming the hook.
    public func run(_ stage: String, extra: [String] = []) throws(HookFailure) {
        for command in commands[stage] ?? [] {
            guard let program = command.first else { continue }
            let arguments = version == 0 ? command + [name, "lxc", stage] : command
            // A PATH from the config (lxc.environment.hooks) replaces the default one.
            let hasPath = self.environment.contains { $0.hasPrefix("PATH=") }
            var environment =
                (hasPath
                    ? [] : ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
                + self.environment + extra
            environment += [
                "LXC_HOOK_TYPE=\(stage)", "LXC_HOOK_SECTION=lxc", "LXC_HOOK_VERSION=\(version)",
            ]
            let status: TerminationStatus
            do {
                status = try Spawn.run(
                    SpawnRequest(
                        path: program, arguments: arguments, environment: environment,
                        fileMap: [-1, 2, 2]))
            } catch {
                throw HookFailure(stage: stage, command: program, reason: error.description)
            }
            guard status == .exited(0) else {
                throw HookFailure(stage: stage, command: program, reason: status.description)
            }
        }
    }
}

/// A hook that could not run or failed.
public struct HookFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var stage: String
    public var command: String
    public var reason: String

    public var description: String { "lxc.hook.\(stage) \(command): \(reason)" }
}

extension HookSet {
    /// The wire form, for the hooks the container side runs.
    public func encode(into writer: inout WireWriter) {
        writer.write(name)
        writer.write(version)
        writer.write(environment)
        let stages = commands.keys.sorted()
        writer.write(stages) { writer, stage in
            writer.write(stage)
            writer.write(commands[stage] ?? []) { writer, argv in writer.write(argv) }
        }
    }

    public init(decoding reader: inout WireReader) throws(WireError) {
        name = try reader.readString()
        version = try reader.readInt()
        environment = try reader.readStrings()
        let pairs = try reader.readArray { reader throws(WireError) -> (String, [[String]]) in
            let stage = try reader.readString()
            let argvs = try reader.readArray { reader throws(WireError) in
                try reader.readStrings()
            }
            return (stage, argvs)
        }
        for (stage, argvs) in pairs { commands[stage] = argvs }
    }
}

/// One OCI hook (config.md, "POSIX-platform Hooks"): its path, its argv (the path when
/// empty), exactly its environment, and a timeout in seconds.
public struct OCIHookCommand: Sendable, Equatable {
    public var path: String
    public var args: [String]
    public var env: [String]
    public var timeout: Int?

    public init(path: String, args: [String] = [], env: [String] = [], timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }

    /// Runs the hook with `state` on its stdin and its stdout and stderr on fd 2, and
    /// waits for it; kills it at its timeout. Any status but 0 is an error.
    public func run(state: String) throws(SyscallError) {
        guard path.hasPrefix("/") else {
            throw SyscallError(.EINVAL, call: "execve", object: "the path must be absolute")
        }
        // The state is written before the hook starts: it is far smaller than a pipe's buffer.
        let readEnd: FileDescriptor
        do {
            let pipe = try Pipe()
            let bytes = Array(state.utf8)
            let written = bytes.withUnsafeBytes {
                write(pipe.writeEnd.rawValue, $0.baseAddress, $0.count)
            }
            _ = try check(written, "write", "the state to the hook's stdin")
            readEnd = try pipe.readEnd.duplicate()
        }
        let process = try Spawn.start(
            SpawnRequest(
                path: path, arguments: args.isEmpty ? [path] : args, environment: env,
                fileMap: [readEnd.rawValue, 2, 2]))
        _ = consume readEnd
        let limit = timeout.map { Int32(clamping: $0 * 1000) } ?? -1
        if try !process.waitForExit(milliseconds: limit) {
            try? process.signal(SIGKILL)
            _ = try? process.wait()
            throw SyscallError(
                Errno(rawValue: ETIME), call: "wait",
                object: "killed after its timeout of \(timeout ?? 0) s")
        }
        let status = try process.wait()
        guard status == .exited(0) else {
            throw SyscallError(.EIO, call: "wait", object: "the hook \(status)")
        }
    }

    /// Runs `hooks` in order; the first failure is thrown naming the hook by its key in
    /// config.json and its path (`hooks.createContainer[1] /usr/bin/x: …`).
    public static func runAll(_ hooks: [OCIHookCommand], stage: String, state: String)
        throws(HookError)
    {
        for (index, hook) in hooks.enumerated() {
            do throws(SyscallError) {
                try hook.run(state: state)
            } catch {
                throw HookError(step: "hooks.\(stage)[\(index)] \(hook.path)", error)
            }
        }
    }
}

/// The OCI hooks that run inside the container (the stage runs them): `createContainer`
/// after the mounts and before `pivot_root`, `startContainer` once `start` has connected,
/// before the workload is executed. The host fills in the state each gets on stdin once
/// the init's pid is known.
public struct OCIContainerHooks: Sendable, Equatable {
    public var createContainer: [OCIHookCommand] = []
    public var startContainer: [OCIHookCommand] = []
    public var createState = ""
    public var startState = ""

    public init() {}

    public var isEmpty: Bool { createContainer.isEmpty && startContainer.isEmpty }

    public func encode(into writer: inout WireWriter) {
        for list in [createContainer, startContainer] {
            writer.write(list) { writer, hook in
                writer.write(hook.path)
                writer.write(hook.args)
                writer.write(hook.env)
                writer.write(hook.timeout ?? -1)
            }
        }
        writer.write(createState)
        writer.write(startState)
    }

    public init(decoding reader: inout WireReader) throws(WireError) {
        func list(_ reader: inout WireReader) throws(WireError) -> [OCIHookCommand] {
            try reader.readArray { reader throws(WireError) in
                let path = try reader.readString()
                let args = try reader.readStrings()
                let env = try reader.readStrings()
                let timeout = try reader.readInt()
                return OCIHookCommand(
                    path: path, args: args, env: env, timeout: timeout < 0 ? nil : timeout)
            }
        }
        createContainer = try list(&reader)
        startContainer = try list(&reader)
        createState = try reader.readString()
        startState = try reader.readString()
    }
}
