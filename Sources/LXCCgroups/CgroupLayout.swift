import Glibc
import LXCSystem

/// One mounted cgroup hierarchy: a v1 hierarchy with its controllers, or the unified one.
public struct CgroupHierarchy: Equatable, Sendable {
    /// v1 or v2 (cgroup2, the unified hierarchy).
    public var version: CgroupVersion
    /// Where it is mounted, as `/proc/self/mountinfo` gives it (`/sys/fs/cgroup/memory`).
    public var mountPoint: String
    /// The cgroup the mount shows at its mount point (the mountinfo root field, usually `/`).
    public var mountRoot: String
    /// The controllers it carries: from the mount options on v1, `cgroup.controllers` on v2.
    public var controllers: [String]
    /// The `name=` of a named v1 hierarchy (`systemd`), which carries no controller.
    public var name: String?
    /// The caller's cgroup in this hierarchy, from `/proc/self/cgroup`.
    public var ownCgroup: String
    /// PID 1's cgroup in this hierarchy, the base LXC uses for root's non-relative cgroups.
    public var initCgroup: String
    /// Prefixed to `mountPoint` for every file access; empty on a real host.
    public var rootPrefix: String

    /// The directory of the cgroup `path` (absolute within the hierarchy), or nil when the
    /// mount does not show it (it lies outside the mount's root).
    public func directory(of path: String) -> String? {
        let relative: String
        if mountRoot == "/" {
            relative = path
        } else if path == mountRoot {
            relative = "/"
        } else if path.hasPrefix(mountRoot + "/") {
            relative = String(path.dropFirst(mountRoot.count))
        } else {
            return nil
        }
        let trimmed = relative == "/" ? "" : relative
        return rootPrefix + mountPoint + trimmed
    }

    /// The directory at the top of this mount.
    public var rootDirectory: String { rootPrefix + mountPoint }
}

/// Where one controller lives on this host.
public enum ControllerPlacement: Equatable, Sendable {
    /// On the v1 hierarchy at `layout.hierarchies[index]`.
    case v1(index: Int)
    /// On the unified hierarchy.
    case v2
    /// Not available to containers here.
    case absent
}

/// The host's cgroup hierarchies and, per controller, which one carries it.
///
/// A pure cgroup2 host has only the unified hierarchy; a v1 host only v1 hierarchies; a hybrid
/// host both, with each controller on exactly one. Build it from the running system with
/// `detect()`, or from given text and a directory prefix (tests, dry runs).
public struct CgroupLayout: Equatable, Sendable {
    /// Every cgroup mount, v1 first in mount order, then the unified one if any.
    public var hierarchies: [CgroupHierarchy]
    /// The prefix added to every mount point (empty on a real host).
    public var rootPrefix: String

