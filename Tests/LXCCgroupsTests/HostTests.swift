import Glibc
import LXCSystem
import Testing

@testable import LXCCgroups

/// Real cgroups on this hybrid host, with real processes spawned as children. The test runner
/// itself never moves into a cgroup.
@Suite struct HostLimitTests {
    @Test func pidsMaxStopsAForkBomb() throws {
        let directory = try TemporaryDirectory("pids")
        defer { directory.remove() }
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: uniqueName("pids")), in: hostLayout())
        defer { try? cgroup.remove() }
        try cgroup.apply([try CgroupItem(key: "lxc.cgroup.pids.max", value: "10")])
        #expect(try cgroup.get("pids.max") == "10")

        let shell = try GatedShell(
            "for i in $(seq 50); do sleep 5 & done", output: directory.path + "/out")
        try cgroup.place(pid: shell.pid)
        try shell.open()
        _ = try shell.wait()
        #expect(shell.text.contains("can't fork"))
        #expect(try cgroup.stats().pidsCurrent == 9)

        try cgroup.kill()
        #expect(cgroup.processes().isEmpty)
        try cgroup.remove()
    }

    @Test func memoryLimitOOMKillsTheProcessAndNotTheRuntime() throws {
        let directory = try TemporaryDirectory("oom")
        defer { directory.remove() }
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: uniqueName("oom")), in: hostLayout())
        defer { try? cgroup.remove() }
        try cgroup.apply(CgroupResources(memory: .init(limit: 32 << 20)))
        #expect(try cgroup.get("memory.limit_in_bytes") == String(32 << 20))

        // busybox tail keeps a line that never ends in memory: it grows until killed.
        let shell = try GatedShell("exec busybox tail /dev/zero", output: directory.path + "/out")
        try cgroup.place(pid: shell.pid)
        try shell.open()
        #expect(try shell.wait() == .signaled(SIGKILL))
        #expect(try cgroup.get("memory.oom_control").contains("oom_kill 1"))
        let peak = try cgroup.stats().memoryPeak ?? 0
        #expect(peak > 16 << 20 && peak <= 32 << 20)
        try cgroup.remove()
    }

    @Test func cpuQuotaThrottlesASpinningProcess() throws {
        let directory = try TemporaryDirectory("cpu")
        defer { directory.remove() }
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: uniqueName("cpu")), in: hostLayout())
        defer { try? cgroup.remove() }
        try cgroup.apply(CgroupResources(cpu: .init(quota: 10_000, period: 100_000)))
        #expect(try cgroup.get("cpu.cfs_quota_us") == "10000")

        let shell = try GatedShell("while :; do :; done", output: directory.path + "/out")
        try cgroup.place(pid: shell.pid)
        try shell.open()
        #expect(
            eventually(milliseconds: 2000) {
                ((try? cgroup.stats())?.cpuThrottledPeriods ?? 0) >= 3
            })
        let usage = try cgroup.stats().cpuUsageNanoseconds ?? 0
        #expect(usage > 0)
        try cgroup.kill()
        #expect(try shell.wait() == .signaled(SIGKILL))
        try cgroup.remove()
    }

    @Test func statsReportMemoryCPUAndPids() throws {
        let directory = try TemporaryDirectory("stats")
        defer { directory.remove() }
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: uniqueName("stats")), in: hostLayout())
        defer { try? cgroup.remove() }
        let shell = try GatedShell("sleep 5 & sleep 5 & wait", output: directory.path + "/out")
        try cgroup.place(pid: shell.pid)
        try shell.open()
        #expect(eventually { (try? cgroup.stats())?.pidsCurrent == 3 })
        let stats = try cgroup.stats()
        #expect((stats.memoryCurrent ?? 0) > 0)
        #expect((stats.cpuUsageNanoseconds ?? 0) > 0)
        #expect(stats.pidsLimit == nil)
        #expect(stats.json.contains(#""pids":{"current":3,"limit":null}"#))
        #expect(stats.json.contains(#""memory":{"current":\#(stats.memoryCurrent ?? 0)"#))
        try cgroup.kill()
        _ = try shell.wait()
        try cgroup.remove()
    }
}

