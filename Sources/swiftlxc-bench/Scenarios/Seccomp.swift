import Glibc
import LXCSystem
import Synchronization

/// The podman default seccomp profile: SwiftLXC's compile time alone, then what the profile
/// adds to `run` of /bin/true in SwiftLXC and crun (crun has no compile-only mode, so the
/// added cost of a run is the comparable number).
struct SeccompScenario: Scenario {
    let id = "seccomp"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        let devNull = context.devNull.rawValue
        let bundle = "\(context.peersDirectory)/seccomp"
        var compile = ScenarioResult(
            id: "\(id).compile", title: "seccomp: compile the podman default profile to BPF")
        var runs = ScenarioResult(
            id: "\(id).run", title: "seccomp: run /bin/true with and without the profile")
        var added = ScenarioResult(
            id: "\(id).added", title: "seccomp: time the profile adds to a run of /bin/true")
        let profile = "\(bundle)/profile.json"
        guard access("\(bundle)/config.json", R_OK) == 0, access(profile, R_OK) == 0 else {
            compile.skipped = "no \(bundle): run Scripts/peers.sh first"
            return [compile]
        }

        let compileCommand = ExternalCommand(
            path: context.swiftlxcPath,
            arguments: ["swiftlxc", "seccomp", "compile", profile, "--oci", "--bpf", "/dev/null"])
        compile.contenders = Harness.measure(
            [
                .command(
                    "swiftlxc seccomp compile", compileCommand, isSwiftLXC: true, devNull: devNull)
            ],
            settings: context.settings, label: compile.id)
        compile.notes = [
            "wall time of the command, process start included; no peer has a compile-only mode",
            "profile: \(profile), copied by Scripts/peers.sh from containers-common",
        ]

        var contenders: [Contender] = []
        for runtime in ["swiftlxc", "crun"] {
            let path = runtime == "swiftlxc" ? context.swiftlxcPath : ExternalCommand.find(runtime)
            guard let path else { continue }
            for (suffix, directory) in [("", context.bundlePath), (" +seccomp", bundle)] {
                let containerID = "swiftlxc-bench-seccomp-\(runtime)"
                let command = ExternalCommand(
                    path: path, arguments: [runtime, "run", "--bundle", directory, containerID])
                let delete =
                    runtime == "crun"
                    ? ExternalCommand(
                        path: path, arguments: [runtime, "delete", "-f", containerID])
                    : nil
                contenders.append(
                    .command(
                        runtime + suffix, command, isSwiftLXC: runtime == "swiftlxc",
                        devNull: devNull, cleanup: delete))
            }
        }
        let measured = Harness.measure(contenders, settings: context.settings, label: runs.id)
        // Only the plain swiftlxc run is the reference of the run group.
        runs.contenders = measured.map { result in
            var result = result
            result.isSwiftLXC = result.name == "swiftlxc"
            return result
        }
        runs.notes = [
            "+seccomp: the same bundle with linux.seccomp set to the profile, as the runtime's "
                + "own parser reads it (containers-common format: names, includes, excludes)"
        ]

        for index in stride(from: 0, to: measured.count - 1, by: 2) {
            let plain = measured[index]
            let filtered = measured[index + 1]
            added.contenders.append(
                filtered.minus(
                    plain, name: plain.name,
                    detail: "paired runs: \(filtered.name) minus \(plain.name)"))
        }
        added.notes = [
            "median of the run-by-run differences (runs alternated, so run i of each saw the "
                + "same machine); it includes parsing the profile, compiling it and loading it"
        ]
        return [compile, runs, added]
    }
}

/// One system call's round trip through the seccomp notifier, per call: the container's
/// policy sends `getppid` to the notifier, the workload (`Scripts/bench/notify-loop.c`) calls
/// it in a tight loop, the monitor forwards each notification to a proxy in LXC's wire
/// format, and the proxy's answer is what the call returns. SwiftLXC's `start -F` and LXC's
/// `lxc-start -F` run the same config against the same proxy; SwiftLXC's monitor answering by
/// itself (no proxy configured) is measured alongside.
struct SeccompNotifyScenario: Scenario {
    let id = "seccomp-notify"
    /// Calls per container start; the workload reports their mean.
    static let calls = 2000
    static let monitorOnly = "swiftlxc start -F, no proxy"

