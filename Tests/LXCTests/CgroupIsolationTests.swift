import Glibc
import LXCRuntime
import LXCSystem
import Testing

@testable import LXC

/// The `swiftlxc` binary beside the test bundle.
private let swiftlxc: String = {
    let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
    return "/\(package)/.build/debug/swiftlxc"
}()

/// The mount point of every cgroup hierarchy this process sees, named ones included.
private func hierarchyMounts() -> [String] {
    let text = (try? FileContents.readText("/proc/self/mountinfo")) ?? ""
    return text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count,
            fields[dash + 1] == "cgroup" || fields[dash + 1] == "cgroup2"
        else { return nil }
        return String(fields[4])
    }
}

/// The directories named `relative` that exist in any hierarchy.
private func leftovers(_ relative: [String]) -> [String] {
    hierarchyMounts().flatMap { mount in relative.map { mount + "/" + $0 } }
        .filter { access($0, F_OK) == 0 }
}

/// `/proc/<pid>/cgroup`, keyed by the controller field (`pids`, `` for cgroup2).
private func cgroups(of pid: pid_t) -> [String: String] {
    let text = (try? FileContents.readText("/proc/\(pid)/cgroup")) ?? ""
    var result: [String: String] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3 { result[String(parts[1])] = String(parts[2]) }
    }
    return result
}

private func parent(of pid: pid_t) -> pid_t {
    let status = (try? FileContents.readText("/proc/\(pid)/status")) ?? ""
    return status.split(separator: "\n").first { $0.hasPrefix("PPid:") }
        .flatMap { pid_t($0.dropFirst(5).filter(\.isNumber)) } ?? -1
}