@Suite struct HostFreezerTests {
    /// A shell that appends to its output as fast as it can: the file size is its counter.
    private func counter(in cgroup: ContainerCgroup, output: String) throws -> GatedShell {
        let shell = try GatedShell("while :; do echo 1; done", output: output)
        try cgroup.place(pid: shell.pid)
        try shell.open()
        return shell
    }

    private func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    private func checkFreezeStopsAndThawResumes(_ layout: CgroupLayout, stem: String) throws {
        let directory = try TemporaryDirectory(stem)
        defer { directory.remove() }
        let cgroup = try ContainerCgroup.create(.lxcPayload(name: uniqueName(stem)), in: layout)
        defer { try? cgroup.remove() }
        let output = directory.path + "/count"
        let shell = try counter(in: cgroup, output: output)
        #expect(eventually { size(output) > 0 })

        try cgroup.freeze()
        #expect(try cgroup.isFrozen())
        let frozenAt = size(output)
        usleep(200_000)
        #expect(size(output) == frozenAt)

        try cgroup.thaw()
        #expect(try !cgroup.isFrozen())
        #expect(eventually { size(output) > frozenAt })

        // A frozen container can still be killed.
        try cgroup.freeze()
        try cgroup.kill()
        #expect(try shell.wait() == .signaled(SIGKILL))
        try cgroup.remove()
    }

    @Test func v1FreezerStopsACounterAndThawResumesIt() throws {
        let layout = try hostLayout()
        guard case .v1 = layout.placement(of: "freezer") else {
            Issue.record("this host has no v1 freezer")
            return
        }
        try checkFreezeStopsAndThawResumes(layout, stem: "freeze1")
    }

    @Test func cgroup2FreezeStopsACounterAndThawResumesIt() throws {
        let layout = try hostLayout().ignoringV1(["freezer"])
        #expect(layout.placement(of: "freezer") == .v2)
        try checkFreezeStopsAndThawResumes(layout, stem: "freeze2")
    }
}

