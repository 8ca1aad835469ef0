import Glibc
import LXCSystem
import Testing

@testable import LXCCgroups

private let pureUnifiedMountInfo = """
    22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
    25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
    """

private let pureV1MountInfo = """
    22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
    24 22 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:3 - tmpfs tmpfs ro,mode=755
    26 24 0:23 / /sys/fs/cgroup/systemd rw,relatime shared:5 - cgroup cgroup rw,xattr,name=systemd
    30 24 0:26 / /sys/fs/cgroup/memory rw,relatime shared:10 master:2 - cgroup cgroup rw,memory
    31 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
    32 24 0:28 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids
    33 24 0:29 / /sys/fs/cgroup/cpuset rw,relatime shared:13 - cgroup cgroup rw,cpuset
    34 24 0:30 / /sys/fs/cgroup/blkio rw,relatime shared:14 - cgroup cgroup rw,blkio
    35 24 0:31 / /sys/fs/cgroup/devices rw,relatime shared:15 - cgroup cgroup rw,devices
    36 24 0:32 / /sys/fs/cgroup/freezer rw,relatime shared:16 - cgroup cgroup rw,freezer
    37 24 0:33 / /sys/fs/cgroup/hugetlb rw,relatime shared:17 - cgroup cgroup rw,hugetlb
    """

private let pureV1OwnCgroups = """
    9:hugetlb:/
    8:devices:/user.slice
    7:freezer:/
    6:blkio:/user.slice
    5:pids:/user.slice/user-0.slice
    4:cpuset:/
    3:cpu,cpuacct:/user.slice
    2:memory:/user.slice/user-0.slice
    1:name=systemd:/user.slice/user-0.slice/session-1.scope
    """

private let pureV1InitCgroups = """
    9:hugetlb:/
    8:devices:/
    7:freezer:/
    6:blkio:/
    5:pids:/
    4:cpuset:/
    3:cpu,cpuacct:/
    2:memory:/
    1:name=systemd:/init.scope
    """

private let v1Directories = [
    "memory", "cpu,cpuacct", "pids", "cpuset", "blkio", "devices", "freezer", "hugetlb",
]

