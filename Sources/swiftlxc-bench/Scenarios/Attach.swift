import Glibc
import LXCSystem

/// `/bin/true` attached to a running busybox system container: `swiftlxc attach` against
/// `lxc-attach`, each on a container its own runtime started from the same config.
struct AttachScenario: Scenario {
    let id = "attach"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var result = ScenarioResult(
            id: id, title: "attach latency (/bin/true in a running container)")
        let config = "\(context.systemPath)/empty.conf"
        guard access(config, R_OK) == 0 else {
            result.skipped = "no \(config): run Scripts/peers.sh first"
            return [result]
        }
        let devNull = context.devNull.rawValue
        let containers = ["swiftlxc", "lxc"].map { runtime in
            SystemContainer(
                runtime: runtime, name: "bench-attach",
                lxcPath: "\(context.systemPath)/\(runtime)",
                configPath: config, rootfs: "\(context.systemPath)/rootfs",
                swiftlxcPath: context.swiftlxcPath, devNull: devNull)
        }
        var contenders: [Contender] = []
        var failed: [ContenderResult] = []
        for container in containers {
            let name = container.isSwiftLXC ? "swiftlxc attach" : "lxc-attach"
            let selector = ["-n", container.name, "-P", container.lxcPath, "--", "/bin/true"]
            let command =
                container.isSwiftLXC
                ? ExternalCommand(
                    path: context.swiftlxcPath, arguments: ["swiftlxc", "attach"] + selector)
                : ExternalCommand.find("lxc-attach").map {
                    ExternalCommand(path: $0, arguments: ["lxc-attach"] + selector)
                }
            do throws(BenchError) {
                guard let command else { throw BenchError("lxc-attach is not installed") }
                try container.create()
                try container.start()
                contenders.append(
                    .command(name, command, isSwiftLXC: container.isSwiftLXC, devNull: devNull))
            } catch {
                progress("attach: \(name): \(error.message)")
                container.cleanUp()
                failed.append(
                    ContenderResult(
                        name: name, detail: container.configPath,
                        isSwiftLXC: container.isSwiftLXC, outcome: .failed(error.message)))
            }
        }
        result.contenders =
            Harness.measure(contenders, settings: context.settings, label: id) + failed
        for container in containers {
            container.cleanUp()
            try? container.destroy()
        }
        result.notes = [
            "config \(config): busybox init (make-rootfs.sh), lxc.net.0.type = empty, "
                + "proc:mixed sys:mixed; each runtime attaches to a container it started",
            "a run is one whole command line: connect to the monitor, join the cgroups and "
                + "namespaces, exec /bin/true and wait for it; stdio on /dev/null (lxc-attach "
                + "makes no pseudo terminal then)",
        ]
        return [result]
    }
}
