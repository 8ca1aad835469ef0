import Glibc
import LXCSystem
import Synchronization
import Testing

@testable import LXCNetwork

/// A network namespace held by a `sleep` spawned into it; the sleeper is killed and reaped
/// when the value ends.
final class TestNamespace {
    let sleeper: PIDFD
    let fd: FileDescriptor

    init() throws {
        let child = try Spawn.start(
            SpawnRequest(
                path: "/bin/sleep", arguments: ["sleep", "60"], fileMap: [-1, -1, 2],
                namespaces: NamespaceSet([.network])))
        fd = try FileDescriptor.open("/proc/\(child.pid)/ns/net", O_RDONLY)
        sleeper = child
    }

    var pid: pid_t { sleeper.pid }

    /// Runs `arguments` inside the namespace with `nsenter -t <pid> -n`.
    func run(_ arguments: [String]) throws -> (output: String, status: TerminationStatus) {
        try Shell.run(["/usr/bin/nsenter", "-t", String(pid), "-n"] + arguments)
    }

    deinit {
        try? sleeper.signal(SIGKILL)
        _ = try? sleeper.wait()
    }
}

enum Shell {
    /// Runs `arguments` (an absolute program path first) and captures stdout and stderr.
    static func run(_ arguments: [String]) throws -> (output: String, status: TerminationStatus) {
        let pipe = try Pipe()
        let child = try Spawn.start(
            SpawnRequest(
                path: arguments[0], arguments: arguments,
                environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                fileMap: [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue]))
        try pipe.writeEnd.close()
        let output = try pipe.readEnd.readAll()
        return (String(decoding: output, as: UTF8.self), try child.wait())
    }

    /// `ip` with `arguments`; its output.
    @discardableResult
    static func ip(_ arguments: String) -> String {
        let words = arguments.split(separator: " ").map(String.init)
        return (try? run(["/sbin/ip"] + words).output) ?? ""
    }

    /// Whether the host has a device called `name` (`ip -o link` shows `N: name@peer:`).
    static func hostHas(_ name: String) -> Bool {
        ip("-o link").contains(": \(name)@") || ip("-o link").contains(": \(name):")
    }

    /// `ip -o link`, which a failed setup must leave unchanged.
    static func linkSnapshot() -> String { ip("-o link") }
}

/// Unique short device names: `sw`, this process's pid in base 36, a counter, a role letter.
enum Names {
    private static let counter = Atomic<Int>(0)

    static func next(_ role: String) -> String {
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let pid = String(getpid() % 46_656, radix: 36)
        return "sw\(pid)\(String(count, radix: 36))\(role)"
    }
}

/// Devices to delete from the host at the end of a test, whatever happened.
final class HostCleanup {
    private var devices: [String] = []

    func add(_ name: String) { devices.append(name) }

    deinit {
        for device in devices.reversed() { Shell.ip("link del \(device)") }
    }
}

/// What this kernel can build; CI kernels differ (this project's VM has no ipvlan, 802.1q,
/// dummy or bridge VLAN filtering).
enum KernelSupport {
    /// Whether rtnetlink knows the link kind (`Unknown device type` otherwise).
    static func has(_ kind: String) -> Bool {
        let probe = Names.next("k")
        let output =
            (try? Shell.run(["/sbin/ip", "link", "add", probe, "type", kind]).output) ?? ""
        Shell.ip("link del \(probe)")
        return !output.contains("Unknown device type")
    }

    static let ipvlan = has("ipvlan")
    static let vlan = has("vlan")

    static let bridgeVLANFiltering: Bool = {
        let probe = Names.next("k")
        let status = try? Shell.run(
            ["/sbin/ip", "link", "add", probe, "type", "bridge", "vlan_filtering", "1"]
        ).status
        Shell.ip("link del \(probe)")
        return status == .exited(0)
    }()
}

extension HostCleanup {
    /// A veth pair on the host to stand in for a physical parent device; returns its first end.
    func hostPair(_ name: String) -> String {
        add(name)
        Shell.ip("link add \(name) type veth peer name \(name)x")
        Shell.ip("link set \(name) up")
        return name
    }
}

/// Every test that creates host devices, run one at a time: the failure tests compare the
/// host's whole `ip -o link` before and after, which a concurrent test's devices would
/// disturb.
@Suite(.serialized, .enabled(if: getuid() == 0, "creating network devices needs root"))
struct HostNetworkTests {}
