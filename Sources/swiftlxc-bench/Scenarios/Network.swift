import Glibc
import LXCSystem

/// The network setup of one container: a veth pair, the peer moved into the container's
/// network namespace, an address, a host route, the links up. SwiftLXC's share is the start
/// and stop of a container with `lxc.net.0.type = veth` minus the same with `empty`; the peer
/// is the `ip` command sequence that does the same work on a fresh `ip netns`.
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
        let settings = context.settings.capped(runs: 50, warmups: 3)
        both.settings = settings
        setup.settings = settings
        let vethConfig = "\(context.systemPath)/veth.conf"
        guard access(vethConfig, R_OK) == 0 else {
            setup.skipped = "no \(vethConfig): run Scripts/peers.sh first"
            return [setup]
        }

        var contenders: [Contender] = []
        for (name, config) in [("empty", "empty.conf"), ("veth", "veth.conf")] {
            let container = SystemContainer(
                runtime: "swiftlxc", name: "bench-net-\(name)",
                lxcPath: "\(context.systemPath)/swiftlxc",
                configPath: "\(context.systemPath)/\(config)",
                rootfs: "\(context.systemPath)/rootfs", swiftlxcPath: context.swiftlxcPath,
                devNull: devNull)
            try? container.create()
            let veth = name == "veth"
            contenders.append(
                Contender(
                    name: "swiftlxc \(name)",
                    detail: "swiftlxc start + stop -k, \(config)", isSwiftLXC: true,
                    body: { () throws(BenchError) in
                        try container.start()
                        try container.stop()
                    },
                    cleanup: container.cleanUp,
                    check: { () throws(BenchError) in
                        try container.start()
                        defer { try? container.stop() }
                        guard veth else { return }
                        guard access("/sys/class/net/\(Self.pair)", F_OK) == 0 else {
                            throw BenchError("no host interface \(Self.pair) after start")
                        }
                        let routes = try programOutput(["ip", "route"], devNull: devNull)
                        guard routes.contains("10.231.0.2 dev \(Self.pair)") else {
                            throw BenchError("no route to 10.231.0.2 via \(Self.pair)")
                        }
                    }))
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
        for name in ["empty", "veth"] {
            let container = SystemContainer(
                runtime: "swiftlxc", name: "bench-net-\(name)",
                lxcPath: "\(context.systemPath)/swiftlxc", configPath: "",
                rootfs: "", swiftlxcPath: context.swiftlxcPath, devNull: devNull)
            try? container.destroy()
        }
        both.contenders = measured.prefix(2).map { result in
            var result = result
            result.isSwiftLXC = result.name == "swiftlxc empty"
            return result
        }
        both.notes = [
            "veth.conf is empty.conf with lxc.net.0.type = veth, veth.pair = \(Self.pair), "
                + "flags = up, ipv4.address = 10.231.0.2/24, veth.ipv4.route = 10.231.0.2/32"
        ]

        if measured.count == 3 {
            var difference = measured[1].minus(
                measured[0], name: "swiftlxc veth - empty",
                detail: "paired runs: start + stop -k with veth.conf minus with empty.conf")
            difference.isSwiftLXC = true
            setup.contenders = [difference, measured[2]]
        }
        setup.notes = [
            "swiftlxc: median of run-by-run differences of the two start + stop -k contenders "
                + "of network.start (alternated runs); it includes deleting the pair at stop",
            "ip commands: the whole sequence, one ip process per step, ending with the "
                + "namespace and the pair deleted; \(settings.runs) runs after "
                + "\(settings.warmups) warm-ups",
        ]
        return [setup, both]
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
