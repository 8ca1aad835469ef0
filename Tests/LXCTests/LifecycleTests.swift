import CShim
import Glibc
import LXCRuntime
import LXCSystem
import Testing

@testable import LXC

/// The `swiftlxc` binary beside the test bundle, for the other-process checks.
private let swiftlxc: String = {
    let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
    return "/\(package)/.build/debug/swiftlxc"
}()

/// A fresh lxcpath, removed with its containers when the test ends.
final class TestLXCPath {
    let path: String
    init(_ tag: String) {
        path = "/tmp/swiftlxc-lxcpath-\(getpid())-\(tag)"
        mkdir(path, 0o755)
    }
    deinit {
        for name in listContainers(lxcpath: path) {
            let container = Container(name: name, lxcpath: path)
            if container.isRunning { try? container.stop() }
        }
        _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", path]))
    }
}

/// Runs the CLI in another process; returns its exit status and stdout.
func cli(_ arguments: [String]) throws -> (Int32, String) {
    let pipe = try Pipe()
    let child = try Spawn.start(
        SpawnRequest(
            path: swiftlxc, arguments: ["swiftlxc"] + arguments,
            fileMap: [-1, pipe.writeEnd.rawValue, 2]))
    try pipe.writeEnd.close()
    let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
    return (try child.wait().shellStatus, output)
}

/// Cgroup directories named like this container, in every v1 hierarchy and the unified one.
private func cgroupDirectories(_ name: String) -> [String] {
    var found: [String] = []
    for hierarchy in ["pids", "memory", "cpu", "freezer", "devices", "unified"] {
        let path = "/sys/fs/cgroup/\(hierarchy)/lxc.payload.\(name)"
        if access(path, F_OK) == 0 { found.append(path) }
    }
    return found
}