@Suite struct LayoutParsingTests {
    @Test func mountinfoOptionalFieldsEndAtTheSeparator() throws {
        let text = """
            40 31 0:37 / /sys/fs/cgroup/with\\040space rw shared:1 master:2 propagate_from:3 - cgroup cgroup rw,pids
            41 31 0:38 /nested /mnt/unified rw - cgroup2 none rw
            """
        let mounts = try CgroupLayout.parseMountInfo(text)
        #expect(
            mounts == [
                .init(
                    root: "/", mountPoint: "/sys/fs/cgroup/with space", fileSystem: "cgroup",
                    superOptions: "rw,pids"),
                .init(
                    root: "/nested", mountPoint: "/mnt/unified", fileSystem: "cgroup2",
                    superOptions: "rw"),
            ])
    }

    @Test func malformedMountinfoIsRefusedWithTheLine() {
        #expect(throws: CgroupError.layout("malformed mountinfo line: 1 2 3")) {
            try CgroupLayout.parseMountInfo("1 2 3")
        }
    }

    @Test func pureUnifiedLayoutPutsEveryOfferedControllerOnV2() throws {
        let layout = try CgroupLayout(
            mountInfo: pureUnifiedMountInfo, ownCgroups: "0::/user.slice/session-1.scope\n",
            initCgroups: "0::/init.scope\n",
            unifiedControllers: "cpuset cpu io memory hugetlb pids rdma misc\n")
        #expect(layout.isPureUnified)
        #expect(layout.hierarchies.count == 1)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup")
        #expect(layout.unified?.ownCgroup == "/user.slice/session-1.scope")
        #expect(layout.unified?.initCgroup == "/")
        for controller in ["memory", "pids", "cpu", "io", "freezer", "devices", "cpuacct"] {
            #expect(layout.placement(of: controller) == .v2, "\(controller)")
        }
        #expect(layout.placement(of: "blkio") == .absent)
        #expect(layout.placement(of: "net_cls") == .absent)
    }

    @Test func pureV1LayoutReadsControllersFromMountOptions() throws {
        let layout = try CgroupLayout(mountInfo: pureV1MountInfo, ownCgroups: pureV1OwnCgroups)
        #expect(layout.unified == nil)
        #expect(!layout.isPureUnified)
        let cpu = layout.hierarchies.first { $0.controllers == ["cpu", "cpuacct"] }
        #expect(cpu?.mountPoint == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(cpu?.ownCgroup == "/user.slice")
        let systemd = layout.hierarchies.first { $0.name == "systemd" }
        #expect(systemd?.controllers == [])
        #expect(systemd?.ownCgroup == "/user.slice/user-0.slice/session-1.scope")
        #expect(layout.placement(of: "cpuacct") == .v1(index: 2))
        #expect(layout.placement(of: "freezer") != .v2)
        #expect(layout.placement(of: "io") == .absent)
    }

    @Test func hybridLayoutDecidesPerController() throws {
        let text = """
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """
        let layout = try CgroupLayout(
            mountInfo: text, ownCgroups: "2:memory:/a\n1:cpu:/\n0::/b\n",
            unifiedControllers: "hugetlb pids")
        #expect(layout.placement(of: "memory") == .v1(index: 1))
        #expect(layout.placement(of: "hugetlb") == .v2)
        #expect(layout.placement(of: "pids") == .v2)
        #expect(layout.placement(of: "freezer") == .v2)
        #expect(layout.unified?.ownCgroup == "/b")
        #expect(layout.hierarchies[1].directory(of: "/a/c") == "/sys/fs/cgroup/memory/a/c")
        #expect(layout.ignoringV1(["memory"]).placement(of: "memory") == .absent)
    }

    @Test func aMountOfANestedCgroupMapsPathsBelowItsRoot() {
        let hierarchy = CgroupHierarchy(
            version: .v2, mountPoint: "/sys/fs/cgroup", mountRoot: "/lxc.payload.c1",
            controllers: [],
            name: nil, ownCgroup: "/lxc.payload.c1/init", initCgroup: "/", rootPrefix: "/tmp/t")
        #expect(hierarchy.directory(of: "/lxc.payload.c1/init") == "/tmp/t/sys/fs/cgroup/init")
        #expect(hierarchy.directory(of: "/lxc.payload.c1") == "/tmp/t/sys/fs/cgroup")
        #expect(hierarchy.directory(of: "/other") == nil)
    }
}

@Suite struct CgroupPathTests {
    @Test func lxcNamesThePayloadAndMonitorCgroups() throws {
        #expect(try CgroupPath.lxcPayload(name: "web").limit == "lxc.payload.web")
        #expect(try CgroupPath.lxcPayload(name: "web").base == .initProcess)
        #expect(try CgroupPath.lxcPayload(name: "web", relative: true).base == .caller)
        #expect(
            try CgroupPath.lxcPayload(name: "web", dir: "my/first").limit
                == "my/first/lxc.payload.web")
        #expect(try CgroupPath.lxcMonitor(name: "web").limit == "lxc.monitor.web")
        let isolated = try CgroupPath.lxcIsolated(container: "c/payload", inner: "init")
        #expect(isolated.limit == "c/payload" && isolated.inner == "init" && !isolated.uniquify)
    }

    @Test func ociPathsAreAbsoluteFromTheRootAndRelativeFromTheCaller() throws {
        let absolute = try CgroupPath.oci(cgroupsPath: "/machine/ctr1", containerID: "x")
        #expect(
            absolute.base == .root && absolute.limit == "machine/ctr1" && absolute.allowExisting)
        let relative = try CgroupPath.oci(cgroupsPath: "pod/ctr1", containerID: "x")
        #expect(relative.base == .caller && relative.limit == "pod/ctr1")
        #expect(try CgroupPath.oci(cgroupsPath: nil, containerID: "abc").limit == "abc")
    }

    @Test func dotDotIsRefusedWherever() {
        let error = CgroupError.invalidPath(
            "../../escape/lxc.payload.x", reason: "'..' would leave the hierarchy root")
        #expect(throws: error) { try CgroupPath.lxcPayload(name: "x", dir: "../../escape") }
        #expect(throws: CgroupError.self) {
            try CgroupPath.oci(cgroupsPath: "/a/../../b", containerID: "x")
        }
        #expect(throws: CgroupError.self) {
            try CgroupPath.lxcIsolated(container: "a", inner: "..")
        }
        #expect(throws: CgroupError.self) { try CgroupPath.lxcPayload(name: "a/b") }
        #expect(
            error.description
                == "cgroup path ../../escape/lxc.payload.x: '..' would leave the hierarchy root")
    }
}

