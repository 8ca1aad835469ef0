import Glibc
import LXCSystem

/// The network setup of one container: a veth pair, the peer moved into the container's
/// network namespace, an address, a host route, the links up. Measured three ways:
/// - end to end: start + stop -k of a system container with `lxc.net.0.type = veth` minus the
///   same with `empty`, run by run, for SwiftLXC and LXC; the `ip` command sequence that does
///   the same work on a fresh `ip netns` runs in the same rounds;
/// - from the runtimes' own logs: the span of the network setup inside one start, which is
///   free of the start's and stop's noise.
struct NetworkScenario: Scenario {
    let id = "network"
    static let pair = "sxbench0"
    static let namespace = "swiftlxc-bench-net"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        let devNull = context.devNull.rawValue
        var both = ScenarioResult(
            id: "\(id).start", title: "network: system container start + stop -k, veth vs empty")
        var setup = ScenarioResult(
            id: id, title: "network setup per container: veth, address, route, up")
        var logged = ScenarioResult(
            id: "\(id).log", title: "network setup inside one start, from the runtime's log")
        let settings = context.settings.capped(runs: 100, warmups: 5)
        both.settings = settings
        setup.settings = settings
        logged.settings = settings
        let vethConfig = "\(context.systemPath)/veth.conf"
        guard access(vethConfig, R_OK) == 0 else {
            setup.skipped = "no \(vethConfig): run Scripts/peers.sh first"
            return [setup]
        }

        var containers: [SystemContainer] = []
        var contenders: [Contender] = []
        for runtime in ["swiftlxc", "lxc"] {
            for name in ["empty", "veth"] {
                let container = system(context, runtime, "bench-net-\(name)", "\(name).conf")
                try? container.create()
                containers.append(container)
                contenders.append(startStop(container, name: name))
            }
        }
        contenders.append(
            Contender(
                name: "ip commands",
                detail: Self.ipSequence.map { $0.joined(separator: " ") }
                    .joined(separator: "; "),
                isSwiftLXC: false,
                body: { () throws(BenchError) in try Self.runIP(devNull: devNull, check: false) },
                cleanup: { Self.cleanUpIP(devNull: devNull) },
                check: { () throws(BenchError) in try Self.runIP(devNull: devNull, check: true) }))
        let measured = Harness.measure(contenders, settings: settings, label: id)

        both.contenders = measured.prefix(4).map { result in
            var result = result
            result.isSwiftLXC = result.name == "swiftlxc empty"
            return result
        }
        both.notes = [
            "veth.conf is empty.conf with lxc.net.0.type = veth, veth.pair = \(Self.pair), "
                + "flags = up, ipv4.address = 10.231.0.2/24, veth.ipv4.route = 10.231.0.2/32; "
                + "before timing, each veth container is checked for the host interface and route"
        ]
        if measured.count == 5 {
            var swiftlxc = measured[1].minus(
                measured[0], name: "swiftlxc veth - empty",
                detail: "paired runs: swiftlxc start + stop -k with veth.conf minus empty.conf")
            swiftlxc.isSwiftLXC = true
            let lxc = measured[3].minus(
                measured[2], name: "lxc veth - empty",
                detail: "paired runs: lxc-start -d + lxc-stop -k with veth.conf minus empty.conf")
            setup.contenders = [swiftlxc, lxc, measured[4]]
        }
        setup.notes = [
            "runtimes: median of run-by-run differences of the veth and empty contenders of "
                + "network.start (the same rounds, so run i of each saw the same machine); it "
                + "includes deleting the pair at stop. A start + stop takes tens of ms and "
                + "varies by several, so this is a difference of two noisy numbers: p10 and p90 "
                + "show how far one run can be trusted; network.log has the precise figure",
            "ip commands: the whole sequence, one ip process per step, ending with the "
                + "namespace and the pair deleted; \(settings.runs) runs after "
                + "\(settings.warmups) warm-ups",
        ]