@Suite struct HostUnifiedTests {
    @Test func processIsPlacedInTheUnifiedHierarchyAndKilledThroughCgroupKill() throws {
        let layout = try hostLayout()
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: uniqueName("unified")), in: layout)
        defer { try? cgroup.remove() }
        let sleeper = try Spawn.start(SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "30"]))
        try cgroup.place(pid: sleeper.pid)

        let membership = try FileContents.readText("/proc/\(sleeper.pid)/cgroup")
        #expect(membership.contains("\n0::/\(cgroup.path)\n"))
        #expect(membership.contains(":memory:/\(cgroup.path)\n"))
        guard let unified = cgroup.unifiedPayloadDirectory else {
            Issue.record("no unified hierarchy")
            return
        }
        #expect(CgroupFiles.processes(in: unified) == [sleeper.pid])
        let directory = try cgroup.openUnifiedDirectory()
        var info = stat()
        #expect(fstat(directory.rawValue, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR)

        try cgroup.kill()
        #expect(try sleeper.wait() == .signaled(SIGKILL))
        try cgroup.remove()
        #expect(!CgroupFiles.exists(unified))
    }

    @Test func relativeCgroupGoesBelowTheCallersCgroup() throws {
        let layout = try hostLayout()
        let name = uniqueName("relative")
        let cgroup = try ContainerCgroup.create(.lxcPayload(name: name, relative: true), in: layout)
        defer { try? cgroup.remove() }
        for (index, hierarchy) in layout.hierarchies.enumerated()
        where !hierarchy.controllers.isEmpty {
            let own = hierarchy.directory(of: hierarchy.ownCgroup) ?? "?"
            let expected = (own.hasSuffix("/") ? own : own + "/") + "lxc.payload." + name
            #expect(cgroup.limitDirectories.contains(expected), "hierarchy \(index)")
        }
        let sleeper = try Spawn.start(SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "30"]))
        try cgroup.place(pid: sleeper.pid)
        try cgroup.kill()
        _ = try sleeper.wait()
        try cgroup.remove()
        #expect(cgroup.limitDirectories.allSatisfy { !CgroupFiles.exists($0) })
    }

    /// `lxc.cgroup.dir.monitor = lxc.monitor/<name>` for two containers: the first to go
    /// must neither wait on nor touch the other's cgroup in the parent it made.
    @Test func aSharedParentStaysWhileAnotherCgroupIsBelowIt() throws {
        let layout = try hostLayout()
        let parent = uniqueName("shared")
        let first = try ContainerCgroup.create(
            .lxcIsolated(container: parent + "/first", inner: nil), in: layout)
        defer { try? first.remove() }
        let second = try ContainerCgroup.create(
            .lxcIsolated(container: parent + "/second", inner: nil), in: layout)
        defer { try? second.remove() }
        let sleeper = try Spawn.start(SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "30"]))
        try second.place(pid: sleeper.pid)

        let started = MonotonicClock.now()
        try first.remove()
        #expect(MonotonicClock.now() - started < 500_000_000, "no EBUSY retries")
        #expect(first.limitDirectories.allSatisfy { !CgroupFiles.exists($0) })
        #expect(second.limitDirectories.allSatisfy { CgroupFiles.exists($0) })
        #expect(
            try FileContents.readText("/proc/\(sleeper.pid)/cgroup").contains(
                ":pids:/\(parent)/second\n"))

        try second.kill()
        _ = try sleeper.wait()
        try second.remove()
        // The parent is the first one's, which could not remove it; the second did not make
        // it and leaves it, as it leaves any cgroup it found.
        let parents = layout.hierarchies.compactMap { $0.directory(of: "/" + parent) }
            .filter { CgroupFiles.exists($0) }
        #expect(!parents.isEmpty)
        for directory in parents { #expect(rmdir(directory) == 0, "\(directory) is empty") }
    }
}

@Suite struct HostCpusetTests {
    /// A v1 cpuset parent that some tool made and never filled (the kernel leaves cpus and
    /// mems empty) takes its parent's, or nothing could join the container below it.
    @Test func anEmptyExistingCpusetParentIsFilled() throws {
        let layout = try hostLayout()
        guard case .v1(let index) = layout.placement(of: "cpuset") else {
            print("skipped: cpuset is not on a v1 hierarchy here")
            return
        }
        let parent = uniqueName("emptycpuset")
        guard let root = layout.hierarchies[index].directory(of: "/") else { return }
        #expect(mkdir(root + "/" + parent, 0o755) == 0)
        defer { _ = rmdir(root + "/" + parent) }
        #expect(try CgroupFiles.read(root + "/" + parent + "/cpuset.cpus").isEmpty)

        let cgroup = try ContainerCgroup.create(
            .lxcIsolated(container: parent + "/child", inner: nil), in: layout)
        defer { try? cgroup.remove() }
        #expect(!(try CgroupFiles.read(root + "/" + parent + "/cpuset.cpus")).isEmpty)
        let sleeper = try Spawn.start(SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "30"]))
        try cgroup.place(pid: sleeper.pid)
        try cgroup.kill()
        _ = try sleeper.wait()
        try cgroup.remove()
        // The parent was found, not made: it stays for its owner.
        #expect(CgroupFiles.exists(root + "/" + parent))
    }
}

