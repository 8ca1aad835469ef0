import Glibc
import LXCSystem

/// Start-to-exit of `/bin/true` in the busybox bundle with mount, pid, uts, ipc and network
/// namespaces: the whole cost a caller of each runtime pays for a short-lived container.
/// Every contender uses the same rootfs that `Scripts/peers.sh` built.
struct StartScenario: Scenario {
    let id = "start"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var result = ScenarioResult(
            id: "start", title: "start to exit of /bin/true in a busybox bundle, 5 namespaces")
        guard access("\(context.bundlePath)/config.json", R_OK) == 0 else {
            result.skipped = "no bundle at \(context.bundlePath): run Scripts/peers.sh first"
            return [result]
        }

        let devNull = context.devNull.rawValue
        var contenders: [Contender] = []
        var skipped: [ContenderResult] = []

        switch swiftlxcContender(context) {
        case .success(let contender): contenders.append(contender)
        case .failure(let reason):
            print("skipped: \(reason.message)")
            skipped.append(
                ContenderResult(
                    name: "swiftlxc", detail: context.swiftlxcPath, isSwiftLXC: true,
                    outcome: .skipped(reason.message)))
        }

        for runtime in ["crun", "runc"] {
            let id = "swiftlxc-bench-\(runtime)"
            guard let path = ExternalCommand.find(runtime) else {
                skipped.append(notInstalled(runtime))
                continue
            }
            let run = ExternalCommand(
                path: path, arguments: [runtime, "run", "--bundle", context.bundlePath, id])
            // A run killed by a timeout leaves its id registered, and the next run would fail.
            let delete = ExternalCommand(path: path, arguments: [runtime, "delete", "-f", id])
            contenders.append(.command(runtime, run, devNull: devNull, cleanup: delete))
        }

        if let path = ExternalCommand.find("lxc-execute") {
            let execute = ExternalCommand(
                path: path,
                arguments: [
                    "lxc-execute", "-P", context.lxcPath, "-n", "swiftlxc-bench", "-f",
                    context.lxcConfigPath, "--", "/bin/true",
                ])
            contenders.append(.command("lxc-execute", execute, devNull: devNull))
        } else {
            skipped.append(notInstalled("lxc-execute"))
        }

        result.contenders =
            skipped + Harness.measure(contenders, settings: context.settings, label: "start")
        result.notes = [
            "OCI runtimes run the bundle \(context.bundlePath) (crun spec defaults: read-only "
                + "root, /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup)",
            "lxc-execute runs \(context.lxcConfigPath) on the same rootfs "
                + "(autodev, proc:mixed, sys:ro, empty network; lxc.namespace.keep = cgroup "
                + "user time, so it makes the same five namespaces)",
        ]
        return [result]
    }

    private func notInstalled(_ name: String) -> ContenderResult {
        ContenderResult(
            name: name, detail: name, isSwiftLXC: false, outcome: .skipped("not installed"))
    }

    /// SwiftLXC's contender, or why it cannot take part. The verb is found in `swiftlxc help`
    /// rather than assumed, so the bench works before and after the verb lands.
    private func swiftlxcContender(_ context: BenchContext) -> Result<Contender, BenchError> {
        let path = context.swiftlxcPath
        guard access(path, X_OK) == 0 else {
            return .failure(BenchError("swiftlxc binary not found at \(path)"))
        }
        let help: String
        do {
            help = try ExternalCommand(path: path, arguments: ["swiftlxc", "help"])
                .capture(devNull: context.devNull.rawValue).output
        } catch {
            return .failure(BenchError("swiftlxc help failed: \(error.message)"))
        }
        // The usage text lists one verb a line, indented: the first word of a line is a verb.
        let verbs = Set(help.split(separator: "\n").compactMap { $0.split(separator: " ").first })

        let arguments: [String]
        if verbs.contains("run") {
            arguments = ["swiftlxc", "run", "--bundle", context.bundlePath, "swiftlxc-bench"]
        } else if verbs.contains("execute") {
            arguments = ["swiftlxc", "execute", "--rootfs", context.rootfsPath, "--", "/bin/true"]
        } else {
            return .failure(BenchError("swiftlxc has no run verb yet"))
        }
        let command = ExternalCommand(path: path, arguments: arguments)
        return .success(
            .command(
                "swiftlxc", command, isSwiftLXC: true, devNull: context.devNull.rawValue))
    }
}