        var traced: [Contender] = []
        for runtime in ["swiftlxc", "lxc"] {
            let log = "\(context.systemPath)/\(runtime)-trace.log"
            let config = "\(context.systemPath)/veth-trace-\(runtime).conf"
            do {
                try Self.writeTraceConfig(from: vethConfig, to: config, log: log, runtime: runtime)
            } catch {
                progress("network: \(error.message)")
                continue
            }
            let container = system(
                context, runtime, "bench-net-trace", "veth-trace-\(runtime).conf")
            try? container.create()
            containers.append(container)
            traced.append(logSpan(container, log: log))
        }
        let spans = Harness.measure(traced, settings: settings, label: "\(id).log")
        logged.contenders = spans
        let means = spans.compactMap { result -> String? in
            guard result.statistics != nil, !result.samples.isEmpty else { return nil }
            let mean = Double(result.samples.reduce(0, +)) / Double(result.samples.count)
            return "\(result.name) \(milliseconds(mean)) ms"
        }
        logged.notes = [
            "the same veth.conf with lxc.log.file set and the level raised (swiftlxc DEBUG, "
                + "lxc TRACE, the lowest that logs the lines used); one start + stop -k per "
                + "run, the span read from the log after the start returned",
            "swiftlxc: phase network minus phase placed, both logged by the start path in the "
                + "monitor around NetworkSetup (host phase, container phase); microseconds",
            "lxc: the parent's span from \"Allocated new network namespace id\" to \"Sent "
                + "network device name\" (lxc_create_network: veth, move, host route) plus the "
                + "child's from \"Received network device name\" to \"Finished setting up "
                + "network devices with kernel assigned names\" (rename, address, up). LXC's "
                + "log has whole milliseconds, truncated, so one sample can be off by up to 2 "
                + "ms and the median is a whole or half ms; the mean is not biased by that",
            "means: " + means.joined(separator: "; "),
        ]