/// cgroupfs lets rmdir remove a cgroup with its interface files; plain directories need them
/// gone first.
private func dropKernelFiles(_ cgroup: ContainerCgroup) {
    for directory in cgroup.limitDirectories {
        for name in [""] + CgroupFiles.subdirectories(of: directory).map({ "/" + $0 }) {
            guard let handle = opendir(directory + name) else { continue }
            var files: [String] = []
            while let entry = readdir(handle) {
                let file = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
                if entry.pointee.d_type == UInt8(DT_REG) { files.append(file) }
            }
            closedir(handle)
            for file in files { unlink(directory + name + "/" + file) }
        }
    }
}

@Suite struct FakeTreeTests {
    /// A pure cgroup2 tree as the kernel lays it out at the root.
    private func unifiedTree(_ root: String) throws -> CgroupLayout {
        let controllers = "cpuset cpu io memory hugetlb pids rdma misc"
        try makeFile(root + "/sys/fs/cgroup/cgroup.controllers", controllers)
        try makeFile(root + "/sys/fs/cgroup/cgroup.subtree_control", "memory")
        try makeFile(root + "/sys/fs/cgroup/init.scope/cgroup.procs", "1")
        return try CgroupLayout(
            mountInfo: pureUnifiedMountInfo, ownCgroups: "0::/user.slice\n",
            initCgroups: "0::/init.scope\n",
            unifiedControllers: controllers, rootPrefix: root)
    }

    /// The interface files the kernel would make in a new cgroup2 directory.
    private func kernelFilesV2(_ directory: String) throws {
        for file in [
            "memory.max", "memory.swap.max", "memory.low", "memory.high", "cpu.weight", "cpu.max",
            "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max",
            "cgroup.procs", "cgroup.freeze", "cgroup.subtree_control",
        ] {
            try makeFile(directory + "/" + file)
        }
        try makeFile(directory + "/cgroup.events", "populated 0\nfrozen 1\n")
    }

    @Test func pureCgroup2HostGetsTheV2FilesAndValues() throws {
        let tree = try TemporaryDirectory("v2tree")
        defer { tree.remove() }
        let layout = try unifiedTree(tree.path)
        let before = directoryListing(tree.path)

        let cgroup = try ContainerCgroup.create(.lxcPayload(name: "web"), in: layout)
        let directory = tree.path + "/sys/fs/cgroup/lxc.payload.web"
        #expect(cgroup.path == "lxc.payload.web")
        #expect(cgroup.limitDirectories == [directory])
        // Controllers are enabled when a limit needs them, not before.
        #expect(readFile(tree.path + "/sys/fs/cgroup/cgroup.subtree_control") == "memory")

        try kernelFilesV2(directory)
        let resources = CgroupResources(
            memory: .init(limit: 256 << 20, reservation: 128 << 20, swap: 512 << 20),
            cpu: .init(shares: 1024, quota: 50_000, period: 100_000, cpus: "0-1", mems: "0"),
            pidsLimit: 10,
            blockIO: .init(
                weight: 500, throttleReadBpsDevice: [.init(major: 8, minor: 0, rate: 1_048_576)]),
            hugepageLimits: [.init(pageSize: "2MB", limit: 0)],
            unified: ["memory.high": "200M"])
        try cgroup.apply(resources)
        let expected = [
            "memory.max": "268435456", "memory.swap.max": "268435456", "memory.low": "134217728",
            "memory.high": "200M", "cpu.weight": "39", "cpu.max": "50000 100000",
            "cpuset.cpus": "0-1",
            "cpuset.mems": "0", "pids.max": "10", "io.weight": "4950", "io.max": "8:0 rbps=1048576",
            "hugetlb.2MB.max": "0",
        ]
        for (file, value) in expected {
            #expect(readFile(directory + "/" + file) == value, "\(file)")
        }
        // The missing ones of the controllers the limits use, in one write.
        #expect(
            readFile(tree.path + "/sys/fs/cgroup/cgroup.subtree_control")
                == "+cpu +cpuset +hugetlb +io +pids")

