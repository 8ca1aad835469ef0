import LXCSystem

/// Resource limits with the fields of OCI `linux.resources`; nil leaves a setting alone.
public struct CgroupResources: Equatable, Sendable {
    /// OCI `memory`, in bytes; -1 means unlimited.
    public struct Memory: Equatable, Sendable {
        public var limit: Int64?
        public var reservation: Int64?
        /// Memory plus swap, as OCI and v1's `memory.memsw.limit_in_bytes` count it.
        public var swap: Int64?
        public var kernel: Int64?
        public var kernelTCP: Int64?
        public var swappiness: UInt64?
        public var disableOOMKiller: Bool?

        public init(
            limit: Int64? = nil, reservation: Int64? = nil, swap: Int64? = nil,
            kernel: Int64? = nil, kernelTCP: Int64? = nil, swappiness: UInt64? = nil,
            disableOOMKiller: Bool? = nil
        ) {
            self.limit = limit
            self.reservation = reservation
            self.swap = swap
            self.kernel = kernel
            self.kernelTCP = kernelTCP
            self.swappiness = swappiness
            self.disableOOMKiller = disableOOMKiller
        }
    }

    /// OCI `cpu`.
    public struct CPU: Equatable, Sendable {
        public var shares: UInt64?
        /// Microseconds per period; -1 or 0 means unlimited.
        public var quota: Int64?
        public var period: UInt64?
        public var realtimeRuntime: Int64?
        public var realtimePeriod: UInt64?
        public var cpus: String?
        public var mems: String?
        public var idle: Int64?

        public init(
            shares: UInt64? = nil, quota: Int64? = nil, period: UInt64? = nil,
            realtimeRuntime: Int64? = nil, realtimePeriod: UInt64? = nil, cpus: String? = nil,
            mems: String? = nil, idle: Int64? = nil
        ) {
            self.shares = shares
            self.quota = quota
            self.period = period
            self.realtimeRuntime = realtimeRuntime
            self.realtimePeriod = realtimePeriod
            self.cpus = cpus
            self.mems = mems
            self.idle = idle
        }
    }

    /// OCI `blockIO.weightDevice` entry.
    public struct WeightDevice: Equatable, Sendable {
        public var major: Int64
        public var minor: Int64
        public var weight: UInt16?
        public var leafWeight: UInt16?

        public init(major: Int64, minor: Int64, weight: UInt16? = nil, leafWeight: UInt16? = nil) {
            self.major = major
            self.minor = minor
            self.weight = weight
            self.leafWeight = leafWeight
        }
    }

    /// OCI `blockIO.throttle*Device` entry.
    public struct ThrottleDevice: Equatable, Sendable {
        public var major: Int64
        public var minor: Int64
        public var rate: UInt64

        public init(major: Int64, minor: Int64, rate: UInt64) {
            self.major = major
            self.minor = minor
            self.rate = rate
        }
    }

    /// OCI `blockIO`.
    public struct BlockIO: Equatable, Sendable {
        public var weight: UInt16?
        public var leafWeight: UInt16?
        public var weightDevice: [WeightDevice]
        public var throttleReadBpsDevice: [ThrottleDevice]
        public var throttleWriteBpsDevice: [ThrottleDevice]
        public var throttleReadIOPSDevice: [ThrottleDevice]
        public var throttleWriteIOPSDevice: [ThrottleDevice]

        public init(
            weight: UInt16? = nil, leafWeight: UInt16? = nil, weightDevice: [WeightDevice] = [],
            throttleReadBpsDevice: [ThrottleDevice] = [],
            throttleWriteBpsDevice: [ThrottleDevice] = [],
            throttleReadIOPSDevice: [ThrottleDevice] = [],
            throttleWriteIOPSDevice: [ThrottleDevice] = []
        ) {
            self.weight = weight
            self.leafWeight = leafWeight
            self.weightDevice = weightDevice
            self.throttleReadBpsDevice = throttleReadBpsDevice
            self.throttleWriteBpsDevice = throttleWriteBpsDevice
            self.throttleReadIOPSDevice = throttleReadIOPSDevice
            self.throttleWriteIOPSDevice = throttleWriteIOPSDevice
        }
    }