        for container in containers { try? container.destroy() }
        return [setup, logged, both]
    }

    private func system(
        _ context: BenchContext, _ runtime: String, _ name: String, _ config: String
    ) -> SystemContainer {
        SystemContainer(
            runtime: runtime, name: name, lxcPath: "\(context.systemPath)/\(runtime)",
            configPath: "\(context.systemPath)/\(config)", rootfs: "\(context.systemPath)/rootfs",
            swiftlxcPath: context.swiftlxcPath, devNull: context.devNull.rawValue)
    }

    /// Start + stop -k of `container`; a veth container is checked for its host side first.
    private func startStop(_ container: SystemContainer, name: String) -> Contender {
        let devNull = container.devNull
        let tool = container.isSwiftLXC ? "swiftlxc start" : "lxc-start -d"
        return Contender(
            name: "\(container.isSwiftLXC ? "swiftlxc" : "lxc") \(name)",
            detail: "\(tool) + stop -k, \(name).conf", isSwiftLXC: container.isSwiftLXC,
            body: { () throws(BenchError) in
                try container.start()
                try container.stop()
            },
            cleanup: container.cleanUp,
            check: { () throws(BenchError) in
                try container.start()
                defer { try? container.stop() }
                guard name == "veth" else { return }
                try Self.checkHostSide(devNull: devNull)
            })
    }

    /// Start, read the network span from the log, stop -k.
    private func logSpan(_ container: SystemContainer, log: String) -> Contender {
        let devNull = container.devNull
        return .sampled(
            container.isSwiftLXC ? "swiftlxc log" : "lxc log",
            detail: "\(container.isSwiftLXC ? "swiftlxc start" : "lxc-start -d") of "
                + "\(container.configPath), span read from \(log)",
            isSwiftLXC: container.isSwiftLXC, cleanup: container.cleanUp
        ) { () throws(BenchError) -> UInt64 in
            do {
                _ = try FileDescriptor.open(log, O_WRONLY | O_CREAT | O_TRUNC)
            } catch {
                throw BenchError("truncate \(log): \(error)")
            }
            try container.start()
            defer { try? container.stop() }
            try Self.checkHostSide(devNull: devNull)
            let text: String
            do {
                text = try FileContents.readText(log)
            } catch {
                throw BenchError("read \(log): \(error)")
            }
            let span =
                container.isSwiftLXC ? try Self.swiftlxcSpan(text) : try Self.lxcSpan(text)
            return UInt64(max(0, span))
        }
    }

    /// The host interface and the host route that veth.conf asks for.
    static func checkHostSide(devNull: Int32) throws(BenchError) {
        guard access("/sys/class/net/\(pair)", F_OK) == 0 else {
            throw BenchError("no host interface \(pair) after start")
        }
        let routes = try programOutput(["ip", "route"], devNull: devNull)
        guard routes.contains("10.231.0.2 dev \(pair)") else {
            throw BenchError("no route to 10.231.0.2 via \(pair)")
        }
    }

    /// veth.conf with a log file and a log level that shows the lines the span is read from.
    static func writeTraceConfig(
        from source: String, to path: String, log: String, runtime: String
    ) throws(BenchError) {
        guard let text = try? FileContents.readText(source) else {
            throw BenchError("cannot read \(source)")
        }
        let level = runtime == "swiftlxc" ? "DEBUG" : "TRACE"
        var lines = text.split(separator: "\n").filter { !$0.hasPrefix("lxc.log.") }.map(
            String.init)
        lines += ["lxc.log.level = \(level)", "lxc.log.file = \(log)"]
        do {
            let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC)
            try fd.writeAll(lines.joined(separator: "\n") + "\n")
        } catch {
            throw BenchError("write \(path): \(error)")
        }
    }

    /// SwiftLXC's span in nanoseconds: `phase network X ms` minus `phase placed Y ms`.
    static func swiftlxcSpan(_ log: String) throws(BenchError) -> Double {
        func phase(_ name: String) throws(BenchError) -> Double {
            let marker = "phase \(name) "
            guard
                let line = log.split(separator: "\n").last(where: { $0.contains(marker) }),
                let range = line.firstRange(of: marker),
                let value = Double(line[range.upperBound...].prefix { $0 != " " })
            else { throw BenchError("swiftlxc log has no \"\(marker)… ms\" line") }
            return value
        }
        return (try phase("network") - phase("placed")) * 1e6
    }

    /// LXC's span in nanoseconds: the parent's network creation plus the child's setup, from
    /// the millisecond timestamps of the TRACE log.
    static func lxcSpan(_ log: String) throws(BenchError) -> Double {
        let lines = log.split(separator: "\n")
        func time(_ text: String, last: Bool = false) throws(BenchError) -> Double {
            let matches = lines.filter { $0.contains(text) }
            guard let line = last ? matches.last : matches.first,
                let stamp = line.split(separator: " ").map(String.init).first(where: {
                    $0.count == 18 && $0.dropFirst(14).first == "."
                }),
                let hours = Double(String(stamp.dropFirst(8).prefix(2))),
                let minutes = Double(String(stamp.dropFirst(10).prefix(2))),
                let seconds = Double(String(stamp.dropFirst(12).prefix(6)))
            else { throw BenchError("lxc log has no timestamped line with \"\(text)\"") }
            return ((hours * 60 + minutes) * 60 + seconds) * 1e9
        }
        let day = 86_400e9
        func span(_ from: Double, _ to: Double) -> Double {
            (to - from + day).truncatingRemainder(dividingBy: day)
        }
        let parent = span(
            try time("Allocated new network namespace id"),
            try time("lxc_network_send_to_child", last: true))
        let child = span(
            try time("lxc_network_recv_from_parent"),
            try time("Finished setting up network devices with kernel assigned names"))
        return parent + child
    }

    /// The `ip` steps that build what veth.conf asks for, then tear it down.
    static let ipSequence: [[String]] = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", pair, "type", "veth", "peer", "name", "\(pair)p"],
        ["ip", "link", "set", "\(pair)p", "netns", namespace, "name", "eth0"],
        ["ip", "-n", namespace, "addr", "add", "10.231.0.2/24", "dev", "eth0"],
        ["ip", "-n", namespace, "link", "set", "eth0", "up"],
        ["ip", "-n", namespace, "link", "set", "lo", "up"],
        ["ip", "link", "set", pair, "up"],
        ["ip", "route", "add", "10.231.0.2/32", "dev", pair],
        ["ip", "netns", "del", namespace],
    ]

    /// Runs the sequence; with `check`, verifies the address inside the namespace before it
    /// is deleted.
    static func runIP(devNull: Int32, check: Bool) throws(BenchError) {
        for step in ipSequence {
            if check, step[1] == "netns", step[2] == "del" {
                let addresses = try programOutput(
                    ["ip", "-n", namespace, "addr", "show", "eth0"], devNull: devNull)
                guard addresses.contains("10.231.0.2/24"), addresses.contains("UP") else {
                    throw BenchError("ip: eth0 in \(namespace) lacks its address or is down")
                }
            }
            try runProgram(step, devNull: devNull, checked: check)
        }
        // Deleting the namespace destroys eth0, and with it the host end of the pair; the
        // kernel does that asynchronously, so the next run waits for the name to be free.
        _ = waitFor(milliseconds: 1000) { access("/sys/class/net/\(pair)", F_OK) != 0 }
    }

    static func cleanUpIP(devNull: Int32) {
        _ = try? programOutput(["ip", "netns", "del", namespace], devNull: devNull)
        _ = try? programOutput(["ip", "link", "del", pair], devNull: devNull)
    }
}
