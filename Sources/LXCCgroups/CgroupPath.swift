import Glibc

/// Where a container's cgroup goes in every hierarchy, named as LXC or an OCI runtime would.
///
/// The path is relative to a base cgroup: the caller's own (LXC `lxc.cgroup.relative`, OCI
/// relative `cgroupsPath`), PID 1's (LXC's default for root) or the hierarchy root (OCI
/// absolute `cgroupsPath`). No component may be `..`.
public struct CgroupPath: Equatable, Sendable {
    /// Which cgroup the path starts from, in each hierarchy.
    public enum Base: Equatable, Sendable {
        /// The calling process's cgroup (`/proc/self/cgroup`).
        case caller
        /// PID 1's cgroup (`/proc/1/cgroup`).
        case initProcess
        /// The root of the hierarchy.
        case root
    }

    /// The start of the path.
    public var base: Base
    /// The cgroup that carries the limits, relative to the base (`lxc.payload.web`).
    public var limit: String
    /// A cgroup below `limit` that holds the processes, for LXC's
    /// `lxc.cgroup.dir.container.inner`; nil puts the processes in `limit` itself.
    public var inner: String?
    /// Try `limit-1`, `limit-2`… when `limit` exists, as LXC does for its default names.
    public var uniquify: Bool
    /// Join an existing cgroup instead of failing (OCI runtimes accept an existing path).
    public var allowExisting: Bool

    /// A path given in parts; prefer the named constructors.
    public init(
        base: Base, limit: String, inner: String? = nil, uniquify: Bool = false,
        allowExisting: Bool = false
    ) throws(CgroupError) {
        self.base = base
        self.limit = try Self.normalized(limit)
        self.inner = try inner.map { (inner) throws(CgroupError) in try Self.normalized(inner) }
        self.uniquify = uniquify
        self.allowExisting = allowExisting
    }

    /// LXC's container cgroup `lxc.payload.<name>`, below `lxc.cgroup.dir` when given; with
    /// `relative` (`lxc.cgroup.relative = 1`) or for a caller other than root below the
    /// caller's cgroup, else below PID 1's (with systemd's `init.scope` dropped).
    /// Made unique with `-1`, `-2`… when it exists.
    public static func lxcPayload(name: String, dir: String? = nil, relative: Bool = false)
        throws(CgroupError) -> CgroupPath
    {
        try lxc(prefix: "lxc.payload.", name: name, dir: dir, relative: relative)
    }

    /// LXC's monitor cgroup `lxc.monitor.<name>`, placed as `lxcPayload` places the container.
    public static func lxcMonitor(name: String, dir: String? = nil, relative: Bool = false)
        throws(CgroupError) -> CgroupPath
    {
        try lxc(prefix: "lxc.monitor.", name: name, dir: dir, relative: relative)
    }

    /// LXC's advanced isolation: `lxc.cgroup.dir.container` carries the limits and
    /// `lxc.cgroup.dir.container.inner`, below it, holds the processes. Both are exact.
    /// (`lxc.cgroup.dir.monitor` is the same call with the monitor's directory.)
    public static func lxcIsolated(container: String, inner: String?, relative: Bool = false)
        throws(CgroupError) -> CgroupPath
    {
        try CgroupPath(
            base: relative || geteuid() != 0 ? .caller : .initProcess, limit: container,
            inner: inner)
    }

    /// OCI `linux.cgroupsPath`: absolute paths start at the hierarchy root, relative ones at
    /// the runtime's own cgroup; without one the container id is used, relative. An existing
    /// cgroup is joined, as runc and crun do.
    public static func oci(cgroupsPath: String?, containerID: String) throws(CgroupError)
        -> CgroupPath
    {
        guard let path = cgroupsPath, !path.isEmpty else {
            return try CgroupPath(base: .caller, limit: containerID, allowExisting: true)
        }
        return try CgroupPath(
            base: path.hasPrefix("/") ? .root : .caller, limit: path, allowExisting: true)
    }

    private static func lxc(prefix: String, name: String, dir: String?, relative: Bool)
        throws(CgroupError) -> CgroupPath
    {
        if name.isEmpty || name.contains("/") || name == "." || name == ".." {
            throw .invalidPath(name, reason: "a container name must be one path component")
        }
        let leaf = prefix + name
        let limit = dir.map { $0 + "/" + leaf } ?? leaf
        // Only root escapes to PID 1's cgroups; anyone else stays below their own, as LXC.
        let base: Base = relative || geteuid() != 0 ? .caller : .initProcess
        return try CgroupPath(base: base, limit: limit, uniquify: true)
    }

    /// Drops empty and `.` components; refuses `..`, which could leave the hierarchy, and
    /// characters cgroupfs names cannot hold.
    static func normalized(_ path: String) throws(CgroupError) -> String {
        if path.contains("\0") || path.contains("\n") {
            throw .invalidPath(path, reason: "contains a nul or newline character")
        }
        var components: [Substring] = []
        for component in path.split(separator: "/") {
            if component == "." { continue }
            if component == ".." {
                throw .invalidPath(path, reason: "'..' would leave the hierarchy root")
            }
            components.append(component)
        }
        if components.isEmpty {
            throw .invalidPath(path, reason: "names no cgroup below the base")
        }
        return components.joined(separator: "/")
    }
}
