import Glibc
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
    /// `LXC_*` variables every hook gets (`LXC_NAME`, `LXC_CONFIG_FILE`, `LXC_ROOTFS_PATH`…).
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
            var environment =
                ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
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