    /// The v1 controller names the kernel knows.
    public static let v1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio",
        "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc",
    ]
    /// The cgroup2 controller names the kernel knows.
    public static let v2Controllers: Set<String> = [
        "cpu", "cpuset", "io", "memory", "hugetlb", "pids", "rdma", "misc", "perf_event",
    ]

    /// Reads `/proc/self/mountinfo`, `/proc/self/cgroup`, `/proc/1/cgroup` and the unified
    /// root's `cgroup.controllers` from the running system.
    public static func detect() throws(CgroupError) -> CgroupLayout {
        let mountInfo = try CgroupFiles.read("/proc/self/mountinfo")
        let own = try CgroupFiles.read("/proc/self/cgroup")
        // PID 1's cgroups are readable to root; others fall back to their own, as LXC does.
        let initial = CgroupFiles.readIfPresent("/proc/1/cgroup")
        var unifiedControllers: String?
        let mounts = try parseMountInfo(mountInfo)
        if let unified = mounts.first(where: { $0.fileSystem == "cgroup2" }) {
            unifiedControllers = CgroupFiles.readIfPresent(
                unified.mountPoint + "/cgroup.controllers")
        }
        return try CgroupLayout(
            mountInfo: mountInfo, ownCgroups: own, initCgroups: initial,
            unifiedControllers: unifiedControllers ?? "")
    }

    /// Builds the layout from the text of `/proc/self/mountinfo`, `/proc/self/cgroup`,
    /// optionally `/proc/1/cgroup`, and the unified root's `cgroup.controllers`. Every
    /// mount point is read below `rootPrefix` (a fake cgroupfs tree in tests).
    public init(
        mountInfo: String, ownCgroups: String, initCgroups: String? = nil,
        unifiedControllers: String = "", rootPrefix: String = ""
    ) throws(CgroupError) {
        let own = try Self.parseProcCgroup(ownCgroups)
        let initial = try initCgroups.map { (text) throws(CgroupError) in
            try Self.parseProcCgroup(text)
        }
        var v1: [CgroupHierarchy] = []
        var unified: CgroupHierarchy?
        var seen: Set<String> = []
        for mount in try Self.parseMountInfo(mountInfo) {
            switch mount.fileSystem {
            case "cgroup":
                let options = mount.superOptions.split(separator: ",").map(String.init)
                let controllers = options.filter { Self.v1Controllers.contains($0) }.sorted()
                let name = options.first { $0.hasPrefix("name=") }.map { String($0.dropFirst(5)) }
                let key = controllers.joined(separator: ",") + (name.map { ",name=" + $0 } ?? "")
                // A hierarchy bind-mounted twice is one hierarchy; the first mount serves.
                if key.isEmpty || seen.contains(key) { continue }
                seen.insert(key)
                let ownPath = own.v1[key] ?? "/"
                v1.append(
                    CgroupHierarchy(
                        version: .v1, mountPoint: mount.mountPoint, mountRoot: mount.root,
                        controllers: controllers, name: name, ownCgroup: ownPath,
                        initCgroup: Self.prunedInitScope(initial?.v1[key] ?? ownPath),
                        rootPrefix: rootPrefix))
            case "cgroup2":
                if unified != nil { continue }
                let ownPath = own.unified ?? "/"
                let controllers = unifiedControllers.split(whereSeparator: {
                    $0 == " " || $0 == "\n"
                })
                .map(String.init)
                unified = CgroupHierarchy(
                    version: .v2, mountPoint: mount.mountPoint, mountRoot: mount.root,
                    controllers: controllers, name: nil, ownCgroup: ownPath,
                    initCgroup: Self.prunedInitScope(initial?.unified ?? ownPath),
                    rootPrefix: rootPrefix)
            default:
                continue
            }
        }
        if v1.isEmpty && unified == nil {
            throw .layout("no cgroup or cgroup2 mount in mountinfo")
        }
        hierarchies = v1 + (unified.map { [$0] } ?? [])
        self.rootPrefix = rootPrefix
    }

    /// The unified hierarchy, if cgroup2 is mounted.
    public var unified: CgroupHierarchy? {
        hierarchies.last { $0.version == .v2 }
    }

    /// Whether no v1 hierarchy carries a controller: a pure cgroup2 host.
    public var isPureUnified: Bool {
        !hierarchies.contains { $0.version == .v1 && !$0.controllers.isEmpty }
    }

    /// The layout in one line, for the log: `pure cgroup2`, `hybrid` or `cgroup v1`, then
    /// where the unified hierarchy is and which controllers it offers.
    public var summary: String {
        let kind =
            isPureUnified && unified != nil
            ? "pure cgroup2" : unified == nil ? "cgroup v1" : "hybrid"
        guard let unified else { return kind }
        let controllers =
            unified.controllers.isEmpty ? "none" : unified.controllers.joined(separator: " ")
        return "\(kind), unified at \(unified.mountPoint) with controllers: \(controllers)"
    }

    /// Where `controller` lives: the v1 hierarchy that carries it, else cgroup2 when the
    /// unified root offers it. `freezer` and `devices` have no cgroup2 controller: there
    /// they are core features (`cgroup.freeze`, BPF device programs) of any unified mount.
    public func placement(of controller: String) -> ControllerPlacement {
        if let index = hierarchies.firstIndex(where: {
            $0.version == .v1 && $0.controllers.contains(controller)
        }) {
            return .v1(index: index)
        }
        guard let unified else { return .absent }
        if controller == "freezer" || controller == "devices" { return .v2 }
        if controller == "cpuacct" && unified.controllers.contains("cpu") { return .v2 }
        return unified.controllers.contains(controller) ? .v2 : .absent
    }

    /// The same layout without the v1 hierarchies that carry any of `controllers`, so those
    /// controllers fall to the unified hierarchy (where freezer and devices always work).
    public func ignoringV1(_ controllers: Set<String>) -> CgroupLayout {
        var copy = self
        copy.hierarchies.removeAll {
            $0.version == .v1 && !controllers.isDisjoint(with: $0.controllers)
        }
        return copy
    }

    // MARK: - Parsing

    struct Mount: Equatable {
        var root: String
        var mountPoint: String
        var fileSystem: String
        var superOptions: String
    }

    /// Parses `/proc/<pid>/mountinfo`: the optional fields between the mount options and
    /// the `-` separator vary in number, so the separator is found, not counted to.
    static func parseMountInfo(_ text: String) throws(CgroupError) -> [Mount] {
        var mounts: [Mount] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count >= 10,
                let separator = fields[6...].firstIndex(of: "-"),
                fields.count >= separator + 4
            else {
                throw .layout("malformed mountinfo line: \(line)")
            }
            mounts.append(
                Mount(
                    root: unescape(fields[3]), mountPoint: unescape(fields[4]),
                    fileSystem: String(fields[separator + 1]),
                    superOptions: String(fields[separator + 3])))
        }
        return mounts
    }

    /// mountinfo writes space, tab, newline and backslash in paths as `\ooo` octal.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
                let value = UInt8(
                    String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// systemd keeps PID 1 in `init.scope`; LXC drops that last component so containers of
    /// a non-relative start sit beside it, not inside it.
    static func prunedInitScope(_ path: String) -> String {
        if path == "/init.scope" { return "/" }
        if path.hasSuffix("/init.scope") { return String(path.dropLast("/init.scope".count)) }
        return path
    }

    struct ProcCgroup {
        /// Keyed by the sorted controller list, plus `,name=x` for named hierarchies.
        var v1: [String: String] = [:]
        var unified: String?
    }

    /// Parses `/proc/<pid>/cgroup`: `id:controllers:path`, where `0::path` is cgroup2.
    static func parseProcCgroup(_ text: String) throws(CgroupError) -> ProcCgroup {
        var result = ProcCgroup()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[2].hasPrefix("/") else {
                throw .layout("malformed /proc/self/cgroup line: \(line)")
            }
            let path = String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty {
                result.unified = path
                continue
            }
            let items = parts[1].split(separator: ",").map(String.init)
            let controllers = items.filter { !$0.hasPrefix("name=") }.sorted()
            let name = items.first { $0.hasPrefix("name=") }
            let key = controllers.joined(separator: ",") + (name.map { "," + $0 } ?? "")
            result.v1[key] = path
        }
        return result
    }
}