@Suite struct HostIsolationTests {
    @Test func innerCgroupHoldsTheProcessWhileTheOuterCarriesTheLimit() throws {
        let layout = try hostLayout()
        let name = uniqueName("isolated")
        let path = try CgroupPath.lxcIsolated(container: name, inner: "init")
        let cgroup = try ContainerCgroup.create(path, in: layout)
        defer { try? cgroup.remove() }
        try cgroup.apply(CgroupResources(pidsLimit: 7))
        try cgroup.setDevices(DeviceRule.defaultAllowed)

        let sleeper = try Spawn.start(SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "30"]))
        try cgroup.place(pid: sleeper.pid)
        let membership = try FileContents.readText("/proc/\(sleeper.pid)/cgroup")
        #expect(membership.contains(":pids:/\(name)/init\n"))
        #expect(membership.contains(":cpuset:/\(name)/init\n"))
        #expect(membership.contains("\n0::/\(name)/init\n"))
        #expect(try cgroup.get("pids.max") == "7")
        #expect(try cgroup.stats().pidsCurrent == 1)

        try cgroup.kill()
        _ = try sleeper.wait()
        try cgroup.remove()
        #expect(cgroup.limitDirectories.allSatisfy { !CgroupFiles.exists($0) })
    }
}

@Suite struct HostDeviceTests {
    private let probe = """
        head -c 1 /dev/vda 2>&1 >/dev/null || echo vda-denied
        head -c 1 /dev/null 2>&1 && echo null-ok
        head -c 1 /dev/zero >/dev/null 2>&1 && echo zero-ok
        """

    private func run(_ script: String, in cgroup: ContainerCgroup, stem: String) throws -> String {
        let directory = try TemporaryDirectory(stem)
        defer { directory.remove() }
        let shell = try GatedShell(script, output: directory.path + "/out")
        try cgroup.place(pid: shell.pid)
        try shell.open()
        _ = try shell.wait()
        return shell.text
    }

    @Test func v1DeviceRulesDenyTheDiskAndAllowDevNull() throws {
        let layout = try hostLayout()
        guard case .v1 = layout.placement(of: "devices") else {
            Issue.record("this host has no v1 devices hierarchy")
            return
        }
        let cgroup = try ContainerCgroup.create(.lxcPayload(name: uniqueName("dev1")), in: layout)
        defer { try? cgroup.remove() }
        try cgroup.setDevices(DeviceRule.defaultAllowed)
        #expect(try cgroup.get("devices.list").contains("c 1:3 rwm"))

        let text = try run(probe, in: cgroup, stem: "dev1")
        #expect(text.contains("/dev/vda: Operation not permitted"))
        #expect(text.contains("vda-denied"))
        #expect(text.contains("null-ok") && text.contains("zero-ok"))
        try cgroup.remove()
    }

    @Test func bpfDeviceProgramDeniesOnTheUnifiedHierarchy() throws {
        let layout = try hostLayout().ignoringV1(["devices"])
        #expect(layout.placement(of: "devices") == .v2)
        let cgroup = try ContainerCgroup.create(.lxcPayload(name: uniqueName("dev2")), in: layout)
        defer { try? cgroup.remove() }
        try cgroup.setDevices(DeviceRule.defaultAllowed)

        let text = try run(probe, in: cgroup, stem: "dev2")
        #expect(text.contains("/dev/vda: Operation not permitted"))
        #expect(text.contains("null-ok") && text.contains("zero-ok"))
        try cgroup.remove()
    }

    @Test func lxcCgroup2DenyLineMakesDevNullFailWithEPERM() throws {
        let layout = try hostLayout().ignoringV1(["devices"])
        let cgroup = try ContainerCgroup.create(.lxcPayload(name: uniqueName("dev3")), in: layout)
        defer { try? cgroup.remove() }
        try cgroup.apply([try CgroupItem(key: "lxc.cgroup2.devices.deny", value: "c 1:3 rwm")])

        let text = try run(
            "cat /dev/null 2>&1 || echo null-denied; head -c 1 /dev/zero >/dev/zero && echo zero-ok",
            in: cgroup, stem: "dev3")
        #expect(text.contains("'/dev/null': Operation not permitted"))
        #expect(text.contains("null-denied") && text.contains("zero-ok"))

        // set_cgroup_item adds a line to the program in place.
        try cgroup.set("devices.deny", to: "c 1:5 r")
        #expect(
            cgroup.deviceRules?.last
                == DeviceRule(allow: false, kind: .character, major: 1, minor: 5, access: "r"))
        let zero = try run(
            "head -c 1 /dev/zero 2>&1 >/dev/zero; echo done", in: cgroup, stem: "dev3z")
        // Reading is denied; the write redirection to the same node still opens.
        #expect(zero == "head: /dev/zero: Operation not permitted\ndone\n")

