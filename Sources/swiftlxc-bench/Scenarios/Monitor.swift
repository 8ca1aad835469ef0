import Glibc
import LXCSystem

/// Resident memory of the process that watches a running container: SwiftLXC's monitor (with
/// its keeper, both `swiftlxc __monitor`), LXC's `[lxc monitor]`, and conmon over crun.
struct MonitorRSSScenario: Scenario {
    let id = "monitor-rss"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var result = ScenarioResult(id: id, title: "monitor RSS of a running container")
        result.unit = .memory
        let settings = context.settings.capped(runs: 10, warmups: 1)
        result.settings = settings
        let devNull = context.devNull.rawValue
        let config = "\(context.systemPath)/empty.conf"
        guard access(config, R_OK) == 0 else {
            result.skipped = "no \(config): run Scripts/peers.sh first"
            return [result]
        }

        var contenders: [Contender] = []
        var pssLogs: [SampleLog] = []
        for runtime in ["swiftlxc", "lxc"] {
            let container = SystemContainer(
                runtime: runtime, name: "bench-monitor",
                lxcPath: "\(context.systemPath)/\(runtime)",
                configPath: config, rootfs: "\(context.systemPath)/rootfs",
                swiftlxcPath: context.swiftlxcPath, devNull: devNull)
            try? container.create()
            let name = runtime == "swiftlxc" ? "swiftlxc __monitor" : "[lxc monitor]"
            let pssLog = SampleLog()
            pssLogs.append(pssLog)
            contenders.append(
                .sampled(
                    name, detail: "sum of VmRSS of \(name) processes of a RUNNING busybox init",
                    isSwiftLXC: runtime == "swiftlxc", cleanup: container.cleanUp
                ) { () throws(BenchError) -> UInt64 in
                    try container.start()
                    defer { try? container.stop() }
                    guard try container.state() == "RUNNING" else {
                        throw BenchError("\(runtime): container not RUNNING after start")
                    }
                    let pids = container.monitorPIDs()
                    guard !pids.isEmpty else { throw BenchError("no \(name) process found") }
                    pssLog.append(pids.compactMap(proportionalKiB).reduce(0, +))
                    return pids.compactMap(residentKiB).reduce(0, +)
                })
        }
        if ExternalCommand.find("conmon") != nil, ExternalCommand.find("crun") != nil {
            let conmon = Conmon(directory: "\(context.peersDirectory)/conmon", devNull: devNull)
            contenders.append(
                .sampled(
                    "conmon", detail: "VmRSS of conmon over crun, container running sleep",
                    cleanup: conmon.cleanUp, sample: conmon.sample))
        }

        result.contenders = Harness.measure(contenders, settings: settings, label: id)
        var pss = ScenarioResult(
            id: "\(id).pss", title: "monitor PSS of a running container (shared pages split)")
        pss.unit = .memory
        pss.settings = settings
        pss.contenders = zip(result.contenders.prefix(pssLogs.count), pssLogs).map {
            measured, log in
            var proportional = log.result(like: measured, discard: 1 + settings.warmups)
            proportional.detail = "sum of Pss (smaps_rollup) of the same processes"
            return proportional
        }
        pss.notes = [
            "taken in the same runs as the RSS group; Pss divides each page among the "
                + "processes that map it, so clean pages of a binary that other processes also "
                + "map count in part: most of the swiftlxc monitor's RSS is text of its static "
                + "binary, which every running monitor shares"
        ]
        for runtime in ["swiftlxc", "lxc"] {
            let container = SystemContainer(
                runtime: runtime, name: "bench-monitor",
                lxcPath: "\(context.systemPath)/\(runtime)",
                configPath: config, rootfs: "\(context.systemPath)/rootfs",
                swiftlxcPath: context.swiftlxcPath, devNull: devNull)
            try? container.destroy()
        }
        result.notes = [
            "one sample per run, taken once the container is RUNNING; \(settings.runs) runs "
                + "after \(settings.warmups) warm-up",
            "swiftlxc: the monitor and its keeper are two processes named swiftlxc __monitor; "
                + "their VmRSS is summed",
            "conmon runs without podman: conmon -r crun creates the container, crun start runs "
                + "it, crun delete -f ends it; its bundle runs /bin/sleep on the busybox rootfs",
        ]
        return [result, pss]
    }
}

/// Proportional set size of `pid` (Pss in smaps_rollup), in KiB.
func proportionalKiB(_ pid: pid_t) -> UInt64? {
    procKiB("/proc/\(pid)/smaps_rollup", key: "Pss:")
}

/// conmon driven by hand the way podman drives it: conmon runs `crun create` and stays as the
/// container's parent; `crun start` then starts the process.
struct Conmon {
    var directory: String
    var devNull: Int32
    let id = "swiftlxc-bench-conmon"

    private var runDirectory: String { "\(directory)/run" }
    private var crun: [String] { ["crun", "--root=\(runDirectory)/crun"] }

    func sample() throws(BenchError) -> UInt64 {
        cleanUp()
        mkdir(runDirectory, 0o755)
        let pidFile = "\(runDirectory)/conmon.pid"
        try runProgram(
            [
                "conmon", "--api-version", "1", "-c", id, "-u", id, "-r", "/usr/bin/crun",
                "-b", "\(directory)/bundle", "-p", "\(runDirectory)/pid", "-n", id,
                "--exit-dir", runDirectory, "-l", "k8s-file:\(runDirectory)/log",
                "--socket-dir-path", runDirectory, "--conmon-pidfile", pidFile,
                "--runtime-arg", "--root=\(runDirectory)/crun",
            ], devNull: devNull, checked: true)
        defer { cleanUp() }
        // conmon's daemon writes the pid files once crun create has returned.
        guard waitFor(milliseconds: 5000, { access("\(runDirectory)/pid", R_OK) == 0 }) else {
            throw BenchError("conmon: crun create wrote no pid file within 5 s")
        }
        try runProgram(crun + ["start", id], devNull: devNull, checked: true)
        let state = try programOutput(crun + ["state", id], devNull: devNull)
        guard state.contains("\"running\"") else {
            throw BenchError("conmon: container not running after crun start")
        }
        guard
            let text = try? FileContents.readText(pidFile),
            let pid = pid_t(text.filter(\.isNumber)),
            let rss = residentKiB(pid)
        else { throw BenchError("conmon: no conmon process from \(pidFile)") }
        return rss
    }

    /// Deletes the container (conmon exits with it) and the run directory.
    func cleanUp() {
        _ = try? programOutput(crun + ["delete", "-f", id], devNull: devNull)
        if let text = try? FileContents.readText("\(runDirectory)/conmon.pid"),
            let pid = pid_t(text.filter(\.isNumber))
        {
            if !waitFor(milliseconds: 2000, { kill(pid, 0) != 0 }) { kill(pid, SIGKILL) }
        }
        _ = try? programOutput(["rm", "-rf", runDirectory], devNull: devNull)
    }
}