private func monitorProcesses(_ name: String) -> Int {
    let text = (try? FileContents.readText("/proc/net/unix")) ?? ""
    return text.split(separator: "\n").filter { $0.hasSuffix("/\(name)/command") }.count
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct LifecycleTests {
    private func systemContainer(
        _ name: String, in lxcpath: TestLXCPath, extra: [(String, String)] = []
    )
        throws -> Container
    {
        let container = Container(name: name, lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.mount.auto", "proc:mixed sys:mixed"), ("lxc.signal.halt", "SIGUSR1"),
                ("lxc.signal.reboot", "SIGTERM"), ("lxc.net.0.type", "empty"),
                ("lxc.log.file", lxcpath.path + "/\(name).log"), ("lxc.log.level", "DEBUG"),
            ] + extra)
        return container
    }

    @Test func anotherProcessReadsStateWaitsAndStops() throws {
        let lxcpath = TestLXCPath("multi")
        let name = "multi\(getpid())"
        let container = try systemContainer(name, in: lxcpath)
        try container.start()
        #expect(container.state == .running)
        #expect(container.initPID > 0)
        #expect(cgroupDirectories(name).count >= 5)
        // The init's pidfd from the monitor refers to the same live process.
        let pidfd = try container.initPIDFD()
        #expect(pidfd_send_signal(pidfd.rawValue, 0, nil, 0) == 0)
        let fdinfo = try FileContents.readText("/proc/self/fdinfo/\(pidfd.rawValue)")
        #expect(fdinfo.contains("Pid:\t\(container.initPID)"))

        let (infoStatus, info) = try cli(["info", "-n", name, "-P", lxcpath.path, "--json"])
        #expect(infoStatus == 0)
        #expect(info.contains("\"state\":\"RUNNING\""))
        #expect(
            try cli(["wait", "-n", name, "-P", lxcpath.path, "-s", "RUNNING", "-t", "5"]).0 == 0)
        #expect(try cli(["stop", "-n", name, "-P", lxcpath.path, "-k"]).0 == 0)

        #expect(container.state == .stopped)
        #expect(container.initPID == -1)
        #expect(cgroupDirectories(name).isEmpty, "no cgroup left")
        #expect(monitorProcesses(name) == 0, "no socket left")
    }

    @Test func rebootGivesANewInitAndShutdownStops() throws {
        let lxcpath = TestLXCPath("reboot")
        let name = "reboot\(getpid())"
        let container = try systemContainer(name, in: lxcpath)
        try container.start()
        let first = container.initPID
        #expect(try container.reboot(timeout: 20))
        #expect(container.state == .running)
        let second = container.initPID
        #expect(second > 0 && second != first)

        #expect(try container.shutdown(timeout: 20), "busybox init halts on SIGUSR1")
        #expect(container.state == .stopped)
        #expect(cgroupDirectories(name).isEmpty)
    }

    @Test func freezeStopsACounterAndThawResumesIt() throws {
        let lxcpath = TestLXCPath("freeze")
        let name = "freeze\(getpid())"
        let file = "/tmp/counter-\(getpid())"
        let container = try systemContainer(name, in: lxcpath)
        try container.start(
            command: [
                "/bin/sh", "-c",
                "i=0; while true; do i=$((i+1)); echo $i > \(file); "
                    + "usleep 20000; done",
            ])
        defer { try? container.stop() }
        // The writer truncates then writes, so a read can fall in between: read again.
        func count() -> Int {
            for _ in 0..<100 {
                let text = (try? FileContents.readText(rootfs + file))?.filter(\.isNumber) ?? ""
                if let value = Int(text) { return value }
                usleep(1000)
            }
            return -1
        }
        usleep(200_000)
        try container.freeze()
        #expect(container.state == .frozen)
        let frozen = count()
        usleep(300_000)
        #expect(count() == frozen)
        try container.unfreeze()
        #expect(container.state == .running)
        usleep(300_000)
        #expect(count() > frozen)
        unlink(rootfs + file)
    }

    @Test func stopKillsAFrozenContainer() throws {
        let lxcpath = TestLXCPath("frozenstop")
        let name = "frozenstop\(getpid())"
        let container = try systemContainer(name, in: lxcpath)
        try container.start(command: ["/bin/sleep", "1000"])
        try container.freeze()
        #expect(container.state == .frozen)
        // As LXC's stop: SIGKILL, then thaw, so the kill is delivered.
        try container.stop(timeout: 5)
        #expect(container.state == .stopped)
    }

    @Test func cgroupItemsReadWriteAndStatistics() throws {
        let lxcpath = TestLXCPath("items")
        let name = "items\(getpid())"
        let container = try systemContainer(
            name, in: lxcpath, extra: [("lxc.cgroup.pids.max", "50")])
        try container.start(command: ["/bin/sleep", "30"])
        defer { try? container.stop() }
        #expect(try container.cgroupItem("pids.max") == "50")
        try container.setCgroupItem("pids.max", "40")
        #expect(try container.cgroupItem("pids.max") == "40")
        #expect(throws: ContainerError.self) { try container.setCgroupItem("pids.max", "abc") }
        let stats = try container.cgroupStatistics()
        #expect(stats.contains("\"pids\""))
        #expect(stats.contains("\"memory\""))
    }

    @Test func badRequestsFailClearlyAndChangeNothing() throws {
        let lxcpath = TestLXCPath("bad")
        let name = "bad\(getpid())"
        let container = try systemContainer(name, in: lxcpath)
        #expect(throws: ContainerError.self) { try container.stop() }
        try container.start(command: ["/bin/sleep", "30"])
        #expect {
            try container.start()
        } throws: { error in
            (error as? ContainerError)?.description == "container \(name) is running"
        }
        try container.stop()
        // The monitor loads and plans the config; its error comes back as it was written.
        let unsupported = Container(name: "unsup\(getpid())", lxcpath: lxcpath.path)
        try unsupported.create(
            rootfs: .inPlace(rootfs), items: [("lxc.mount.auto", "shmounts:/tmp/nowhere")])
        #expect {
            try unsupported.start()
        } throws: { error in
            (error as? ContainerError)?.description
                == "lxc.mount.auto: shmounts is not supported yet"
        }
        #expect(unsupported.state == .stopped)
        #expect {
            try Container(name: "a/b", lxcpath: lxcpath.path).start()
        } throws: { error in
            (error as? ContainerError)?.description == "invalid container name a/b"
        }
        #expect {
            try Container(name: "x", lxcpath: "/nonexistent/lxcpath").create(rootfs: .none)
        } throws: { error in
            (error as? ContainerError)?.description == "lxcpath /nonexistent/lxcpath does not exist"
        }
    }

    @Test func killedMonitorTakesItsContainerAndTheStoreRecovers() throws {
        let lxcpath = TestLXCPath("killed")
        let name = "killed\(getpid())"
        let container = try systemContainer(name, in: lxcpath)
        try container.start(command: ["/bin/sleep", "60"])
        let initPID = container.initPID
        // The monitor is the init's parent.
        let status = try FileContents.readText("/proc/\(initPID)/status")
        let parent =
            status.split(separator: "\n").first { $0.hasPrefix("PPid:") }
            .flatMap { pid_t($0.dropFirst(5).filter(\.isNumber)) } ?? -1
        #expect(parent > 1)
        #expect(kill(parent, SIGKILL) == 0)
        #expect(container.wait(for: .stopped, timeout: 10))
        // The keeper kills the init; it stays a zombie until the host's init reaps it.
        var alive = true
        for _ in 0..<200 where alive {
            let state = (try? FileContents.readText("/proc/\(initPID)/stat"))?
                .split(separator: ")").last?.split(separator: " ").first
            alive = state != nil && state != "Z"
            if alive { usleep(10_000) }
        }
        #expect(!alive, "the init died with its monitor")

        try container.start(command: ["/bin/sleep", "60"])
        #expect(container.state == .running)
        try container.stop()
        #expect(cgroupDirectories(name).isEmpty, "the stale cgroup went with the new start")
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ContainerLimitTests {
    private func run(_ items: [(String, String)], _ script: String) throws -> (String, Int32) {
        let pipe = try Pipe()
        let status = try execute(
            ExecuteOptions(
                name: "limits\(getpid())\(script.utf8.count)", rootfs: rootfs,
                items: [("lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed")] + items,
                command: ["/bin/sh", "-c", script],
                stdio: [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue]))
        try pipe.writeEnd.close()
        return (String(decoding: try pipe.readEnd.readAll(), as: UTF8.self), status.shellStatus)
    }

    @Test func pidsMaxStopsAForkBomb() throws {
        let (output, _) = try run(
            [("lxc.cgroup.pids.max", "10")], "for i in $(seq 30); do sleep 1 & done; wait")
        #expect(output.contains("can't fork"))
    }

    @Test func memoryLimitKillsTheWorkloadNotTheRuntime() throws {
        let (_, status) = try run(
            [("lxc.cgroup.memory.limit_in_bytes", "32M")],
            "exec /bin/sh -c 'x=$(head -c 100000000 /dev/zero | tr \"\\\\0\" a); echo ${#x}'")
        #expect(status == 137, "the workload is OOM-killed")
    }

    @Test func cpuQuotaThrottles() throws {
        let (output, status) = try run(
            [("lxc.cgroup.cpu.cfs_quota_us", "10000"), ("lxc.cgroup.cpu.cfs_period_us", "100000")],
            "timeout 1 sh -c 'while :; do :; done'; cat /sys/fs/cgroup/cpu/cpu.stat")
        #expect(status == 0)
        let throttled =
            output.split(separator: "\n").first { $0.hasPrefix("nr_throttled") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(throttled > 0)
    }

    @Test func deviceRuleDeniesABlockDevice() throws {
        let (output, _) = try run(
            [
                ("lxc.cgroup.devices.deny", "a"), ("lxc.cgroup.devices.allow", "c 1:3 rwm"),
                ("lxc.mount.entry", "/dev/vda dev/vda none bind,create=file,optional 0 0"),
            ],
            "head -c1 /dev/vda >/dev/null 2>&1 && echo read || echo denied; echo x > /dev/null && echo null-ok"
        )
        #expect(output == "denied\nnull-ok\n")
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ContainerSeccompTests {
    private func policy(_ text: String) throws -> String {
        let path = "/tmp/swiftlxc-seccomp-\(getpid())-\(text.utf8.count).policy"
        try FileContents.write(text, to: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        return path
    }

    private func run(_ items: [(String, String)], _ script: String) throws -> (String, Int32) {
        let pipe = try Pipe()
        let status = try execute(
            ExecuteOptions(
                name: "sc\(getpid())\(script.utf8.count)", rootfs: rootfs,
                items: [("lxc.mount.auto", "proc:mixed")] + items,
                command: ["/bin/sh", "-c", script],
                stdio: [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue]))
        try pipe.writeEnd.close()
        return (String(decoding: try pipe.readEnd.readAll(), as: UTF8.self), status.shellStatus)
    }

    @Test func deniedSyscallReturnsTheConfiguredErrno() throws {
        let path = try policy("2\ndenylist\nmkdir errno 13\nmkdirat errno 13\n")
        defer { unlink(path) }
        let (output, status) = try run(
            [("lxc.seccomp.profile", path)],
            "mkdir /tmp/sc-denied-$$ 2>&1; grep -E '^Seccomp:' /proc/self/status")
        #expect(status == 0)
        #expect(output.contains("Permission denied"))
        #expect(output.contains("Seccomp:\t2"))
    }

    @Test func killActionEndsTheWorkload() throws {
        let path = try policy("2\ndenylist\nuname kill\n")
        defer { unlink(path) }
        let (_, status) = try run([("lxc.seccomp.profile", path)], "uname")
        #expect(status == 128 + SIGSYS)
    }

    @Test func notifyWithoutAProxyIsAnsweredENOSYS() throws {
        let lxcpath = "/tmp/swiftlxc-lxcpath-\(getpid())-notify"
        mkdir(lxcpath, 0o755)
        defer {
            _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", lxcpath]))
        }
        let path = try policy("2\ndenylist\nmkdir notify\nmkdirat notify\n")
        defer { unlink(path) }
        let out = "/tmp/notify-\(getpid())"
        let container = Container(name: "notify\(getpid())", lxcpath: lxcpath)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.seccomp.profile", path), ("lxc.net.0.type", "empty")])
        try container.start(command: [
            "/bin/sh", "-c", "mkdir /tmp/nope-$$ 2>\(out); sleep 30",
        ])
        defer { try? container.stop() }
        var text = ""
        for _ in 0..<200 where !text.contains("not implemented") {
            text = (try? FileContents.readText(rootfs + out)) ?? ""
            usleep(10_000)
        }
        #expect(text.contains("Function not implemented"))
        unlink(rootfs + out)
        // Taking the listener afterwards hands the serving over (ContainerSeccompHandOverTests).
        let listener = try container.seccompNotifyFDActive()
        #expect(listener.rawValue >= 0)
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ContainerCgroupPlacementTests {
    /// Runs `swiftlxc execute` from a shell first moved into `/sys/fs/cgroup/pids/<parent>`.
    private func executeFrom(parent: String, _ items: [String], _ command: [String]) throws
        -> String
    {
        let directory = "/sys/fs/cgroup/pids/\(parent)"
        mkdir(directory, 0o755)
        defer { rmdir(directory) }
        let arguments =
            [
                "sh", "-c", "echo $$ > \(directory)/cgroup.procs && exec \"$@\"", "sh", swiftlxc,
                "execute", "--rootfs", rootfs, "-n", "rel\(getpid())",
            ]
            + items.flatMap { ["-s", $0] } + ["--"] + command
        let pipe = try Pipe()
        let child = try Spawn.start(
            SpawnRequest(
                path: "/bin/sh", arguments: arguments, fileMap: [-1, pipe.writeEnd.rawValue, 2]))
        try pipe.writeEnd.close()
        let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        _ = try child.wait()
        return output
    }

    @Test func relativeCgroupLandsBelowTheCallers() throws {
        let parent = "swtest-rel-\(getpid())"
        let inside = try executeFrom(
            parent: parent,
            [
                "lxc.cgroup.relative=1", "lxc.namespace.keep=cgroup",
                "lxc.mount.auto=proc",
            ], ["/bin/grep", "pids", "/proc/self/cgroup"])
        #expect(inside.hasSuffix(":pids:/\(parent)/lxc.payload.rel\(getpid())\n"))
        let absolute = try executeFrom(
            parent: parent, ["lxc.namespace.keep=cgroup", "lxc.mount.auto=proc"],
            ["/bin/grep", "pids", "/proc/self/cgroup"])
        #expect(absolute.hasSuffix(":pids:/lxc.payload.rel\(getpid())\n"))
    }

    @Test func cgroup2DeviceRuleDeniesThroughBPF() throws {
        let pipe = try Pipe()
        let status = try execute(
            ExecuteOptions(
                name: "bpf\(getpid())", rootfs: rootfs,
                items: [("lxc.cgroup2.devices.deny", "c 1:3 rwm")],
                command: [
                    "/bin/sh", "-c",
                    "cat /dev/null 2>&1 && echo open || echo denied; "
                        + "head -c1 /dev/zero >/tmp/z$$ && echo zero-ok; rm -f /tmp/z$$",
                ],
                stdio: [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue]))
        try pipe.writeEnd.close()
        let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        #expect(status == .exited(0))
        #expect(output.hasSuffix("Operation not permitted\ndenied\nzero-ok\n"))
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct ContainerNetworkTests {
    private func hostRoutes() throws -> String {
        let pipe = try Pipe()
        let child = try Spawn.start(
            SpawnRequest(
                path: "/sbin/ip", arguments: ["ip", "route", "show"],
                fileMap: [-1, pipe.writeEnd.rawValue, 2]))
        try pipe.writeEnd.close()
        let text = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        _ = try child.wait()
        return text
    }

    @Test func vethRoutesAppearOnTheHostAndVanishAtStop() throws {
        let lxcpath = "/tmp/swiftlxc-lxcpath-\(getpid())-net"
        mkdir(lxcpath, 0o755)
        defer {
            _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", lxcpath]))
        }
        let pair = "swv\(getpid() % 100000)"
        let container = Container(name: "net\(getpid())", lxcpath: lxcpath)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.net.0.type", "veth"), ("lxc.net.0.veth.pair", pair),
                ("lxc.net.0.name", "eth0"), ("lxc.net.0.flags", "up"),
                ("lxc.net.0.ipv4.address", "198.51.100.2/24"),
                ("lxc.net.0.veth.ipv4.route", "198.51.100.128/25"),
                ("lxc.mount.auto", "proc:mixed sys:mixed"),
            ])
        try container.start(command: ["/bin/sleep", "30"])
        let running = try hostRoutes()
        #expect(running.contains("198.51.100.128/25 dev \(pair) scope link"))
        #expect(try container.interfaces().sorted() == ["eth0", "lo"])
        #expect(try container.ips() == ["198.51.100.2"])
        #expect(try container.ips(interface: "eth0", family: "inet6").isEmpty)

        // attach_interface and detach_interface with a spare veth made for the test.
        let spare = "swa\(getpid() % 100000)"
        #expect(
            try Spawn.run(
                SpawnRequest(
                    path: "/sbin/ip",
                    arguments: [
                        "ip", "link", "add", spare, "type", "veth", "peer", "name", spare + "p",
                    ])) == .exited(0))
        defer {
            _ = try? Spawn.run(
                SpawnRequest(path: "/sbin/ip", arguments: ["ip", "link", "del", spare]))
        }
        try container.attachInterface(spare, as: "extra0")
        #expect(if_nametoindex(spare) == 0, "gone from the host")
        #expect(try container.interfaces().contains("extra0"))
        try container.detachInterface("extra0", as: spare)
        #expect(if_nametoindex(spare) != 0, "back on the host")
        try container.stop()
        #expect(!(try hostRoutes()).contains(pair), "the route and the veth are gone")
        #expect(if_nametoindex(pair) == 0)
    }
}

/// The shape of LXC's concurrent test: threads and processes creating, starting, stopping
/// and destroying containers at the same time, each its own.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ConcurrencyTests {
    @Test func threadsAndProcessesWorkOnContainersAtOnce() throws {
        let lxcpath = TestLXCPath("concurrent")
        let base = "cc\(getpid())"
        let path = lxcpath.path
        // Four other processes, each running the whole cycle through the CLI.
        var processes: [pid_t] = []
        for index in 0..<4 {
            let name = "\(base)p\(index)"
            let script = """
                set -e
                \(swiftlxc) create -n \(name) -P \(path) --rootfs \(rootfs) --in-place \
                    -s lxc.net.0.type=empty
                \(swiftlxc) start -n \(name) -P \(path) -- /bin/sleep 30
                \(swiftlxc) info -n \(name) -P \(path) | grep -q RUNNING
                \(swiftlxc) stop -n \(name) -P \(path) -k
                \(swiftlxc) destroy -n \(name) -P \(path)
                """
            let child = try Spawn.start(
                SpawnRequest(
                    path: "/bin/sh", arguments: ["sh", "-c", script],
                    environment: ["PATH=/usr/bin:/bin"]))
            // The pidfd closes here; the process stays this one's child for waitpid below.
            processes.append(child.pid)
        }
        // Eight threads in this process (real threads: the work blocks).
        let threads = (0..<8).map { index in
            BlockingThread { () -> String? in
                let container = Container(name: "\(base)t\(index)", lxcpath: path)
                do {
                    try container.create(
                        rootfs: .inPlace(rootfs), items: [("lxc.net.0.type", "empty")])
                    try container.start(command: ["/bin/sleep", "30"])
                    guard container.state == .running else { return "\(index): not running" }
                    try container.stop()
                    try container.destroy()
                    return nil
                } catch {
                    return "\(index): \(error)"
                }
            }
        }
        let results = threads.compactMap { $0.join() ?? "thread did not run" }
        #expect(results.isEmpty, "\(results)")
        for pid in processes {
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
            #expect(status == 0, "process \(pid) \(TerminationStatus(waitStatus: status))")
        }
        #expect(listContainers(lxcpath: path).isEmpty)
        for index in 0..<8 { #expect(cgroupDirectories("\(base)t\(index)").isEmpty) }
        for index in 0..<4 { #expect(cgroupDirectories("\(base)p\(index)").isEmpty) }
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct HookTests {
    /// A hook script that appends its arguments and some LXC variables to `log`.
    private func hook(_ tag: String, log: String) throws -> String {
        let path = "/tmp/swiftlxc-hook-\(getpid())-\(tag).sh"
        try FileContents.write(
            "#!/bin/sh\necho \"\(tag) $* $LXC_HOOK_TYPE $LXC_NAME ${LXC_PID:+pid}\" >> \(log)\n",
            to: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        chmod(path, 0o755)
        return path
    }

    @Test func hooksRunAtTheirStagesWithLXCArguments() throws {
        let log = "/tmp/swiftlxc-hooks-\(getpid()).log"
        // The start hook runs inside the container: it logs into the container's /tmp.
        let inside = "/tmp/swiftlxc-hook-inside-\(getpid())"
        let startHook = inside + ".sh"
        try FileContents.write(
            "#!/bin/sh\necho \"start $* $LXC_HOOK_TYPE\" > \(inside).log\n",
            to: TestRootfsPath.value + startHook, flags: O_WRONLY | O_CREAT | O_TRUNC)
        chmod(TestRootfsPath.value + startHook, 0o755)
        var hooks: [(String, String)] = []
        for stage in ["pre-start", "pre-mount", "mount", "autodev", "start-host", "post-stop"] {
            hooks.append(("lxc.hook.\(stage)", try hook(stage, log: log)))
        }
        hooks.append(("lxc.hook.start", startHook))
        defer {
            unlink(log)
            unlink(TestRootfsPath.value + startHook)
            unlink(TestRootfsPath.value + inside + ".log")
            for stage in ["pre-start", "pre-mount", "mount", "autodev", "start-host", "post-stop"] {
                unlink("/tmp/swiftlxc-hook-\(getpid())-\(stage).sh")
            }
        }
        let status = try execute(
            ExecuteOptions(name: "hooked", rootfs: rootfs, items: hooks, command: ["/bin/true"]))
        #expect(status == .exited(0))
        let lines = (try FileContents.readText(log)).split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "pre-start hooked lxc pre-start pre-start hooked ",
                "pre-mount hooked lxc pre-mount pre-mount hooked ",
                "mount hooked lxc mount mount hooked ",
                "autodev hooked lxc autodev autodev hooked ",
                "start-host hooked lxc start-host start-host hooked pid",
                "post-stop hooked lxc post-stop post-stop hooked ",
            ])
        #expect(
            try FileContents.readText(TestRootfsPath.value + inside + ".log")
                == "start hooked lxc start start\n")
    }

    @Test func stopCloneAndDestroyHooksRun() throws {
        let log = "/tmp/swiftlxc-hooks2-\(getpid()).log"
        defer { unlink(log) }
        let lxcpath = TestLXCPath("hooks")
        let container = Container(name: "hk\(getpid())", lxcpath: lxcpath.path)
        var items: [(String, String)] = [("lxc.net.0.type", "empty")]
        for stage in ["stop", "clone", "destroy"] {
            items.append(("lxc.hook.\(stage)", try hook(stage, log: log)))
        }
        defer {
            for stage in ["stop", "clone", "destroy"] {
                unlink("/tmp/swiftlxc-hook-\(getpid())-\(stage).sh")
            }
        }
        try container.create(rootfs: .inPlace(rootfs), items: items)
        try container.start(command: ["/bin/sleep", "30"])
        try container.stop()
        let copy = try container.copy(to: "hk\(getpid())c")
        try copy.destroy()
        let lines = (try FileContents.readText(log)).split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "stop \(container.name) lxc stop stop \(container.name) ",
                "clone \(copy.name) lxc clone clone \(copy.name) ",
                "destroy \(copy.name) lxc destroy destroy \(copy.name) ",
            ])
    }

    @Test func failingHookFailsTheStartAndLeavesNothing() throws {
        #expect {
            _ = try execute(
                ExecuteOptions(
                    name: "badhook", rootfs: rootfs, items: [("lxc.hook.mount", "/bin/false")],
                    command: ["/bin/true"]))
        } throws: { error in
            (error as? RunError)?.description.hasPrefix("lxc.hook: hook lxc.hook.mount /bin/false")
                ?? false
        }
        #expect(cgroupDirectories("badhook").isEmpty)
    }
}

/// The test rootfs path, for files the tests put inside it.
private enum TestRootfsPath {
    static var value: String { rootfs }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct SharedNamespaceTests {
    @Test func joinsTheNamespacesOfARunningContainerByName() throws {
        let lxcpath = TestLXCPath("share")
        let host = Container(name: "sharehost\(getpid())", lxcpath: lxcpath.path)
        try host.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.net.0.type", "empty"), ("lxc.mount.auto", "proc:mixed")])
        try host.start(command: ["/bin/sleep", "30"])
        defer { try? host.stop() }
        let hostNet = try Namespace.network.identity(of: host.initPID)
        // A sleep outside both containers must stay invisible to the one that joins.
        let outsider = try Spawn.start(SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "9"]))
        defer {
            try? outsider.signal(SIGKILL)
            _ = try? outsider.wait()
        }
        let pipe = try Pipe()
        var options = ExecuteOptions(
            name: "sharer\(getpid())", rootfs: rootfs,
            items: [
                ("lxc.namespace.share.net", host.name), ("lxc.namespace.share.pid", host.name),
                ("lxc.mount.auto", "proc:mixed"),
            ],
            command: ["/bin/sh", "-c", "readlink /proc/self/ns/net; ps -o comm | grep -c sleep"],
            stdio: [-1, pipe.writeEnd.rawValue, 2])
        options.lxcpath = lxcpath.path
        let status = try execute(options)
        try pipe.writeEnd.close()
        let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        #expect(status == .exited(0))
        #expect(output == hostNet + "\n1\n", "same network namespace, and the host's sleep is seen")
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct StoreTests {
    @Test func busyboxTemplateCreatesAContainerThatStarts() throws {
        let lxcpath = TestLXCPath("template")
        let container = Container(name: "tpl\(getpid())", lxcpath: lxcpath.path)
        try container.create(rootfs: .template("busybox", []), items: [("lxc.net.0.type", "empty")])
        #expect(container.isDefined)
        #expect(access(lxcpath.path + "/\(container.name)/rootfs/bin/busybox", X_OK) == 0)
        #expect(try container.configItem("lxc.rootfs.path").hasSuffix("/rootfs"))
        // The template's own config carries its signals and mounts; a start must work.
        try container.start(command: ["/bin/sleep", "30"])
        #expect(container.state == .running)
        try container.stop()
        try container.destroy()
        #expect(!container.isDefined)
    }

    @Test func copyRenameAndListing() throws {
        let lxcpath = TestLXCPath("store")
        let source = "/tmp/swiftlxc-store-rootfs-\(getpid())"
        _ = try Spawn.run(SpawnRequest(path: "/bin/cp", arguments: ["cp", "-a", rootfs, source]))
        defer {
            _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", source]))
        }
        let original = Container(name: "orig", lxcpath: lxcpath.path)
        try original.create(
            rootfs: .copy(source), items: [("lxc.net.0.type", "empty"), ("lxc.uts.name", "orig")])
        let copy = try original.copy(to: "copied")
        #expect(try copy.configItem("lxc.uts.name") == "copied")
        #expect(try copy.configItem("lxc.rootfs.path") == "\(lxcpath.path)/copied/rootfs")
        let renamed = try copy.rename(to: "moved")
        #expect(!copy.isDefined && renamed.isDefined)
        #expect(try renamed.configItem("lxc.rootfs.path") == "\(lxcpath.path)/moved/rootfs")
        #expect(listContainers(lxcpath: lxcpath.path) == ["moved", "orig"])
        try renamed.start(command: ["/bin/sleep", "30"])
        #expect(listContainers(lxcpath: lxcpath.path, defined: false, active: true) == ["moved"])
        try renamed.stop()
        #expect(throws: ContainerError.self) { try original.rename(to: "bad/name") }
    }

    @Test func foregroundStartRunsTheMonitorInTheCaller() throws {
        let lxcpath = TestLXCPath("foreground")
        let container = Container(name: "fg\(getpid())", lxcpath: lxcpath.path)
        try container.create(rootfs: .inPlace(rootfs), items: [("lxc.net.0.type", "empty")])
        // The foreground start returns when the container stops; stop it from elsewhere.
        let task = BlockingThread { () -> String? in
            do {
                try container.start(command: ["/bin/sleep", "30"], daemonize: false)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(container.wait(for: .running, timeout: 10))
        try container.stop()
        #expect(task.join() == .some(nil))
        #expect(container.state == .stopped)
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct CgroupCleanupTests {
    @Test func hundredStartsAndStopsLeaveNoCgroup() throws {
        let name = "cycle\(getpid())"
        for _ in 0..<100 {
            let status = try execute(
                ExecuteOptions(
                    name: name, rootfs: rootfs, items: [("lxc.cgroup.pids.max", "20")],
                    command: ["/bin/true"], stdio: [-1, -1, -1]))
            #expect(status == .exited(0))
        }
        #expect(cgroupDirectories(name).isEmpty)
        // Other tests run at the same time, so only this container's names are checked.
        #expect(try cgroupTree().filter { $0.contains(name) }.isEmpty)
    }

    /// Every directory two levels deep under the cgroup mounts.
    private func cgroupTree() throws -> [String] {
        var found: [String] = []
        for hierarchy in [
            "pids", "memory", "cpu", "cpuacct", "cpuset", "freezer", "devices",
            "blkio", "unified",
        ] {
            guard let directory = opendir("/sys/fs/cgroup/\(hierarchy)") else { continue }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
                if entry.pointee.d_type == UInt8(DT_DIR) && !name.hasPrefix(".") {
                    found.append("\(hierarchy)/\(name)")
                }
            }
        }
        return found
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ContainerSeccompProxyTests {
    @Test func theMonitorForwardsNotificationsToAProxyInLXCsFormat() throws {
        let lxcpath = TestLXCPath("proxy")
        let socketName = "swiftlxc-proxy-\(getpid())"
        let listener = try listenAbstract(socketName)
        let listenerFD = listener.release()
        // The proxy: one datagram, checked for LXC's layout and three fds, answered EOPNOTSUPP.
        let proxy = BlockingThread { () -> String in
            let server = FileDescriptor(owning: listenerFD)
            guard let connection = try? server.accept(),
                let (bytes, fds) = try? connection.receive(capacity: 4096, maxDescriptors: 4)
            else { return "no datagram" }
            let cookie = Array("swift-cookie".utf8)
            guard bytes.count == 32 + 80 + 24 + cookie.count, fds.count == 3,
                Array(bytes[136...]) == cookie
            else { return "bad datagram: \(bytes.count) bytes, \(fds.count) fds" }
            var id = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self) }
            // The third fd is the notify listener itself (seccomp_proxy_send_notify_fd).
            let valid = ioctl(fds.rawValue(at: 2), UInt(0x4008_2102), &id) == 0
            try? connection.send(proxyAnswer(to: bytes, error: -EOPNOTSUPP))
            return valid ? "ok" : "listener id not valid"
        }
        let policy = "/tmp/swiftlxc-proxy-\(getpid()).policy"
        try FileContents.write(
            "2\ndenylist\nmkdir notify\nmkdirat notify\n", to: policy,
            flags: O_WRONLY | O_CREAT | O_TRUNC)
        defer { unlink(policy) }
        let out = "/tmp/proxied-\(getpid())"
        let container = Container(name: "proxied\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.net.0.type", "empty"), ("lxc.seccomp.profile", policy),
                ("lxc.seccomp.notify.proxy", "unix:@\(socketName)"),
                ("lxc.seccomp.notify.cookie", "swift-cookie"),
            ])
        try container.start(command: ["/bin/sh", "-c", "mkdir /tmp/p$$ 2>\(out); sleep 30"])
        defer { try? container.stop() }
        #expect(proxy.join() == "ok")
        var text = ""
        for _ in 0..<200 where !text.contains("not supported") {
            text = (try? FileContents.readText(rootfs + out)) ?? ""
            usleep(10_000)
        }
        #expect(text.contains("Operation not supported"))
        unlink(rootfs + out)
    }
}