        try cgroup.place(pid: 4242)
        #expect(readFile(directory + "/cgroup.procs") == "4242")
        try cgroup.freeze(timeoutMilliseconds: 50)
        #expect(readFile(directory + "/cgroup.freeze") == "1")

        dropKernelFiles(cgroup)
        try cgroup.remove()
        #expect(directoryListing(tree.path) == before)
    }

    @Test func cgroup2LimitsRefuseWhatV2CannotExpress() throws {
        let tree = try TemporaryDirectory("v2refuse")
        defer { tree.remove() }
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: "web"), in: try unifiedTree(tree.path))
        defer { try? cgroup.remove() }
        #expect(throws: CgroupError.unsupported("a kernel memory limit on cgroup v2")) {
            try cgroup.apply(CgroupResources(memory: .init(kernel: 1 << 20)))
        }
        #expect(throws: CgroupError.unsupported("a realtime cpu limit on cgroup v2")) {
            try cgroup.apply(CgroupResources(cpu: .init(realtimeRuntime: 1000)))
        }
        let swap = CgroupError.invalidValue(
            item: "memory.swap", value: "1024",
            reason: "a swap limit needs a memory limit on cgroup v2")
        #expect(throws: swap) { try cgroup.apply(CgroupResources(memory: .init(swap: 1024))) }
        let v1Item = CgroupItem(version: .v1, file: "memory.limit_in_bytes", value: "1")
        #expect(
            throws: CgroupError.controllerUnavailable(
                "memory", version: .v1, item: "lxc.cgroup.memory.limit_in_bytes")
        ) {
            try cgroup.apply([v1Item])
        }
    }

    @Test func aControllerTheParentCannotDelegateFailsTheLimitWithTheReason() throws {
        let tree = try TemporaryDirectory("v2delegate")
        defer { tree.remove() }
        let layout = try unifiedTree(tree.path)
        // The caller's cgroup exists but offers no subtree_control to write.
        try makeFile(tree.path + "/sys/fs/cgroup/user.slice/cgroup.procs", "1")
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: "web", relative: true), in: layout)
        defer { try? cgroup.remove() }
        let file = tree.path + "/sys/fs/cgroup/user.slice/cgroup.subtree_control"
        let cause = "unknown cgroup file cgroup.subtree_control: \(file) does not exist"
        #expect(throws: CgroupError.controllerNotEnabled("pids", cause: cause)) {
            try cgroup.apply(CgroupResources(pidsLimit: 3))
        }
        #expect(throws: CgroupError.controllerNotEnabled("memory", cause: cause)) {
            try cgroup.set("memory.max", to: "1G")
        }
    }

    /// A pure v1 tree with the caller in the cgroups of `pureV1OwnCgroups`.
    private func v1Tree(_ root: String) throws -> CgroupLayout {
        for directory in v1Directories {
            try makeFile(root + "/sys/fs/cgroup/\(directory)/cgroup.procs", "1")
        }
        try makeFile(root + "/sys/fs/cgroup/systemd/cgroup.procs", "1")
        // The caller's own cgroups exist, as they do on a real host.
        for line in pureV1OwnCgroups.split(separator: "\n") {
            let parts = line.split(separator: ":")
            let directory =
                parts[1] == "cpu,cpuacct" ? "cpu,cpuacct" : parts[1].replacing("name=", with: "")
            try makeFile(root + "/sys/fs/cgroup/\(directory)\(parts[2])/cgroup.procs")
        }
        return try CgroupLayout(
            mountInfo: pureV1MountInfo, ownCgroups: pureV1OwnCgroups,
            initCgroups: pureV1InitCgroups,
            rootPrefix: root)
    }

    @Test func pureV1HostGetsTheV1FilesAndValues() throws {
        let tree = try TemporaryDirectory("v1tree")
        defer { tree.remove() }
        let layout = try v1Tree(tree.path)
        let before = directoryListing(tree.path)

        let cgroup = try ContainerCgroup.create(.lxcPayload(name: "web"), in: layout)
        let base = tree.path + "/sys/fs/cgroup/"
        #expect(cgroup.limitDirectories == v1Directories.map { base + $0 + "/lxc.payload.web" })
        // Named hierarchies carry no controller and get no directory.
        #expect(!CgroupFiles.exists(base + "systemd/lxc.payload.web"))

        let files = [
            "memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes",
            "memory/memory.soft_limit_in_bytes", "cpu,cpuacct/cpu.shares",
            "cpu,cpuacct/cpu.cfs_quota_us",
            "cpu,cpuacct/cpu.cfs_period_us", "cpuset/cpuset.cpus", "pids/pids.max",
            "blkio/blkio.bfq.weight",
            "blkio/blkio.throttle.write_bps_device", "hugetlb/hugetlb.2MB.limit_in_bytes",
            "devices/devices.allow", "devices/devices.deny", "freezer/freezer.state",
        ]
        for file in files {
            let parts = file.split(separator: "/")
            try makeFile(base + parts[0] + "/lxc.payload.web/" + parts[1])
        }
        try cgroup.apply(
            CgroupResources(
                memory: .init(limit: 256 << 20, reservation: 128 << 20, swap: 512 << 20),
                cpu: .init(shares: 512, quota: 20_000, period: 100_000, cpus: "0"),
                pidsLimit: -1,
                blockIO: .init(
                    weight: 500, throttleWriteBpsDevice: [.init(major: 8, minor: 0, rate: 4096)]),
                hugepageLimits: [.init(pageSize: "2MB", limit: 1 << 30)],
                devices: DeviceRule.defaultAllowed))
        let expected = [
            "memory/memory.limit_in_bytes": "268435456",
            "memory/memory.memsw.limit_in_bytes": "536870912",
            "memory/memory.soft_limit_in_bytes": "134217728", "cpu,cpuacct/cpu.shares": "512",
            "cpu,cpuacct/cpu.cfs_quota_us": "20000", "cpu,cpuacct/cpu.cfs_period_us": "100000",
            "cpuset/cpuset.cpus": "0", "pids/pids.max": "max", "blkio/blkio.bfq.weight": "500",
            "blkio/blkio.throttle.write_bps_device": "8:0 4096",
            "hugetlb/hugetlb.2MB.limit_in_bytes": "1073741824",
            // Each line is one write; the plain file keeps the last of each kind.
            "devices/devices.deny": "a", "devices/devices.allow": "c 10:200 rwm",
        ]
        for (file, value) in expected {
            let parts = file.split(separator: "/")
            #expect(readFile(base + parts[0] + "/lxc.payload.web/" + parts[1]) == value, "\(file)")
        }

        try cgroup.apply([try CgroupItem(key: "lxc.cgroup.devices.allow", value: "b 8:* r")])
        #expect(readFile(base + "devices/lxc.payload.web/devices.allow") == "b 8:* r")
        #expect(
            throws: CgroupError.controllerUnavailable(
                "io", version: .v2, item: "lxc.cgroup2.io.max")
        ) {
            try cgroup.apply([try CgroupItem(key: "lxc.cgroup2.io.max", value: "8:0 rbps=1")])
        }

        dropKernelFiles(cgroup)
        try cgroup.remove()
        #expect(directoryListing(tree.path) == before)
    }

    @Test func relativePlacementGoesBelowTheCallersCgroupInEachHierarchy() throws {
        let tree = try TemporaryDirectory("v1relative")
        defer { tree.remove() }
        let layout = try v1Tree(tree.path)
        let before = directoryListing(tree.path)
        let cgroup = try ContainerCgroup.create(
            .lxcPayload(name: "web", relative: true), in: layout)
        let base = tree.path + "/sys/fs/cgroup/"
        #expect(
            cgroup.limitDirectories.contains(
                base + "memory/user.slice/user-0.slice/lxc.payload.web"))
        #expect(cgroup.limitDirectories.contains(base + "cpu,cpuacct/user.slice/lxc.payload.web"))
        #expect(cgroup.limitDirectories.contains(base + "freezer/lxc.payload.web"))
        dropKernelFiles(cgroup)
        try cgroup.remove()
        #expect(directoryListing(tree.path) == before)
    }

    @Test func anExistingNameGetsTheNextFreeSuffixInEveryHierarchy() throws {
        let tree = try TemporaryDirectory("v1suffix")
        defer { tree.remove() }
        let layout = try v1Tree(tree.path)
        try makeFile(tree.path + "/sys/fs/cgroup/memory/lxc.payload.web/cgroup.procs")
        try makeFile(tree.path + "/sys/fs/cgroup/pids/lxc.payload.web-1/cgroup.procs")
        let before = directoryListing(tree.path)

        let cgroup = try ContainerCgroup.create(.lxcPayload(name: "web"), in: layout)
        #expect(cgroup.path == "lxc.payload.web-2")
        #expect(cgroup.limitDirectories.allSatisfy { $0.hasSuffix("/lxc.payload.web-2") })
        dropKernelFiles(cgroup)
        try cgroup.remove()
        #expect(directoryListing(tree.path) == before)

        let exact = try CgroupPath.lxcIsolated(container: "lxc.payload.web", inner: nil)
        #expect(
            throws: CgroupError.alreadyExists(
                path: tree.path + "/sys/fs/cgroup/memory/lxc.payload.web")
        ) {
            try ContainerCgroup.create(exact, in: layout)
        }
        #expect(directoryListing(tree.path) == before)
    }

    @Test func advancedIsolationPutsProcessesInTheInnerCgroupAndLimitsOnTheOuter() throws {
        let tree = try TemporaryDirectory("v2inner")
        defer { tree.remove() }
        let layout = try unifiedTree(tree.path)
        let before = directoryListing(tree.path)
        let path = try CgroupPath.lxcIsolated(container: "web", inner: "init")
        let cgroup = try ContainerCgroup.create(path, in: layout)
        let outer = tree.path + "/sys/fs/cgroup/web"
        #expect(cgroup.limitDirectories == [outer])
        #expect(cgroup.payloadDirectories == [outer + "/init"])
        try makeFile(outer + "/pids.max")
        try makeFile(outer + "/cgroup.subtree_control")
        try cgroup.apply(CgroupResources(pidsLimit: 5))
        #expect(readFile(outer + "/pids.max") == "5")

        #expect(!CgroupFiles.exists(outer + "/init"))
        // What place does first; then the kernel would have made the new cgroup's files.
        try cgroup.ensurePayloadDirectories()
        try makeFile(outer + "/init/cgroup.procs")
        try cgroup.place(pid: 77)
        #expect(readFile(outer + "/init/cgroup.procs") == "77")
        dropKernelFiles(cgroup)
        try cgroup.remove()
        #expect(directoryListing(tree.path) == before)
    }
}

