import Glibc
import LXCSystem
import Testing

@testable import LXC

/// `cgroup2_auto_mounting` and `environment_runtime_hooks` on real containers.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct AutoMountEnvTests {
    /// Runs `script` with `sh -c` in a container with `items`; returns its stdout and status.
    private func runShell(_ name: String, items: [(String, String)], _ script: String) throws
        -> (output: String, status: TerminationStatus)
    {
        let pipe = try Pipe()
        var options = ExecuteOptions(
            name: "\(name)\(getpid())", rootfs: rootfs,
            items: [("lxc.net.0.type", "empty")] + items, command: ["/bin/sh", "-c", script])
        options.stdio = [-1, pipe.writeEnd.rawValue, 2]
        let status = try execute(options)
        try pipe.writeEnd.close()
        return (String(decoding: try pipe.readEnd.readAll(), as: UTF8.self), status)
    }

    /// The mountinfo line of `/sys/fs/cgroup` split into its fields.
    private func cgroupMountFields(_ output: String) -> [String]? {
        output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first {
            $0.count > 4 && $0[4] == "/sys/fs/cgroup"
        }
    }

    private let probe =
        "grep ' /sys/fs/cgroup ' /proc/self/mountinfo; echo procs; cat /sys/fs/cgroup/cgroup.procs"

    @Test func cgroup2MountsTheContainersOwnCgroupAtSysFsCgroup() throws {
        let (output, status) = try runShell(
            "cg2rw", items: [("lxc.mount.auto", "proc:mixed sys:mixed cgroup2")], probe)
        #expect(status == .exited(0))
        let fields = try #require(cgroupMountFields(output), "\(output)")
        let dash = try #require(fields.firstIndex(of: "-"))
        #expect(fields[dash + 1] == "cgroup2")
        // In the container's cgroup namespace the mount's root is "/": the container's cgroup.
        #expect(fields[3] == "/")
        #expect(fields[5].hasPrefix("rw,"))
        // Its cgroup.procs lists the container's processes, with its pid 1, and no host pid.
        let procs = output.split(separator: "\n").drop { $0 != "procs" }.dropFirst()
        #expect(procs.contains("1"))
        #expect(procs.allSatisfy { Int($0).map { $0 < 100 } ?? false })
    }

    @Test func cgroup2ReadOnlyMountsItReadOnly() throws {
        for token in ["cgroup2:ro", "cgroup2:ro:force"] {
            let (output, status) = try runShell(
                "cg2ro", items: [("lxc.mount.auto", "proc:mixed sys:mixed \(token)")],
                probe + "; mkdir /sys/fs/cgroup/child 2>/dev/null && echo made || echo refused")
            #expect(status == .exited(0))
            let fields = try #require(cgroupMountFields(output), "\(output)")
            #expect(fields[5].hasPrefix("ro,"), "\(token)")
            #expect(output.hasSuffix("refused\n"), "\(token)")
        }
    }

    @Test func badVariantsAndAKeptCgroupNamespaceAreRefusedNamingTheKey() throws {
        let cases: [([(String, String)], String)] = [
            ([("lxc.mount.auto", "cgroup2:rw")], "invalid filesystem to automount cgroup2:rw"),
            (
                [("lxc.mount.auto", "proc cgroup2"), ("lxc.namespace.keep", "cgroup")],
                "cgroup2 needs a cgroup namespace"
            ),
        ]
        for (items, message) in cases {
            #expect {
                _ = try runShell("cg2bad", items: items, "true")
            } throws: { error in
                let text = "\(error)"
                return text.contains("lxc.mount.auto") && text.contains(message)
            }
            #expect(access("/sys/fs/cgroup/unified/lxc.payload.cg2bad\(getpid())", F_OK) != 0)
        }
    }

    @Test func runtimeVariablesReachTheInitAndHooksVariablesTheHooks() throws {
        let log = "/tmp/swiftlxc-envhook-\(getpid()).log"
        let hook = "/tmp/swiftlxc-envhook-\(getpid()).sh"
        try FileContents.write(
            "#!/bin/sh\nenv > \(log)\n", to: hook, flags: O_WRONLY | O_CREAT | O_TRUNC)
        chmod(hook, 0o755)
        defer {
            unlink(log)
            unlink(hook)
        }
        let (output, status) = try runShell(
            "envrh",
            items: [
                ("lxc.environment", "SWIFTLXC_BOTH=b"),
                ("lxc.environment.runtime", "SWIFTLXC_RUN=r"),
                ("lxc.environment.hooks", "SWIFTLXC_HOOK=h"), ("lxc.hook.pre-start", hook),
            ], "env")
        #expect(status == .exited(0))
        let initEnv = Set(output.split(separator: "\n").map(String.init))
        #expect(initEnv.contains("SWIFTLXC_BOTH=b"))
        #expect(initEnv.contains("SWIFTLXC_RUN=r"))
        #expect(!initEnv.contains { $0.hasPrefix("SWIFTLXC_HOOK=") })
        let hookEnv = Set(try FileContents.readText(log).split(separator: "\n").map(String.init))
        #expect(hookEnv.contains("SWIFTLXC_BOTH=b"))
        #expect(hookEnv.contains("SWIFTLXC_HOOK=h"))
        #expect(!hookEnv.contains { $0.hasPrefix("SWIFTLXC_RUN=") })
        #expect(hookEnv.contains("LXC_HOOK_TYPE=pre-start"))
    }
}
