import Glibc
import LXCSystem

/// 50 short-lived containers (`/bin/true` in the OCI bundle) launched at once with distinct
/// ids: the wall time until the last has exited, and how much memory the burst took.
struct ConcurrentStartScenario: Scenario {
    let id = "concurrent-start"
    static let count = 50

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var time = ScenarioResult(
            id: id, title: "\(Self.count) concurrent starts of /bin/true: total wall time")
        var memory = ScenarioResult(
            id: "\(id).memory", title: "\(Self.count) concurrent starts: peak memory in use")
        memory.unit = .memory
        let settings = context.settings.capped(runs: 5, warmups: 1)
        time.settings = settings
        memory.settings = settings
        let devNull = context.devNull.rawValue

        var contenders: [Contender] = []
        var logs: [SampleLog] = []
        for runtime in ["swiftlxc", "crun", "runc"] {
            let path = runtime == "swiftlxc" ? context.swiftlxcPath : ExternalCommand.find(runtime)
            guard let path, access(path, X_OK) == 0 else { continue }
            let commands = (0..<Self.count).map { index in
                ExternalCommand(
                    path: path,
                    arguments: [
                        runtime, "run", "--bundle", context.bundlePath,
                        "swiftlxc-bench-many-\(runtime)-\(index)",
                    ])
            }
            let cleanup = {
                guard runtime != "swiftlxc" else { return }
                for index in 0..<Self.count {
                    _ = try? programOutput(
                        [runtime, "delete", "-f", "swiftlxc-bench-many-\(runtime)-\(index)"],
                        devNull: devNull)
                }
            }
            let log = SampleLog()
            logs.append(log)
            contenders.append(
                .sampled(
                    runtime,
                    detail: "\(Self.count) × \(path) run --bundle \(context.bundlePath) ID-i",
                    isSwiftLXC: runtime == "swiftlxc", cleanup: cleanup
                ) { () throws(BenchError) -> UInt64 in
                    let (elapsed, peak) = try Self.launch(commands, devNull: devNull)
                    log.append(peak)
                    return elapsed
                })
        }

        let measured = Harness.measure(contenders, settings: settings, label: id)
        time.contenders = measured
        memory.contenders = zip(measured, logs).map { result, log in
            log.result(like: result, discard: 1 + settings.warmups)
        }
        let method =
            "peak memory: MemAvailable of /proc/meminfo read before the launch, then every "
            + "millisecond until all \(Self.count) have exited; the sample is the largest drop. "
            + "It is machine-wide, so it counts kernel memory (page tables, namespaces, "
            + "cgroups) and any other activity of the machine"
        let common =
            "\(settings.runs) measured runs after \(settings.warmups) warm-up, each launching "
            + "\(Self.count) processes at once with distinct ids on \(context.bundlePath); "
            + "every one must exit 0"
        time.notes = [common]
        memory.notes = [common, method]
        return [time, memory]
    }

    /// Starts every command without waiting, then polls: reaps the ones that have exited and
    /// reads MemAvailable. Returns the wall time and the largest drop of MemAvailable, in KiB.
    private static func launch(
        _ commands: [ExternalCommand], devNull: Int32
    ) throws(BenchError) -> (nanoseconds: UInt64, peakKiB: UInt64) {
        let baseline = procKiB("/proc/meminfo", key: "MemAvailable:") ?? 0
        var lowest = baseline
        let begin = monotonicNanoseconds()
        var running: [pid_t] = []
        var failure: String?
        for command in commands {
            let request = SpawnRequest(
                path: command.path, arguments: command.arguments,
                environment: command.environment, fileMap: [devNull, devNull, devNull])
            do {
                // The pidfd closes here; the child stays ours and waitpid reaps it below.
                running.append(try Spawn.start(request).pid)
            } catch {
                failure = "\(error)"
                break
            }
        }
        let deadline = begin + 60_000_000_000
        while !running.isEmpty {
            running = running.filter { pid in
                var status: Int32 = 0
                guard waitpid(pid, &status, WNOHANG) == pid else { return true }
                let exit = TerminationStatus(waitStatus: status)
                if exit != .exited(0), failure == nil { failure = "a run ended with \(exit)" }
                return false
            }
            if let available = procKiB("/proc/meminfo", key: "MemAvailable:") {
                lowest = min(lowest, available)
            }
            if monotonicNanoseconds() > deadline {
                for pid in running { kill(pid, SIGKILL) }
                for pid in running { waitpid(pid, nil, 0) }
                throw BenchError("\(running.count) runs still alive after 60 s")
            }
            if !running.isEmpty { usleep(1000) }
        }
        let elapsed = monotonicNanoseconds() - begin
        if let failure { throw BenchError("\(commands[0].path): \(failure)") }
        return (elapsed, baseline - lowest)
    }
}
