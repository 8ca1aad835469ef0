import Glibc
import LXCConfig
import LXCInit
import LXCMount
import LXCSystem

/// OCI hooks (config.md) that run in the runtime's namespaces: `prestart` and
/// `createRuntime` (create), `poststart` (start), `poststop` (delete). Each gets the
/// container's state JSON on stdin, exactly its `env`, its `args` as argv, and is killed
/// after `timeout` seconds. `createContainer` and `startContainer` run inside the
/// container: the stage runs them (`ContainerPlan.ociHooks`) with the same runner.
public enum OCIHooks {
    /// The stages this runtime runs, in lifecycle order.
    public static let hostStages = ["prestart", "createRuntime", "poststart", "poststop"]
    /// The stages the container-side stage runs.
    public static let containerStages = ["createContainer", "startContainer"]

    /// Runs the hooks of `stage` in order; the first failure is thrown, naming the hook by
    /// its key in config.json (`hooks.poststart[1]`) and its path.
    public static func run(_ hooks: [ContainerConfig.Hook], stage: String, state: String)
        throws(OCIRuntimeError)
    {
        let commands = hooks.map {
            OCIHookCommand(path: $0.path, args: $0.args, env: $0.env, timeout: $0.timeout)
        }
        do throws(HookError) {
            try OCIHookCommand.runAll(commands, stage: stage, state: state)
        } catch {
            throw OCIRuntimeError(error.text)
        }
    }

    /// Runs every hook of `stage` in order, passing each failure to `warn` and going on with
    /// the next: the spec's rule for `poststop`, whose failures must not stop the rest.
    public static func runAll(
        _ hooks: [ContainerConfig.Hook], stage: String, state: String, warn: (String) -> Void
    ) {
        for (index, hook) in hooks.enumerated() {
            let name = "hooks.\(stage)[\(index)] \(hook.path)"
            let command = OCIHookCommand(
                path: hook.path, args: hook.args, env: hook.env, timeout: hook.timeout)
            do throws(SyscallError) {
                try command.run(state: state)
            } catch {
                warn("\(name): \(error)")
            }
        }
    }
}