    /// OCI `hugepageLimits` entry: `pageSize` as the kernel names it (`2MB`, `1GB`).
    public struct HugepageLimit: Equatable, Sendable {
        public var pageSize: String
        public var limit: UInt64

        public init(pageSize: String, limit: UInt64) {
            self.pageSize = pageSize
            self.limit = limit
        }
    }

    public var memory: Memory?
    public var cpu: CPU?
    /// OCI `pids.limit`; 0 or less means unlimited.
    public var pidsLimit: Int64?
    public var blockIO: BlockIO?
    public var hugepageLimits: [HugepageLimit]
    /// OCI `unified`: cgroup2 file names and values, written as given.
    public var unified: [String: String]
    /// OCI `devices`, in order; nil leaves the device policy alone. See `setDevices`.
    public var devices: [DeviceRule]?

    public init(
        memory: Memory? = nil, cpu: CPU? = nil, pidsLimit: Int64? = nil, blockIO: BlockIO? = nil,
        hugepageLimits: [HugepageLimit] = [], unified: [String: String] = [:],
        devices: [DeviceRule]? = nil
    ) {
        self.memory = memory
        self.cpu = cpu
        self.pidsLimit = pidsLimit
        self.blockIO = blockIO
        self.hugepageLimits = hugepageLimits
        self.unified = unified
        self.devices = devices
    }

    /// cgroup2's `cpu.weight` for v1 `cpu.shares`, by the linear map runc uses
    /// ([2, 262144] onto [1, 10000]); nil for 0, which means unset.
    public static func cpuWeight(shares: UInt64) -> UInt64? {
        if shares == 0 { return nil }
        let clamped = min(max(shares, 2), 262_144)
        return 1 + ((clamped - 2) * 9999) / 262_142
    }

    /// cgroup2's `io.weight` for a v1 blkio weight ([10, 1000] onto [1, 10000]).
    public static func ioWeight(blkioWeight: UInt16) -> UInt64 {
        let clamped = UInt64(min(max(blkioWeight, 10), 1000))
        return 1 + ((clamped - 10) * 9999) / 990
    }

    /// cgroup2's `memory.swap.max` for OCI's memory+swap `swap`: swap alone is the difference.
    /// nil when unset; "max" for -1.
    public static func swapMax(memory: Int64?, swap: Int64?) throws(CgroupError) -> String? {
        guard let swap, swap != 0 else { return nil }
        if swap == -1 { return "max" }
        guard let memory, memory > 0 else {
            throw .invalidValue(
                item: "memory.swap", value: String(swap),
                reason: "a swap limit needs a memory limit on cgroup v2")
        }
        if swap < memory {
            throw .invalidValue(
                item: "memory.swap", value: String(swap),
                reason: "memory+swap must not be below the memory limit \(memory)")
        }
        return String(swap - memory)
    }
}

/// One interface file write a resource turns into.
struct PlannedWrite: Equatable {
    var version: CgroupVersion
    var file: String
    var value: String
    /// The OCI field it comes from, for errors.
    var item: String
}