@Suite struct DeviceRuleTests {
    @Test func lxcLinesParseAndPrintBack() throws {
        for line in ["a", "c 1:3 rwm", "b *:* m", "c 136:* rw"] {
            #expect(try DeviceRule(line: line, allow: true).line == line)
        }
        let rule = try DeviceRule(line: "c 1:3 rw", allow: false)
        #expect(
            rule == DeviceRule(allow: false, kind: .character, major: 1, minor: 3, access: "rw"))
    }

    @Test func badDeviceLinesNameTheLine() {
        #expect(
            throws: CgroupError.invalidValue(
                item: "devices.allow", value: "x 1:3 r", reason: "type must be a, b or c")
        ) {
            try DeviceRule(line: "x 1:3 r", allow: true)
        }
        #expect(
            throws: CgroupError.invalidValue(
                item: "devices.deny", value: "c 1:3 rx", reason: "access must be some of rwm")
        ) {
            try DeviceRule(line: "c 1:3 rx", allow: false)
        }
    }

    @Test func deviceProgramChecksRulesLastToFirst() {
        let program = DeviceProgram.instructions(for: [
            .denyAll, DeviceRule(allow: true, kind: .character, major: 1, minor: 3, access: "rw"),
        ])
        // Prologue 6, the allow rule (kind, access, major, minor, verdict 2), deny-all (verdict
        // 2), which ends the program: nothing after it could be reached.
        #expect(program.count == 6 + 6 + 2)
        let allow = Array(program[6..<12])
        #expect(allow[0] == BPFInstruction(code: 0x55, destination: 2, offset: 5, immediate: 2))
        #expect(allow[1] == BPFInstruction(code: 0x45, destination: 3, offset: 4, immediate: 1))
        #expect(allow[2] == BPFInstruction(code: 0x55, destination: 4, offset: 3, immediate: 1))
        #expect(allow[3] == BPFInstruction(code: 0x55, destination: 5, offset: 2, immediate: 3))
        #expect(allow[4] == BPFInstruction(code: 0xb7, destination: 0, immediate: 1))
        #expect(program[12] == BPFInstruction(code: 0xb7, destination: 0, immediate: 0))
        #expect(program[13] == BPFInstruction(code: 0x95))
        // A partial deny skips unless a requested bit is denied: JSET over a JA to the end.
        let deny = DeviceProgram.block(for: DeviceRule(allow: false, kind: .block, access: "w"))
        #expect(deny[1] == BPFInstruction(code: 0x45, destination: 3, offset: 1, immediate: 4))
        #expect(deny[2] == BPFInstruction(code: 0x05, offset: 2))
        #expect(
            BPFInstruction(code: 0x61, destination: 3, source: 1, offset: 4).bytes == [
                0x61, 0x13, 4, 0, 0, 0, 0, 0,
            ])
    }
}

@Suite struct StatsRenderingTests {
    @Test func statsRenderAsJSONWithNullForUnknown() {
        var stats = CgroupStats()
        stats.memoryCurrent = 4096
        stats.pidsCurrent = 2
        #expect(
            stats.json
                == #"{"memory":{"current":4096,"peak":null,"limit":null},"cpu":{"usage_ns":null,"#
                + #""throttled_periods":null},"pids":{"current":2,"limit":null},"#
                + #""io":{"read_bytes":null,"write_bytes":null}}"#)
    }

    @Test func conversionsFollowTheRuntimesFormulas() throws {
        #expect(CgroupResources.cpuWeight(shares: 1024) == 39)
        #expect(CgroupResources.cpuWeight(shares: 2) == 1)
        #expect(CgroupResources.cpuWeight(shares: 262_144) == 10_000)
        #expect(CgroupResources.cpuWeight(shares: 0) == nil)
        #expect(CgroupResources.ioWeight(blkioWeight: 10) == 1)
        #expect(CgroupResources.ioWeight(blkioWeight: 1000) == 10_000)
        #expect(try CgroupResources.swapMax(memory: 100, swap: 300) == "200")
        #expect(try CgroupResources.swapMax(memory: 100, swap: -1) == "max")
    }
}
