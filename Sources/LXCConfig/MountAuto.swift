/// `lxc.mount.auto`: the standard filesystems LXC mounts for the container.
public struct MountAuto: Sendable, Equatable {
    /// How `/proc` is mounted: `mixed` keeps `/proc/sys` read-only apart from `net`.
    public enum Proc: String, Sendable, Equatable {
        case mixed
        case rw
    }

    /// How `/sys` is mounted.
    public enum Sys: String, Sendable, Equatable {
        case mixed
        case ro
        case rw
    }

    /// The cgroup mount: `cgroup` (the container's own cgroups), `cgroup-full` (the whole
    /// hierarchy) or `cgroup2`, with its access mode and whether it is forced.
    public struct Cgroup: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable {
            case cgroup
            case cgroupFull = "cgroup-full"
            case cgroup2
        }

        public enum Mode: String, Sendable, Equatable {
            /// No mode given: `mixed` without CAP_SYS_ADMIN, `rw` with it.
            case unspecified = ""
            case mixed
            case ro
            case rw
        }

        public var kind: Kind
        public var mode: Mode
        /// Mount even when the container has CAP_SYS_ADMIN.
        public var force: Bool
    }

    /// `shmounts:<host>[:<container>]`: the shared-mount channel used by mount injection.
    public struct SharedMounts: Sendable, Equatable {
        public var hostPath: String
        /// Defaults to `/dev/.lxc-mounts`.
        public var containerPath: String
    }

    public var proc: Proc?
    public var sys: Sys?
    public var cgroup: Cgroup?
    public var sharedMounts: SharedMounts?

    /// Nothing mounted automatically.
    public init() {}

    /// True when no token was given.
    public var isEmpty: Bool { proc == nil && sys == nil && cgroup == nil && sharedMounts == nil }

    /// Applies the space-separated tokens in order; a later token of a kind replaces an earlier.
    mutating func apply(_ text: String) throws(ValueError) {
        for token in Values.words(text) {
            try applyToken(token)
        }
    }

    private mutating func applyToken(_ token: String) throws(ValueError) {
        if token.hasPrefix("shmounts:") {
            let rest = token.dropFirst("shmounts:".count)
            guard !rest.isEmpty else { throw ValueError("shmounts needs a host path") }
            if let colon = rest.firstIndex(of: ":"), rest.index(after: colon) < rest.endIndex {
                sharedMounts = SharedMounts(
                    hostPath: String(rest[..<colon]),
                    containerPath: String(rest[rest.index(after: colon)...]))
            } else {
                let host = rest.split(separator: ":", omittingEmptySubsequences: false)[0]
                sharedMounts = SharedMounts(
                    hostPath: String(host), containerPath: "/dev/.lxc-mounts")
            }
            return
        }
        switch token {
        case "proc", "proc:mixed": proc = .mixed
        case "proc:rw": proc = .rw
        case "sys", "sys:mixed": sys = .mixed
        case "sys:ro": sys = .ro
        case "sys:rw": sys = .rw
        default:
            guard let parsed = Self.cgroupToken(token) else {
                throw ValueError("invalid filesystem to automount \(token)")
            }
            cgroup = parsed
        }
    }

    private static func cgroupToken(_ token: String) -> Cgroup? {
        var parts = token.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let head = parts.first, let kind = Cgroup.Kind(rawValue: head) else { return nil }
        parts.removeFirst()
        var force = false
        if parts.last == "force" {
            force = true
            parts.removeLast()
        }
        guard parts.count <= 1 else { return nil }
        let mode = parts.first.flatMap { Cgroup.Mode(rawValue: $0) } ?? .unspecified
        if let word = parts.first, word.isEmpty || Cgroup.Mode(rawValue: word) == nil {
            return nil
        }
        if kind == .cgroup2 {
            // cgroup2 takes only `ro`, and is always forced.
            guard mode == .unspecified || mode == .ro else { return nil }
            return Cgroup(kind: kind, mode: mode == .ro ? .ro : .rw, force: true)
        }
        return Cgroup(kind: kind, mode: mode, force: force)
    }

    /// What LXC 5.0.2 reads back: proc, sys and unforced cgroup/cgroup-full tokens only.
    var lxcReadBack: String {
        var parts: [String] = []
        if let proc { parts.append("proc:" + proc.rawValue) }
        if let sys { parts.append("sys:" + sys.rawValue) }
        if let cgroup, !cgroup.force, cgroup.kind != .cgroup2 {
            let mode = cgroup.mode == .unspecified ? "" : ":" + cgroup.mode.rawValue
            parts.append(cgroup.kind.rawValue + mode)
        }
        return parts.joined(separator: " ")
    }
}