extension ContainerCgroup {
    /// Applies `resources` to the hierarchy of each controller: v1 or cgroup2 file names and
    /// units as the controller's placement demands. Devices come last (`setDevices`).
    ///
    /// Throws the first failing write, naming the file, the value and the kernel's reason;
    /// `controllerUnavailable` for a controller the host lacks; `unsupported` for a field the
    /// hierarchy cannot express (kernel memory or realtime limits on cgroup2).
    public func apply(_ resources: CgroupResources) throws(CgroupError) {
        let writes = try plan(resources)
        // One subtree_control write per cgroup for every cgroup2 controller the limits use.
        let v2Controllers = writes.filter { $0.version == .v2 }.compactMap { write in
            write.file.split(separator: ".").first.map(String.init)
        }
        try enable(Set(v2Controllers).intersection(CgroupLayout.v2Controllers))
        var done: Set<Int> = []
        for (index, write) in writes.enumerated() where !done.contains(index) {
            do {
                try perform(write)
            } catch let error {
                // v1 refuses a memory limit above the current memory+swap limit: raise that
                // first, as it must stay at or above the memory limit.
                guard case .write(_, _, let errno) = error, errno == .EINVAL,
                    write.file == "memory.limit_in_bytes",
                    let swap = writes.firstIndex(where: { $0.file == "memory.memsw.limit_in_bytes" }
                    )
                else { throw error }
                try perform(writes[swap])
                try perform(write)
                done.insert(swap)
            }
        }
        if let devices = resources.devices {
            try setDevices(devices)
        }
    }

    private func perform(_ write: PlannedWrite) throws(CgroupError) {
        let directory = try limitDirectory(
            forFile: write.file, version: write.version, item: write.item)
        try CgroupFiles.write(write.value, to: directory + "/" + write.file)
    }

    /// The version a controller's files are written in; throws when the host lacks it.
    private func version(of controller: String, item: String) throws(CgroupError) -> CgroupVersion {
        switch layout.placement(of: controller) {
        case .v1: return .v1
        case .v2: return .v2
        case .absent:
            throw .controllerUnavailable(
                controller, version: layout.isPureUnified ? .v2 : .v1, item: item)
        }
    }

    /// The interface file writes for `resources`, in the order they must happen.
    func plan(_ resources: CgroupResources) throws(CgroupError) -> [PlannedWrite] {
        var writes: [PlannedWrite] = []
        if let memory = resources.memory {
            writes += try plan(memory)
        }
        if let cpu = resources.cpu {
            writes += try plan(cpu)
        }
        if let limit = resources.pidsLimit {
            let version = try version(of: "pids", item: "pids.limit")
            writes.append(
                PlannedWrite(
                    version: version, file: "pids.max", value: limit > 0 ? String(limit) : "max",
                    item: "pids.limit"))
        }
        if let blockIO = resources.blockIO {
            writes += try plan(blockIO)
        }
        for hugepage in resources.hugepageLimits {
            let item = "hugepageLimits \(hugepage.pageSize)"
            let version = try version(of: "hugetlb", item: item)
            let file =
                version == .v1
                ? "hugetlb.\(hugepage.pageSize).limit_in_bytes" : "hugetlb.\(hugepage.pageSize).max"
            writes.append(
                PlannedWrite(
                    version: version, file: file, value: String(hugepage.limit), item: item))
        }
        for (file, value) in resources.unified.sorted(by: { $0.key < $1.key }) {
            writes.append(
                PlannedWrite(version: .v2, file: file, value: value, item: "unified \(file)"))
        }
        return writes
    }

