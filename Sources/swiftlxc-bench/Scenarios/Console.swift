import Glibc
import LXCSystem

/// Console throughput: a system container whose init writes `megabytes` MiB of zeros to
/// `/dev/console` (the monitor's pty; LXC gives a daemonized command /dev/null as stdio, so
/// the device is named) and exits, against the same container writing
/// nothing. Both runtimes keep the output in a 1 MiB ring buffer (`lxc.console.buffer.size`,
/// LXC's console_log); their monitors drain the pty. The paired difference of the two runs
/// is the time the bytes took, and MiB/s follows.
struct ConsoleScenario: Scenario {
    let id = "console"
    /// What the container writes per run.
    let megabytes = 64

    func run(_ context: BenchContext) -> [ScenarioResult] {
        var group = ScenarioResult(
            id: id,
            title: "console throughput: \(megabytes) MiB through the console into the ring buffer")
        let settings = context.settings.capped(runs: 30, warmups: 3)
        group.settings = settings
        let config = "\(context.peersDirectory)/console/console.conf"
        guard access(config, R_OK) == 0 else {
            group.skipped = "no \(config): run Scripts/peers.sh first"
            return [group]
        }

        var contenders: [Contender] = []
        var pairs: [(full: Int, empty: Int, name: String, isSwiftLXC: Bool)] = []
        var failed: [ContenderResult] = []
        for runtime in ["swiftlxc", "lxc"] {
            let container = SystemContainer(
                runtime: runtime, name: "bench-console",
                lxcPath: "\(context.peersDirectory)/console/\(runtime)", configPath: config,
                rootfs: "\(context.systemPath)/rootfs", swiftlxcPath: context.swiftlxcPath,
                devNull: context.devNull.rawValue)
            let name = container.isSwiftLXC ? "swiftlxc" : "lxc-start -d"
            do {
                try container.create()
            } catch {
                failed.append(
                    ContenderResult(
                        name: name, detail: config, isSwiftLXC: container.isSwiftLXC,
                        outcome: .failed(error.message)))
                continue
            }
            let index = contenders.count
            for count in [megabytes * 16, 0] {
                let command = [
                    "/bin/sh", "-c",
                    "dd if=/dev/zero bs=64k count=\(count) of=/dev/console 2>/dev/null",
                ]
                let label = count == 0 ? "\(name), nothing written" : "\(name), \(megabytes) MiB"
                contenders.append(
                    .sampled(
                        label, detail: commandLine(container, command),
                        isSwiftLXC: container.isSwiftLXC, cleanup: container.cleanUp
                    ) { () throws(BenchError) -> UInt64 in
                        let begin = monotonicNanoseconds()
                        try runToCompletion(container, command)
                        return monotonicNanoseconds() - begin
                    })
            }
            pairs.append((index, index + 1, name, container.isSwiftLXC))
        }

        let measured = Harness.measure(contenders, settings: settings, label: id)
        group.contenders =
            pairs.map { pair in
                measured[pair.full].minus(
                    measured[pair.empty], name: pair.name,
                    detail: "(\(megabytes) MiB run) - (empty run), paired run by run")
            } + failed
        for runtime in ["swiftlxc", "lxc"] {
            try? runProgram(
                ["rm", "-rf", "\(context.peersDirectory)/console/\(runtime)/bench-console"],
                devNull: context.devNull.rawValue)
        }
        group.notes =
            [
                "config \(config): the system container of system-start with "
                    + "lxc.console.buffer.size = 1 MiB; the init is `dd if=/dev/zero bs=64k "
                    + "of=/dev/console`, then the container stops",
                "a sample is the start-to-STOPPED time of the \(megabytes) MiB run minus that of the "
                    + "empty run next to it; throughput = \(megabytes) MiB / that difference",
                "both runtimes wait for STOPPED by polling (swiftlxc wait every 10 ms, lxc-wait on "
                    + "its state socket)",
            ] + throughputs(group.contenders)
        return [group]
    }

    private func commandLine(_ container: SystemContainer, _ command: [String]) -> String {
        let tool = container.isSwiftLXC ? "swiftlxc start" : "lxc-start -d"
        return "\(tool) -n NAME -P \(container.lxcPath) -- \(command.joined(separator: " "))"
            + "; wait -s STOPPED"
    }

    /// Starts the container with `command` as its init and returns once it has STOPPED.
    private func runToCompletion(_ container: SystemContainer, _ command: [String])
        throws(BenchError)
    {
        let selector = ["-n", container.name, "-P", container.lxcPath]
        if container.isSwiftLXC {
            try runProgram(
                [container.swiftlxcPath, "start"] + selector + ["--"] + command,
                devNull: container.devNull, checked: true)
            try runProgram(
                [container.swiftlxcPath, "wait"] + selector + ["-s", "STOPPED", "-t", "60"],
                devNull: container.devNull, checked: true)
        } else {
            try runProgram(
                ["lxc-start"] + selector + ["-d", "--"] + command, devNull: container.devNull,
                checked: true)
            try runProgram(
                ["lxc-wait"] + selector + ["-s", "STOPPED", "-t", "60"],
                devNull: container.devNull, checked: true)
        }
    }

    private func throughputs(_ contenders: [ContenderResult]) -> [String] {
        contenders.compactMap { contender in
            guard let median = contender.statistics?.median, median > 0 else { return nil }
            let perSecond = Double(megabytes) / (median / 1e9)
            return "\(contender.name): \(fixed(perSecond, 0)) MiB/s at the median"
        }
    }
}
