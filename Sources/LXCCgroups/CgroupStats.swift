import LXCSystem

/// A snapshot of a container's resource use; nil where this host's kernel gives no value.
public struct CgroupStats: Equatable, Sendable {
    /// Memory charged now, in bytes (`memory.current`, v1 `memory.usage_in_bytes`).
    public var memoryCurrent: UInt64?
    /// The most ever charged (`memory.peak`, v1 `memory.max_usage_in_bytes`).
    public var memoryPeak: UInt64?
    /// The memory limit; nil when unlimited.
    public var memoryLimit: UInt64?
    /// CPU time used, in nanoseconds (`cpu.stat usage_usec`, v1 `cpuacct.usage`).
    public var cpuUsageNanoseconds: UInt64?
    /// Periods in which the quota throttled the container (`cpu.stat nr_throttled`).
    public var cpuThrottledPeriods: UInt64?
    /// Processes and threads now (`pids.current`).
    public var pidsCurrent: UInt64?
    /// The pids limit; nil when unlimited.
    public var pidsLimit: UInt64?
    /// Bytes read from and written to block devices (`io.stat`, v1 blkio throttle counters).
    public var ioReadBytes: UInt64?
    public var ioWriteBytes: UInt64?

    public init() {}

    /// The snapshot as one JSON object; unknown values are `null`.
    public var json: String {
        func value(_ number: UInt64?) -> String { number.map(String.init) ?? "null" }
        return "{\"memory\":{\"current\":\(value(memoryCurrent)),\"peak\":\(value(memoryPeak)),"
            + "\"limit\":\(value(memoryLimit))},"
            + "\"cpu\":{\"usage_ns\":\(value(cpuUsageNanoseconds)),"
            + "\"throttled_periods\":\(value(cpuThrottledPeriods))},"
            + "\"pids\":{\"current\":\(value(pidsCurrent)),\"limit\":\(value(pidsLimit))},"
            + "\"io\":{\"read_bytes\":\(value(ioReadBytes)),\"write_bytes\":\(value(ioWriteBytes))}}"
    }
}

extension ContainerCgroup {
    /// Reads the statistics each controller offers on its hierarchy. Missing controllers and
    /// files leave their fields nil; only an unreadable existing file throws.
    public func stats() throws(CgroupError) -> CgroupStats {
        var stats = CgroupStats()
        if let (version, directory) = statDirectory("memory") {
            if version == .v1 {
                stats.memoryCurrent = try number(directory, "memory.usage_in_bytes")
                stats.memoryPeak = try number(directory, "memory.max_usage_in_bytes")
                // v1 reports "unlimited" as the largest page-aligned counter value.
                stats.memoryLimit = try number(directory, "memory.limit_in_bytes")
                    .flatMap { $0 >= 0x7fff_ffff_ffff_f000 ? nil : $0 }
            } else {
                stats.memoryCurrent = try number(directory, "memory.current")
                stats.memoryPeak = try number(directory, "memory.peak")
                stats.memoryLimit = try number(directory, "memory.max")
            }
        }
        if let (version, directory) = statDirectory("cpuacct"), version == .v1 {
            stats.cpuUsageNanoseconds = try number(directory, "cpuacct.usage")
        }
        if let (version, directory) = statDirectory("cpu") {
            let cpuStat = try keyed(directory, "cpu.stat")
            stats.cpuThrottledPeriods = cpuStat["nr_throttled"]
            if version == .v2 {
                stats.cpuUsageNanoseconds = cpuStat["usage_usec"].map { $0 * 1000 }
            }
        } else if let unified = unifiedLimitDirectory {
            // cgroup2 keeps cpu.stat's usage even without the cpu controller.
            let cpuStat = try keyed(unified, "cpu.stat")
            if stats.cpuUsageNanoseconds == nil {
                stats.cpuUsageNanoseconds = cpuStat["usage_usec"].map { $0 * 1000 }
            }
        }
        if let (_, directory) = statDirectory("pids") {
            stats.pidsCurrent = try number(directory, "pids.current")
            stats.pidsLimit = try number(directory, "pids.max")
        }
        if let (version, directory) = statDirectory(version1Or2IO) {
            if version == .v1 {
                let (read, write) = try blkioBytes(directory)
                stats.ioReadBytes = read
                stats.ioWriteBytes = write
            } else if let text = CgroupFiles.readIfPresent(directory + "/io.stat") {
                var read: UInt64 = 0
                var write: UInt64 = 0
                for field in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                    let pair = field.split(separator: "=")
                    guard pair.count == 2, let value = UInt64(pair[1]) else { continue }
                    if pair[0] == "rbytes" { read += value }
                    if pair[0] == "wbytes" { write += value }
                }
                stats.ioReadBytes = read
                stats.ioWriteBytes = write
            }
        }
        return stats
    }

    private var version1Or2IO: String {
        if case .v1 = layout.placement(of: "blkio") { return "blkio" }
        return "io"
    }

    private var unifiedLimitDirectory: String? {
        members.first { $0.hierarchy.version == .v2 }?.limitDirectory
    }

    private func statDirectory(_ controller: String) -> (CgroupVersion, String)? {
        let version: CgroupVersion
        switch layout.placement(of: controller) {
        case .v1: version = .v1
        case .v2: version = .v2
        case .absent: return nil
        }
        return limitDirectory(of: controller).map { (version, $0) }
    }

    /// One number from a single-value file; nil when the file is missing or says `max`.
    private func number(_ directory: String, _ file: String) throws(CgroupError) -> UInt64? {
        let path = directory + "/" + file
        guard CgroupFiles.exists(path) else { return nil }
        return UInt64(try CgroupFiles.read(path))
    }

    /// A flat-keyed file (`cpu.stat`): one `key value` pair per line.
    private func keyed(_ directory: String, _ file: String) throws(CgroupError) -> [String: UInt64]
    {
        let path = directory + "/" + file
        guard CgroupFiles.exists(path) else { return [:] }
        var result: [String: UInt64] = [:]
        for line in try CgroupFiles.read(path).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }

    /// Sums `Read` and `Write` over the devices of v1's recursive throttle counters, which
    /// count every request whatever the I/O scheduler.
    private func blkioBytes(_ directory: String) throws(CgroupError) -> (UInt64?, UInt64?) {
        let path = directory + "/blkio.throttle.io_service_bytes_recursive"
        guard CgroupFiles.exists(path) else { return (nil, nil) }
        var read: UInt64 = 0
        var write: UInt64 = 0
        for line in try CgroupFiles.read(path).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let value = UInt64(parts[2]) else { continue }
            if parts[1] == "Read" { read += value }
            if parts[1] == "Write" { write += value }
        }
        return (read, write)
    }
}