    private func plan(_ memory: CgroupResources.Memory) throws(CgroupError) -> [PlannedWrite] {
        let version = try version(of: "memory", item: "memory")
        var writes: [PlannedWrite] = []
        func add(_ file: String, _ value: String, _ item: String) {
            writes.append(PlannedWrite(version: version, file: file, value: value, item: item))
        }
        if version == .v1 {
            if let limit = memory.limit {
                add("memory.limit_in_bytes", String(limit), "memory.limit")
            }
            if let swap = memory.swap {
                add("memory.memsw.limit_in_bytes", String(swap), "memory.swap")
            }
            if let reservation = memory.reservation {
                add("memory.soft_limit_in_bytes", String(reservation), "memory.reservation")
            }
            if let kernel = memory.kernel {
                add("memory.kmem.limit_in_bytes", String(kernel), "memory.kernel")
            }
            if let tcp = memory.kernelTCP {
                add("memory.kmem.tcp.limit_in_bytes", String(tcp), "memory.kernelTCP")
            }
            if let swappiness = memory.swappiness {
                add("memory.swappiness", String(swappiness), "memory.swappiness")
            }
            if let disable = memory.disableOOMKiller {
                add("memory.oom_control", disable ? "1" : "0", "memory.disableOOMKiller")
            }
            return writes
        }
        if memory.kernel != nil || memory.kernelTCP != nil {
            throw .unsupported("a kernel memory limit on cgroup v2")
        }
        if memory.swappiness != nil {
            throw .unsupported("memory.swappiness on cgroup v2")
        }
        if memory.disableOOMKiller == true {
            throw .unsupported("disableOOMKiller on cgroup v2")
        }
        if let limit = memory.limit {
            add("memory.max", limit < 0 ? "max" : String(limit), "memory.limit")
        }
        if let swap = try CgroupResources.swapMax(memory: memory.limit, swap: memory.swap) {
            add("memory.swap.max", swap, "memory.swap")
        }
        if let reservation = memory.reservation {
            add("memory.low", reservation < 0 ? "max" : String(reservation), "memory.reservation")
        }
        return writes
    }

    private func plan(_ cpu: CgroupResources.CPU) throws(CgroupError) -> [PlannedWrite] {
        var writes: [PlannedWrite] = []
        if cpu.cpus != nil || cpu.mems != nil {
            let version = try version(of: "cpuset", item: "cpu.cpus")
            if let cpus = cpu.cpus {
                writes.append(
                    PlannedWrite(
                        version: version, file: "cpuset.cpus", value: cpus, item: "cpu.cpus"))
            }
            if let mems = cpu.mems {
                writes.append(
                    PlannedWrite(
                        version: version, file: "cpuset.mems", value: mems, item: "cpu.mems"))
            }
        }
        let wantsCPU =
            cpu.shares != nil || cpu.quota != nil || cpu.period != nil || cpu.idle != nil
            || cpu.realtimeRuntime != nil || cpu.realtimePeriod != nil
        guard wantsCPU else { return writes }
        let version = try version(of: "cpu", item: "cpu")
        func add(_ file: String, _ value: String, _ item: String) {
            writes.append(PlannedWrite(version: version, file: file, value: value, item: item))
        }
        if version == .v1 {
            if let shares = cpu.shares { add("cpu.shares", String(shares), "cpu.shares") }
            // The period first: the kernel checks a quota against the current period.
            if let period = cpu.period { add("cpu.cfs_period_us", String(period), "cpu.period") }
            if let quota = cpu.quota {
                add("cpu.cfs_quota_us", String(quota > 0 ? quota : -1), "cpu.quota")
            }
            if let period = cpu.realtimePeriod {
                add("cpu.rt_period_us", String(period), "cpu.realtimePeriod")
            }
            if let runtime = cpu.realtimeRuntime {
                add("cpu.rt_runtime_us", String(runtime), "cpu.realtimeRuntime")
            }
            if let idle = cpu.idle { add("cpu.idle", String(idle), "cpu.idle") }
            return writes
        }
        if cpu.realtimeRuntime != nil || cpu.realtimePeriod != nil {
            throw .unsupported("a realtime cpu limit on cgroup v2")
        }
        if let shares = cpu.shares, let weight = CgroupResources.cpuWeight(shares: shares) {
            add("cpu.weight", String(weight), "cpu.shares")
        }
        if cpu.quota != nil || cpu.period != nil {
            let quota = cpu.quota.map { $0 > 0 ? String($0) : "max" } ?? "max"
            add("cpu.max", "\(quota) \(cpu.period ?? 100_000)", "cpu.quota")
        }
        if let idle = cpu.idle { add("cpu.idle", String(idle), "cpu.idle") }
        return writes
    }