        // A second policy replaces the first: /dev/null works again.
        try cgroup.apply([try CgroupItem(key: "lxc.cgroup2.devices.deny", value: "c 1:5 rwm")])
        let again = try run("cat /dev/null && echo null-ok", in: cgroup, stem: "dev3b")
        #expect(again.contains("null-ok"))
        try cgroup.remove()
    }
}

@Suite struct HostLifecycleTests {
    /// The top-level cgroups of every hierarchy whose name contains `stem`.
    private func leftovers(_ layout: CgroupLayout, _ stem: String) -> [String] {
        layout.hierarchies.flatMap { hierarchy in
            CgroupFiles.subdirectories(of: hierarchy.rootDirectory)
                .filter { $0.contains(stem) }
                .map { hierarchy.rootDirectory + "/" + $0 }
        }
    }

    @Test func hundredCreatePlaceRemoveCyclesLeaveNoDirectoryBehind() throws {
        let layout = try hostLayout()
        let stem = uniqueName("cycle")
        let before = layout.hierarchies.map { CgroupFiles.subdirectories(of: $0.rootDirectory) }
        for round in 0..<100 {
            let cgroup = try ContainerCgroup.create(
                .lxcPayload(name: "\(stem)-\(round)"), in: layout)
            let sleeper = try Spawn.start(
                SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "30"]))
            try cgroup.place(pid: sleeper.pid)
            try cgroup.kill()
            _ = try sleeper.wait()
            try cgroup.remove()
        }
        #expect(leftovers(layout, stem).isEmpty)
        let after = layout.hierarchies.map { CgroupFiles.subdirectories(of: $0.rootDirectory) }
        // Other tests run at the same time; none of this test's names may remain.
        #expect(
            zip(before, after).allSatisfy { Set($1.filter { $0.contains(stem) }).isSubset(of: $0) })
    }

    @Test func badInputGivesTheExactErrorAndLeavesNothingBehind() throws {
        let layout = try hostLayout()
        let name = uniqueName("bad")
        #expect(
            throws: CgroupError.invalidPath(
                "../../\(name)/lxc.payload.\(name)", reason: "'..' would leave the hierarchy root")
        ) {
            try ContainerCgroup.create(.lxcPayload(name: name, dir: "../../\(name)"), in: layout)
        }

        let cgroup = try ContainerCgroup.create(.lxcPayload(name: name), in: layout)
        let item = { (key: String, value: String) throws(CgroupError) in
            try cgroup.apply([try CgroupItem(key: key, value: value)])
        }
        let unknownController = #expect(throws: CgroupError.self) {
            try item("lxc.cgroup.bogus.max", "1")
        }
        #expect(
            unknownController?.description
                == "unknown cgroup controller bogus in lxc.cgroup.bogus.max")

        let memory = "/sys/fs/cgroup/memory/lxc.payload.\(name)"
        let unknownFile = #expect(throws: CgroupError.self) {
            try item("lxc.cgroup.memory.bogus", "1")
        }
        #expect(
            unknownFile?.description
                == "unknown cgroup file memory.bogus: \(memory)/memory.bogus does not exist")

        let refused = #expect(throws: CgroupError.self) { try item("lxc.cgroup.pids.max", "abc") }
        #expect(
            refused?.description
                == "write /sys/fs/cgroup/pids/lxc.payload.\(name)/pids.max = abc: invalid argument")

        let noFreezerFile = #expect(throws: CgroupError.self) {
            try cgroup.set("freezer.bogus", to: "1")
        }
        #expect(noFreezerFile?.description.hasPrefix("unknown cgroup file freezer.bogus") == true)

        try cgroup.remove()
        #expect(leftovers(layout, name).isEmpty)
    }
}