    func run(_ context: BenchContext) -> [ScenarioResult] {
        let directory = "\(context.peersDirectory)/seccomp-notify"
        let devNull = context.devNull.rawValue
        var proxied = ScenarioResult(
            id: id, title: "seccomp notify: one getppid round trip through the proxy")
        var monitor = ScenarioResult(
            id: "\(id).monitor", title: "seccomp notify: one getppid answered by the monitor")
        let settings = context.settings.capped(runs: 20, warmups: 2)
        proxied.unit = .microseconds
        monitor.unit = .microseconds
        proxied.settings = settings
        monitor.settings = settings
        let rootfs = "\(directory)/rootfs"
        guard access("\(rootfs)/bin/notify-loop", X_OK) == 0,
            access("\(directory)/proxy.conf", R_OK) == 0
        else {
            proxied.skipped = "no \(rootfs)/bin/notify-loop: run Scripts/peers.sh first (needs gcc)"
            return [proxied]
        }

        let proxy: NotifyProxy
        do {
            proxy = try NotifyProxy(path: "\(directory)/proxy.sock")
        } catch {
            proxied.skipped = "the bench's seccomp proxy: \(error.message)"
            return [proxied]
        }
        defer { proxy.stop() }

        let workload = NotifyWorkload(rootfs: rootfs, devNull: devNull)
        // The runtime, its config in `directory`, and the contender's name.
        let runs = [
            ("swiftlxc", "proxy", "swiftlxc start -F"), ("lxc", "proxy", "lxc-start -F"),
            ("swiftlxc", "monitor", Self.monitorOnly),
        ]
        var containers: [SystemContainer] = []
        var contenders: [Contender] = []
        var missing: [ContenderResult] = []
        for (runtime, config, name) in runs {
            let isSwiftLXC = runtime == "swiftlxc"
            guard let tool = isSwiftLXC ? context.swiftlxcPath : ExternalCommand.find("lxc-start")
            else {
                missing.append(
                    ContenderResult(
                        name: name, detail: "lxc-start", isSwiftLXC: false,
                        outcome: .skipped("not installed")))
                continue
            }
            let container = SystemContainer(
                runtime: runtime, name: "bench-notify-\(config)",
                lxcPath: "\(directory)/\(runtime)", configPath: "\(directory)/\(config).conf",
                rootfs: rootfs, swiftlxcPath: context.swiftlxcPath, devNull: devNull)
            try? container.create()
            containers.append(container)
            let viaProxy = config == "proxy"
            let start = ExternalCommand(
                path: tool,
                arguments: (isSwiftLXC ? ["swiftlxc", "start"] : ["lxc-start"])
                    + ["-n", container.name, "-P", container.lxcPath, "-F", "--"]
                    + workload.command(expecting: viaProxy ? String(NotifyProxy.answer) : "ENOSYS"))
            contenders.append(
                .sampled(
                    name, detail: start.commandLine, isSwiftLXC: isSwiftLXC && viaProxy,
                    cleanup: container.cleanUp
                ) { () throws(BenchError) -> UInt64 in
                    let before = proxy.answered
                    let nanoseconds = try workload.run(start)
                    // The workload checked every answer; the proxy's count shows they came
                    // through it and not from a fallback.
                    let through = proxy.answered - before
                    if viaProxy && through < Self.calls {
                        throw BenchError(
                            "\(name): the proxy answered \(through) of \(Self.calls) calls")
                    }
                    return nanoseconds
                })
        }

        let measured = Harness.measure(contenders, settings: settings, label: id)
        for container in containers { try? container.destroy() }
        proxied.contenders = measured.filter { $0.name != Self.monitorOnly } + missing
        // The monitor's own answers have no peer: LXC has no such path.
        monitor.contenders = measured.filter { $0.name == Self.monitorOnly }.map {
            var result = $0
            result.isSwiftLXC = true
            return result
        }

        let host = (try? workload.runOnHost()).map { "\(fixed(Double($0) / 1000, 2)) µs" }
        proxied.notes = [
            "one sample per container start: the mean of \(Self.calls) getppid calls after 20 "
                + "untimed ones, timed inside the container by \(rootfs)/bin/notify-loop; each "
                + "call's answer is checked",
            "policy \(directory)/policy (getppid notify); config \(directory)/proxy.conf for both "
                + "tools (lxc.seccomp.notify.proxy = unix:\(directory)/proxy.sock, a cookie)",
            "the proxy is a thread of the bench: one datagram in (header, seccomp_notif, "
                + "seccomp_notif_resp, cookie, three fds), the reply answers \(NotifyProxy.answer) "
                + "with error 0; a run fails unless the proxy answered every call",
            "getppid without a filter, on the host: \(host ?? "not measured")",
        ]
        monitor.notes = [
            "the same container with \(directory)/monitor.conf, no lxc.seccomp.notify.proxy: "
                + "SwiftLXC's monitor answers each notification ENOSYS by itself; LXC 5.0.2 does "
                + "not watch the listener without a proxy, so the call would wait forever"
        ]
        return [proxied, monitor]
    }
}

/// `notify-loop` in the scenario's rootfs: run in a container, or on the host for the
/// unfiltered cost of the call.
struct NotifyWorkload {
    var rootfs: String
    var devNull: Int32
    /// Where the workload writes its result, inside the container.
    let output = "/tmp/notify-loop.out"