    private func plan(_ blockIO: CgroupResources.BlockIO) throws(CgroupError) -> [PlannedWrite] {
        let version = try version(of: version1Or2("blkio", "io"), item: "blockIO")
        let directory = limitDirectory(of: version == .v1 ? "blkio" : "io") ?? ""
        var writes: [PlannedWrite] = []
        func add(_ file: String, _ value: String, _ item: String) {
            writes.append(PlannedWrite(version: version, file: file, value: value, item: item))
        }
        // Without CFQ the proportional weight lives in BFQ's files, named `bfq.weight`.
        let bfq =
            !CgroupFiles.exists(directory + (version == .v1 ? "/blkio.weight" : "/io.weight"))
            && CgroupFiles.exists(
                directory + (version == .v1 ? "/blkio.bfq.weight" : "/io.bfq.weight"))
        if version == .v1 {
            let prefix = bfq ? "blkio.bfq." : "blkio."
            if let weight = blockIO.weight {
                add(prefix + "weight", String(weight), "blockIO.weight")
            }
            if let leaf = blockIO.leafWeight {
                add("blkio.leaf_weight", String(leaf), "blockIO.leafWeight")
            }
            for device in blockIO.weightDevice {
                if let weight = device.weight {
                    add(
                        prefix + "weight_device", "\(device.major):\(device.minor) \(weight)",
                        "blockIO.weightDevice")
                }
                if let leaf = device.leafWeight {
                    add(
                        "blkio.leaf_weight_device", "\(device.major):\(device.minor) \(leaf)",
                        "blockIO.weightDevice")
                }
            }
            let throttles: [(String, [CgroupResources.ThrottleDevice])] = [
                ("read_bps_device", blockIO.throttleReadBpsDevice),
                ("write_bps_device", blockIO.throttleWriteBpsDevice),
                ("read_iops_device", blockIO.throttleReadIOPSDevice),
                ("write_iops_device", blockIO.throttleWriteIOPSDevice),
            ]
            for (name, devices) in throttles {
                for device in devices {
                    add(
                        "blkio.throttle." + name, "\(device.major):\(device.minor) \(device.rate)",
                        "blockIO.throttle")
                }
            }
            return writes
        }
        if blockIO.leafWeight != nil
            || blockIO.weightDevice.contains(where: { $0.leafWeight != nil })
        {
            throw .unsupported("blockIO.leafWeight on cgroup v2")
        }
        // io.bfq.weight takes the v1 range as is; io.weight has its own.
        func weightText(_ weight: UInt16) -> String {
            bfq ? String(weight) : String(CgroupResources.ioWeight(blkioWeight: weight))
        }
        let weightFile = bfq ? "io.bfq.weight" : "io.weight"
        if let weight = blockIO.weight { add(weightFile, weightText(weight), "blockIO.weight") }
        for device in blockIO.weightDevice {
            if let weight = device.weight {
                add(
                    weightFile, "\(device.major):\(device.minor) \(weightText(weight))",
                    "blockIO.weightDevice")
            }
        }
        let throttles: [(String, [CgroupResources.ThrottleDevice])] = [
            ("rbps", blockIO.throttleReadBpsDevice),
            ("wbps", blockIO.throttleWriteBpsDevice),
            ("riops", blockIO.throttleReadIOPSDevice),
            ("wiops", blockIO.throttleWriteIOPSDevice),
        ]
        for (key, devices) in throttles {
            for device in devices {
                add(
                    "io.max", "\(device.major):\(device.minor) \(key)=\(device.rate)",
                    "blockIO.throttle")
            }
        }
        return writes
    }

    /// `v1Name` when a v1 hierarchy carries it, else the cgroup2 name (blkio is io there).
    private func version1Or2(_ v1Name: String, _ v2Name: String) -> String {
        if case .v1 = layout.placement(of: v1Name) { return v1Name }
        return v2Name
    }
}