private func eventually(_ milliseconds: Int = 5000, _ condition: () -> Bool) -> Bool {
    for _ in 0..<(milliseconds / 10) {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A fresh lxcpath and cgroup names no other run uses, all removed when the test ends.
private final class IsolationFixture {
    let lxcpath: String
    let name: String
    let monitor: String
    let container: String
    let inner = "ns"

    init(_ tag: String) {
        let id = "\(tag)\(getpid())"
        lxcpath = "/tmp/swiftlxc-iso-\(id)"
        mkdir(lxcpath, 0o755)
        name = "iso\(id)"
        monitor = "swiftlxc-test.monitor/\(id)"
        container = "swiftlxc-test.payload/\(id)"
    }

    var items: [(String, String)] {
        [
            ("lxc.mount.auto", "proc:mixed sys:mixed"), ("lxc.net.0.type", "empty"),
            ("lxc.log.file", lxcpath + "/log"), ("lxc.log.level", "DEBUG"),
            ("lxc.cgroup.dir.monitor", monitor), ("lxc.cgroup.dir.container", container),
            ("lxc.cgroup.dir.container.inner", inner),
        ]
    }

    /// Every directory the runtime could have made, deepest first.
    var directories: [String] {
        [
            container + "/" + inner, monitor, container, "swiftlxc-test.monitor",
            "swiftlxc-test.payload",
        ]
    }

    func make(_ extra: [(String, String)] = []) throws -> Container {
        let container = Container(name: name, lxcpath: lxcpath)
        try container.create(rootfs: .inPlace(rootfs), items: items + extra)
        return container
    }

    deinit {
        let container = Container(name: name, lxcpath: lxcpath)
        if container.isRunning { try? container.stop() }
        for path in leftovers(directories) { rmdir(path) }
        _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", lxcpath]))
    }
}

/// LXC's `cgroup_advanced_isolation`: `lxc.cgroup.dir.monitor`, `.monitor.pivot`,
/// `.container` and `.container.inner`, with real containers and their monitors.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct CgroupIsolationTests {
    @Test func monitorContainerAndInnerCgroupsHoldTheirProcessesAndAreRemoved() throws {
        let fixture = IsolationFixture("place")
        let container = try fixture.make([("lxc.cgroup.pids.max", "77")])
        let seen = "/tmp/iso-cgroup-\(getpid())"
        defer { unlink(rootfs + seen) }
        try container.start(command: ["/bin/sh", "-c", "cat /proc/self/cgroup > \(seen); sleep 30"])
        let initPID = container.initPID
        let monitorPID = parent(of: initPID)
        #expect(monitorPID > 1)

        // The monitor sits in its own cgroup in every hierarchy with a controller.
        let monitorCgroups = cgroups(of: monitorPID)
        #expect(monitorCgroups["pids"] == "/" + fixture.monitor)
        #expect(monitorCgroups["memory"] == "/" + fixture.monitor)
        #expect(monitorCgroups[""] == "/" + fixture.monitor, "and in the unified hierarchy")
        // The init is in the inner cgroup below the container's.
        let payload = "/\(fixture.container)/\(fixture.inner)"
        let initCgroups = cgroups(of: initPID)
        #expect(initCgroups["pids"] == payload)
        #expect(initCgroups["freezer"] == payload)
        #expect(initCgroups[""] == payload)

        // The limit sits on the outer directory, which the container cannot see.
        #expect(
            try FileContents.readText("/sys/fs/cgroup/pids/\(fixture.container)/pids.max") == "77\n"
        )
        #expect(try FileContents.readText("/sys/fs/cgroup/pids/\(payload)/pids.max") == "max\n")
        #expect(try container.cgroupItem("pids.max") == "77")

        // Inside, the cgroup namespace's root is the inner cgroup.
        var inside = ""
        #expect(
            eventually {
                inside = (try? FileContents.readText(rootfs + seen)) ?? ""
                return !inside.isEmpty
            })
        let lines = inside.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines { #expect(line.hasSuffix(":/"), "\(line)") }

        try container.stop()
        #expect(leftovers(fixture.directories).isEmpty)
    }

    @Test func aRebootKeepsTheMonitorCgroupAndMakesTheContainerAgain() throws {
        let fixture = IsolationFixture("reboot")
        let container = try fixture.make([
            ("lxc.signal.halt", "SIGUSR1"), ("lxc.signal.reboot", "SIGTERM"),
        ])
        try container.start()
        let first = container.initPID
        let monitorPID = parent(of: first)
        #expect(try container.reboot(timeout: 20))
        let second = container.initPID
        #expect(second > 0 && second != first)
        #expect(parent(of: second) == monitorPID)
        #expect(cgroups(of: monitorPID)["pids"] == "/" + fixture.monitor)
        #expect(cgroups(of: second)["pids"] == "/\(fixture.container)/\(fixture.inner)")
        try container.stop()
        #expect(leftovers(fixture.directories).isEmpty)
    }

    @Test func aFailedStartLeavesNoMonitorOrContainerCgroup() throws {
        let fixture = IsolationFixture("fail")
        let container = try fixture.make([("lxc.cgroup.pids.max", "abc")])
        #expect {
            try container.start(command: ["/bin/true"])
        } throws: { error in
            "\(error)".contains("pids.max = abc")
        }
        #expect(container.state == .stopped)
        #expect(leftovers(fixture.directories).isEmpty)
    }

    @Test func theMonitorLeavesThroughThePivot() throws {
        let fixture = IsolationFixture("pivot")
        let pivot = "swiftlxc-test.pivot\(getpid())"
        defer {
            for path in leftovers([pivot + "/lxc.pivot", pivot]) {
                // The monitor may still be exiting inside it.
                _ = eventually { rmdir(path) == 0 || errno == ENOENT }
            }
        }
        let container = try fixture.make([("lxc.cgroup.dir.monitor.pivot", pivot)])
        try container.start(command: ["/bin/sleep", "30"])
        let monitorPID = parent(of: container.initPID)
        #expect(cgroups(of: monitorPID)["pids"] == "/" + fixture.monitor)
        try container.stop()
        #expect(leftovers(fixture.directories).isEmpty)
        // The pivot stays, as LXC leaves it: the monitor was in it as it exited.
        #expect(access("/sys/fs/cgroup/pids/\(pivot)/lxc.pivot", F_OK) == 0)
        #expect(access("/sys/fs/cgroup/unified/\(pivot)/lxc.pivot", F_OK) == 0)
    }

    @Test func aKilledMonitorsKeeperRemovesTheMonitorCgroupToo() throws {
        let fixture = IsolationFixture("killed")
        let container = try fixture.make()
        try container.start(command: ["/bin/sleep", "60"])
        let monitorPID = parent(of: container.initPID)
        #expect(cgroups(of: monitorPID)["pids"] == "/" + fixture.monitor)
        #expect(kill(monitorPID, SIGKILL) == 0)
        #expect(container.wait(for: .stopped, timeout: 10))
        #expect(
            eventually { leftovers(fixture.directories).isEmpty },
            "\(leftovers(fixture.directories))")
    }

    @Test func executeRunsInTheMonitorCgroupAndRemovesIt() throws {
        let fixture = IsolationFixture("exec")
        let null = try FileDescriptor.open("/dev/null", O_RDWR)
        let child = try Spawn.start(
            SpawnRequest(
                path: swiftlxc,
                arguments: [
                    "swiftlxc", "execute", "--rootfs", rootfs, "-n", fixture.name,
                    "-s", "lxc.cgroup.dir.monitor=\(fixture.monitor)",
                    "-s", "lxc.cgroup.dir.container=\(fixture.container)",
                    "-s", "lxc.cgroup.dir.container.inner=\(fixture.inner)",
                    "--", "/bin/sleep", "1",
                ],
                fileMap: [null.rawValue, null.rawValue, 2]))
        // The execute process is the monitor of its container.
        #expect(eventually { cgroups(of: child.pid)["pids"] == "/" + fixture.monitor })
        #expect(try child.wait() == .exited(0))
        #expect(leftovers(fixture.directories).isEmpty)
    }

    @Test func aForegroundStartPlacesTheCallingProcess() throws {
        let fixture = IsolationFixture("fg")
        let container = try fixture.make()
        // The CLI runs the monitor loop in its own process with -F.
        let null = try FileDescriptor.open("/dev/null", O_RDWR)
        let child = try Spawn.start(
            SpawnRequest(
                path: swiftlxc,
                arguments: [
                    "swiftlxc", "start", "-n", fixture.name, "-P", fixture.lxcpath, "-F", "--",
                    "/bin/sleep", "30",
                ],
                fileMap: [null.rawValue, null.rawValue, 2]))
        #expect(container.wait(for: .running, timeout: 10))
        #expect(cgroups(of: child.pid)["pids"] == "/" + fixture.monitor)
        #expect(parent(of: container.initPID) == child.pid)
        try container.stop()
        _ = try child.wait()
        #expect(leftovers(fixture.directories).isEmpty)
    }
}
