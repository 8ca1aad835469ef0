import Glibc
import LXCRuntime
import LXCSystem
import Testing

@testable import LXC

private let package =
    "/" + String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
private let swiftlxc = package + "/.build/debug/swiftlxc"
/// Runs its arguments in a new mount namespace whose only cgroup mount is cgroup2 at
/// /sys/fs/cgroup: a pure-unified host, made for real in a child process.
private let pureCgroup2 = package + "/Scripts/pure-cgroup2.sh"

/// Cgroup mounts this process sees: (file system, mount point).
private func cgroupMounts() -> [(type: String, path: String)] {
    let text = (try? FileContents.readText("/proc/self/mountinfo")) ?? ""
    return text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count,
            fields[dash + 1] == "cgroup" || fields[dash + 1] == "cgroup2"
        else { return nil }
        return (String(fields[dash + 1]), String(fields[4]))
    }
}

/// The unified hierarchy as this (hybrid or pure) process sees it: the pure-cgroup2 child
/// mounts the same hierarchy, so its cgroups show up here.
private let unified = cgroupMounts().first { $0.type == "cgroup2" }?.path ?? "/sys/fs/cgroup"

private func unifiedOffers(_ controller: String) -> Bool {
    let text = (try? FileContents.readText(unified + "/cgroup.controllers")) ?? ""
    return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains { $0 == controller }
}

private func leftovers(_ relative: [String]) -> [String] {
    cgroupMounts().flatMap { mount in relative.map { mount.path + "/" + $0 } }
        .filter { access($0, F_OK) == 0 }
}

/// Runs a command to its end; its exit status and what it wrote to stdout and stderr.
private func run(_ arguments: [String]) throws -> (Int32, String) {
    let pipe = try Pipe()
    let child = try Spawn.start(
        SpawnRequest(
            path: arguments[0], arguments: arguments,
            fileMap: [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue]))
    try pipe.writeEnd.close()
    let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
    return (try child.wait().shellStatus, output)
}

private func cgroupOf(_ pid: pid_t, controllers: String = "") -> String? {
    let text = (try? FileContents.readText("/proc/\(pid)/cgroup")) ?? ""
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3 && parts[1] == controllers { return String(parts[2]) }
    }
    return nil
}

private final class PureFixture {
    let lxcpath: String
    let name: String

    init(_ tag: String) {
        lxcpath = "/tmp/swiftlxc-pure-\(tag)\(getpid())"
        mkdir(lxcpath, 0o755)
        name = "pure\(tag)\(getpid())"
    }

    var log: String { (try? FileContents.readText(lxcpath + "/log")) ?? "" }

    func make(_ extra: [(String, String)] = []) throws -> Container {
        let container = Container(name: name, lxcpath: lxcpath)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.mount.auto", "proc:mixed"), ("lxc.net.0.type", "empty"),
                ("lxc.log.file", lxcpath + "/log"), ("lxc.log.level", "DEBUG"),
            ] + extra)
        return container
    }

    /// `swiftlxc start` on the pure-cgroup2 view; its monitor stays there.
    func start(_ command: [String]) throws -> (Int32, String) {
        try run([pureCgroup2, swiftlxc, "start", "-n", name, "-P", lxcpath, "--"] + command)
    }

    deinit {
        let container = Container(name: name, lxcpath: lxcpath)
        if container.isRunning { try? container.stop() }
        _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", lxcpath]))
    }
}

/// LXC's `cgroup2` extension: containers on a host whose only cgroup mount is cgroup2.
@Suite(
    .enabled(if: getuid() == 0, "starting containers and mounting cgroup2 need root"),
    .enabled(if: access("/usr/bin/unshare", X_OK) == 0, "needs unshare(1) from util-linux"),
    .serialized)
struct PureCgroup2Tests {
    @Test func containerIsPlacedFrozenKilledAndRemovedInTheUnifiedTree() throws {
        let fixture = PureFixture("life")
        let container = try fixture.make()
        let (status, output) = try fixture.start(["/bin/sh", "-c", "sleep 1000 & exec sleep 1000"])
        #expect(status == 0, "\(output)")
        #expect(
            fixture.log.contains("cgroup layout: pure cgroup2, unified at /sys/fs/cgroup"),
            "the monitor detects a pure cgroup2 host")

        // Placed in the unified hierarchy only: no v1 hierarchy was visible to the monitor.
        let initPID = container.initPID
        let directory = "lxc.payload.\(fixture.name)"
        #expect(cgroupOf(initPID) == "/" + directory)
        let procs = (try? FileContents.readText("\(unified)/\(directory)/cgroup.procs")) ?? ""
        #expect(procs.split(separator: "\n").contains { pid_t($0) == initPID })
        let v1 = cgroupMounts().filter { $0.type == "cgroup" }.map { $0.path + "/" + directory }
        #expect(v1.allSatisfy { access($0, F_OK) != 0 })

