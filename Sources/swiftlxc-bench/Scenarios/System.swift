import Glibc
import LXCSystem

/// A busybox system container (`Scripts/make-rootfs.sh`, init from `/sbin/init`) started
/// by SwiftLXC's `start` (a detached monitor) or LXC's `lxc-start -d`, from the same config.
struct SystemContainer {
    /// `swiftlxc` or `lxc`.
    var runtime: String
    var name: String
    var lxcPath: String
    var configPath: String
    /// The rootfs SwiftLXC's container is created on, in place; LXC's config names it.
    var rootfs: String
    var swiftlxcPath: String
    var devNull: Int32

    var isSwiftLXC: Bool { runtime == "swiftlxc" }

    private var selector: [String] { ["-n", name, "-P", lxcPath] }

    /// Creates the container once: `swiftlxc create`, or for LXC the config copied to
    /// LXCPATH/NAME/config, which is what `lxc-create -t none` leaves.
    func create() throws(BenchError) {
        try? destroy()
        mkdir(lxcPath, 0o755)
        guard isSwiftLXC else {
            mkdir("\(lxcPath)/\(name)", 0o755)
            try runProgram(["cp", configPath, "\(lxcPath)/\(name)/config"], devNull: devNull)
            return
        }
        try runProgram(
            [swiftlxcPath, "create"] + selector
                + ["--rootfs", rootfs, "--in-place", "-f", configPath],
            devNull: devNull, checked: true)
    }

    func destroy() throws(BenchError) {
        guard isSwiftLXC else {
            try runProgram(["rm", "-rf", "\(lxcPath)/\(name)"], devNull: devNull)
            return
        }
        try runProgram([swiftlxcPath, "destroy"] + selector, devNull: devNull)
    }

    /// Returns once the container is RUNNING (both tools wait for it).
    func start() throws(BenchError) {
        if isSwiftLXC {
            try runProgram([swiftlxcPath, "start"] + selector, devNull: devNull, checked: true)
        } else {
            try runProgram(
                ["lxc-start"] + selector + ["-d"], devNull: devNull,
                checked: true)
        }
    }

    /// Kills the container and returns once it is STOPPED.
    func stop() throws(BenchError) {
        let tool = isSwiftLXC ? [swiftlxcPath, "stop"] : ["lxc-stop"]
        try runProgram(tool + selector + ["-k"], devNull: devNull, checked: true)
    }

    /// The state the runtime reports: RUNNING, STOPPED…
    func state() throws(BenchError) -> String {
        if isSwiftLXC {
            let json = try programOutput(
                [swiftlxcPath, "info"] + selector + ["--json"], devNull: devNull)
            guard let range = json.firstRange(of: "\"state\":\"") else { return json }
            return String(json[range.upperBound...].prefix { $0 != "\"" })
        }
        let text = try programOutput(["lxc-info"] + selector + ["-s"], devNull: devNull)
        return String(text.split(separator: " ").last?.filter(\.isLetter) ?? "")
    }

    /// Start, require RUNNING, stop, require STOPPED: the check before anything is timed.
    func checkLifecycle() throws(BenchError) {
        try start()
        let running = try state()
        guard running == "RUNNING" else {
            try? stop()
            throw BenchError("\(runtime) \(name) is \(running) after start, not RUNNING")
        }
        try stop()
        let stopped = try state()
        guard stopped == "STOPPED" else {
            throw BenchError("\(runtime) \(name) is \(stopped) after stop -k, not STOPPED")
        }
    }

    /// The monitor processes serving this container, by their command line.
    func monitorPIDs() -> [pid_t] {
        if isSwiftLXC {
            return processes { $0.contains("__monitor") && $0.hasSuffix(" -n \(name) ") }
        }
        return processes { $0.hasPrefix("[lxc monitor] \(lxcPath) \(name)") }
    }

    /// Stops a container an interrupted run left running; errors ignored.
    func cleanUp() {
        if (try? state()) == "RUNNING" { try? stop() }
    }
}

/// Start to RUNNING of a busybox system container, then its `stop -k`: SwiftLXC's `start`
/// with its monitor against `lxc-start -d`, from the same config and rootfs.
struct SystemStartScenario: Scenario {
    let id = "system-start"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var start = ScenarioResult(
            id: id, title: "system container: start to RUNNING (busybox init)")
        var stop = ScenarioResult(id: "\(id).stop", title: "system container: stop -k to STOPPED")
        let settings = context.settings.capped(runs: 30, warmups: 3)
        start.settings = settings
        stop.settings = settings
        let config = "\(context.systemPath)/empty.conf"
        guard access(config, R_OK) == 0 else {
            start.skipped = "no \(config): run Scripts/peers.sh first"
            return [start]
        }

        let containers = [
            SystemContainer(
                runtime: "swiftlxc", name: "bench-system",
                lxcPath: "\(context.systemPath)/swiftlxc",
                configPath: config, rootfs: "\(context.systemPath)/rootfs",
                swiftlxcPath: context.swiftlxcPath,
                devNull: context.devNull.rawValue),
            SystemContainer(
                runtime: "lxc", name: "bench-system", lxcPath: "\(context.systemPath)/lxc",
                configPath: config, rootfs: "\(context.systemPath)/rootfs",
                swiftlxcPath: context.swiftlxcPath,
                devNull: context.devNull.rawValue),
        ]
        var contenders: [Contender] = []
        var stopLogs: [SampleLog] = []
        var failed: [ContenderResult] = []
        for container in containers {
            let name = container.isSwiftLXC ? "swiftlxc start" : "lxc-start -d"
            do {
                try container.create()
                try container.checkLifecycle()
            } catch {
                progress("system-start: \(name): \(error.message)")
                failed.append(
                    ContenderResult(
                        name: name, detail: container.configPath,
                        isSwiftLXC: container.isSwiftLXC, outcome: .failed(error.message)))
                continue
            }
            let log = SampleLog()
            stopLogs.append(log)
            let detail =
                container.isSwiftLXC
                ? "swiftlxc start -n NAME -P \(container.lxcPath); stop -k"
                : "lxc-start -n NAME -P \(container.lxcPath) -d; lxc-stop -k"
            contenders.append(
                .sampled(
                    name, detail: detail, isSwiftLXC: container.isSwiftLXC,
                    cleanup: container.cleanUp
                ) { () throws(BenchError) -> UInt64 in
                    let begin = monotonicNanoseconds()
                    try container.start()
                    let running = monotonicNanoseconds()
                    try container.stop()
                    log.append(monotonicNanoseconds() - running)
                    return running - begin
                })
        }

        let measured = Harness.measure(contenders, settings: settings, label: id)
        start.contenders = measured + failed
        stop.contenders =
            zip(measured, stopLogs).map { result, log in
                var stopped = log.result(like: result, discard: 1 + settings.warmups)
                stopped.name = result.isSwiftLXC ? "swiftlxc stop -k" : "lxc-stop -k"
                return stopped
            } + failed
        for container in containers { try? container.destroy() }

        let common = [
            "config \(config): busybox init (make-rootfs.sh), lxc.net.0.type = empty, "
                + "proc:mixed sys:mixed, lxc.signal.halt = SIGUSR1; both tools return once the "
                + "container is RUNNING (start) or STOPPED (stop -k)",
            "\(settings.runs) measured runs after \(settings.warmups) warm-ups: a run starts "
                + "and stops a whole system container",
        ]
        start.notes = common
        stop.notes = common + ["timed in the same runs as the start group"]
        return [start, stop]
    }
}
