import Glibc
import LXCConfig
import LXCSystem

/// OCI hooks (config.md) that run in the runtime's namespaces: `prestart` and
/// `createRuntime` (create), `poststart` (start), `poststop` (delete). Each gets the
/// container's state JSON on stdin, exactly its `env`, its `args` as argv, and is killed
/// after `timeout` seconds.
public enum OCIHooks {
    /// The stages this runtime runs, in lifecycle order.
    public static let hostStages = ["prestart", "createRuntime", "poststart", "poststop"]

    /// Runs the hooks of `stage` in order; the first failure is thrown, naming the hook by
    /// its key in config.json (`hooks.poststart[1]`) and its path.
    public static func run(_ hooks: [ContainerConfig.Hook], stage: String, state: String)
        throws(OCIRuntimeError)
    {
        for (index, hook) in hooks.enumerated() {
            let name = "hooks.\(stage)[\(index)] \(hook.path)"
            do throws(SyscallError) {
                try runOne(hook, state: state, name: name)
            } catch {
                throw OCIRuntimeError("\(name): \(error)")
            }
        }
    }

    /// Runs every hook of `stage` in order, passing each failure to `warn` and going on with
    /// the next: the spec's rule for `poststop`, whose failures must not stop the rest.
    public static func runAll(
        _ hooks: [ContainerConfig.Hook], stage: String, state: String, warn: (String) -> Void
    ) {
        for (index, hook) in hooks.enumerated() {
            let name = "hooks.\(stage)[\(index)] \(hook.path)"
            do throws(SyscallError) {
                try runOne(hook, state: state, name: name)
            } catch {
                warn("\(name): \(error)")
            }
        }
    }

    private static func runOne(_ hook: ContainerConfig.Hook, state: String, name: String)
        throws(SyscallError)
    {
        guard hook.path.hasPrefix("/") else {
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
                path: hook.path, arguments: hook.args.isEmpty ? [hook.path] : hook.args,
                environment: hook.env, fileMap: [readEnd.rawValue, 2, 2]))
        _ = consume readEnd
        let limit = hook.timeout.map { Int32(clamping: $0 * 1000) } ?? -1
        if try !process.waitForExit(milliseconds: limit) {
            try? process.signal(SIGKILL)
            _ = try? process.wait()
            throw SyscallError(
                Errno(rawValue: ETIME), call: "wait",
                object: "killed after its timeout of \(hook.timeout ?? 0) s")
        }
        let status = try process.wait()
        guard status == .exited(0) else {
            throw SyscallError(.EIO, call: "wait", object: "the hook \(status)")
        }
    }
}