    /// The workload's argv inside the container.
    func command(expecting answer: String) -> [String] {
        ["/bin/notify-loop", output, String(SeccompNotifyScenario.calls), answer]
    }

    /// Runs `start` (which returns when the workload has ended) and returns the workload's
    /// nanoseconds per call, or its own words when a call came back wrong. The tool's output
    /// is kept for its error: the workload times itself, so capturing costs the sample nothing.
    func run(_ start: ExternalCommand) throws(BenchError) -> UInt64 {
        unlink(rootfs + output)
        try start.check(devNull: devNull)
        return try result(rootfs + output)
    }

    /// The call without any filter, the bench being its parent.
    func runOnHost() throws(BenchError) -> UInt64 {
        let path = "/tmp/swiftlxc-bench-notify-\(getpid()).out"
        defer { unlink(path) }
        let command = ExternalCommand(
            path: "\(rootfs)/bin/notify-loop",
            arguments: ["notify-loop", path, String(SeccompNotifyScenario.calls), String(getpid())])
        try command.runQuietly(devNull: devNull)
        return try result(path)
    }

    private func result(_ path: String) throws(BenchError) -> UInt64 {
        guard let text = try? FileContents.readText(path) else {
            throw BenchError("the workload wrote no \(path)")
        }
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        guard line.hasPrefix("ok "), let value = Double(line.dropFirst(3)) else {
            throw BenchError("notify-loop: \(line)")
        }
        return UInt64(value.rounded())
    }
}

/// LXC's seccomp proxy, as small as one can be: it listens on a `SOCK_SEQPACKET` path, takes
/// each monitor's connection in turn, and answers every notification datagram with
/// `answer`, error 0. It runs on its own thread only while the scenario runs; that thread
/// never forks, and the bench's spawns exec at once.
final class NotifyProxy: @unchecked Sendable {
    /// What every proxied `getppid` returns; a container's init would see 0.
    static let answer: Int64 = 4242
    let path: String
    private let listener: FileDescriptor
    private let stopLine: Pipe
    private let count = Atomic<Int>(0)
    private var thread: BlockingThread<Void>?

    /// Notifications answered so far.
    var answered: Int { count.load(ordering: .acquiring) }

    init(path: String) throws(BenchError) {
        self.path = path
        do {
            stopLine = try Pipe()
            listener = FileDescriptor(
                owning: try check(
                    socket(
                        AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
                    "socket", path))
            unlink(path)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                throw SyscallError(.ERANGE, call: "bind", object: path)
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            let length = socklen_t(MemoryLayout<sockaddr_un>.size)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener.rawValue, $0, length)
                }
            }
            _ = try check(bound, "bind", path)
            _ = try check(listen(listener.rawValue, 8), "listen", path)
        } catch {
            throw BenchError("\(error)")
        }
        thread = BlockingThread { [self] in serve() }
    }

    /// Ends the thread and removes the socket.
    func stop() {
        var byte: UInt8 = 1
        _ = write(stopLine.writeEnd.rawValue, &byte, 1)
        _ = thread?.join()
        thread = nil
        unlink(path)
    }

    /// Waits until `fd` is readable; false once `stop` has been called.
    private func waitReadable(_ fd: Int32) -> Bool {
        var fds = [
            pollfd(fd: stopLine.readEnd.rawValue, events: Int16(POLLIN), revents: 0),
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
        ]
        while poll(&fds, 2, -1) < 0 {}
        return fds[0].revents == 0
    }

    private func serve() {
        while waitReadable(listener.rawValue) {
            guard let connection = try? listener.accept() else { continue }
            while waitReadable(connection.rawValue) {
                // The three descriptors (/proc/PID, its mem, the listener) close with the list.
                guard let (bytes, _) = try? connection.receive(capacity: 1024, maxDescriptors: 3),
                    let reply = Self.reply(to: bytes)
                else { break }
                _ = try? connection.send(reply)
                count.add(1, ordering: .releasing)
            }
        }
    }

    /// The header and the notification as they came, then the response: the request's id,
    /// `answer`, error 0, flags 0, padded to the response size the header names.
    private static func reply(to request: [UInt8]) -> [UInt8]? {
        guard request.count >= 32 else { return nil }
        let sizes = request.withUnsafeBytes {
            (
                Int($0.loadUnaligned(fromByteOffset: 16, as: UInt16.self)),
                Int($0.loadUnaligned(fromByteOffset: 18, as: UInt16.self))
            )
        }
        guard sizes.1 >= 24, request.count >= 32 + sizes.0 + sizes.1 else { return nil }
        var reply = Array(request[0..<(32 + sizes.0)])
        reply.append(contentsOf: request[(32 + sizes.0)..<(32 + sizes.0 + 8)])
        withUnsafeBytes(of: answer) { reply.append(contentsOf: $0) }
        reply.append(contentsOf: [UInt8](repeating: 0, count: sizes.1 - 16))
        return reply
    }
}