        // cgroup.freeze, confirmed by the kernel's cgroup.events.
        try container.freeze()
        #expect(container.state == .frozen)
        #expect(
            try FileContents.readText("\(unified)/\(directory)/cgroup.events").contains("frozen 1"))
        try container.unfreeze()
        #expect(container.state == .running)
        #expect(
            try FileContents.readText("\(unified)/\(directory)/cgroup.events").contains("frozen 0"))

        // Statistics: cgroup2's cpu.stat is there with or without the cpu controller.
        let stats = try container.cgroupStatistics()
        #expect(!stats.contains("\"usage_ns\":null"), "\(stats)")

        try container.stop()
        #expect(fixture.log.contains("write /sys/fs/cgroup/\(directory)/cgroup.kill = 1"))
        #expect(leftovers([directory]).isEmpty)
    }

    @Test func bpfDeviceProgramDeniesADevice() throws {
        let (status, output) = try run([
            pureCgroup2, swiftlxc, "execute", "--rootfs", rootfs, "-n", "purebpf\(getpid())",
            "-s", "lxc.cgroup2.devices.deny=c 1:3 rwm", "-s", "lxc.mount.auto=proc cgroup:mixed",
            "--",
            "/bin/sh", "-c",
            // Errors go to /dev/zero: a redirect to /dev/null would be denied itself.
            "cat /dev/null 2>/dev/zero && echo null-open || echo null-denied; "
                + "head -c1 /dev/zero >/dev/zero && echo zero-open; "
                + "grep -o ' - cgroup2* ' /proc/self/mountinfo",
        ])
        #expect(status == 0)
        // The container's cgroup mount is the one cgroup2 hierarchy, as on the host.
        #expect(output == "null-denied\nzero-open\n - cgroup2 \n")
        #expect(leftovers(["lxc.payload.purebpf\(getpid())"]).isEmpty)
    }

    @Test func advancedIsolationOnPureCgroup2() throws {
        let fixture = PureFixture("iso")
        let monitor = "swiftlxc-pure.monitor\(getpid())"
        let payload = "swiftlxc-pure.payload\(getpid())"
        let container = try fixture.make([
            ("lxc.cgroup.dir.monitor", monitor), ("lxc.cgroup.dir.container", payload),
            ("lxc.cgroup.dir.container.inner", "ns"),
        ])
        let (status, output) = try fixture.start(["/bin/sleep", "1000"])
        #expect(status == 0, "\(output)")
        let initPID = container.initPID
        let status2 = (try? FileContents.readText("/proc/\(initPID)/status")) ?? ""
        let monitorPID =
            status2.split(separator: "\n").first { $0.hasPrefix("PPid:") }
            .flatMap { pid_t($0.dropFirst(5).filter(\.isNumber)) } ?? -1
        #expect(cgroupOf(monitorPID) == "/" + monitor)
        #expect(cgroupOf(initPID) == "/\(payload)/ns")
        try container.stop()
        #expect(leftovers([payload + "/ns", payload, monitor]).isEmpty)
    }

    @Test(
        .enabled(
            if: unifiedOffers("hugetlb"),
            "hugetlb is bound to a v1 hierarchy here, so the pure-cgroup2 view cannot offer it"))
    func hugetlbLimitLandsOnTheUnifiedCgroup() throws {
        let fixture = PureFixture("huge")
        let container = try fixture.make([("lxc.cgroup2.hugetlb.2MB.max", "4194304")])
        let (status, output) = try fixture.start(["/bin/sleep", "1000"])
        #expect(status == 0, "\(output)")
        let directory = "lxc.payload.\(fixture.name)"
        #expect(try FileContents.readText("\(unified)/\(directory)/hugetlb.2MB.max") == "4194304\n")
        #expect(try container.cgroupItem("hugetlb.2MB.max") == "4194304")
        try container.stop()
        #expect(leftovers([directory]).isEmpty)
    }

    @Test(
        .enabled(
            if: !unifiedOffers("hugetlb"),
            "hugetlb is on the unified hierarchy here; the limit itself is tested instead"))
    func aControllerBoundToV1IsRefusedByName() throws {
        let fixture = PureFixture("nohuge")
        _ = try fixture.make([("lxc.cgroup2.hugetlb.2MB.max", "4194304")])
        let (status, output) = try fixture.start(["/bin/sleep", "1000"])
        #expect(status != 0)
        #expect(
            output.contains(
                "cgroup controller hugetlb is not mounted on cgroup v2 for lxc.cgroup2.hugetlb.2MB.max"
            ),
            "\(output)")
        #expect(leftovers(["lxc.payload.\(fixture.name)"]).isEmpty)
    }
}
