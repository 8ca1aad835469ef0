import LXCSystem

/// A cgroup operation that failed: what was being done, to which file, and the kernel's reason.
///
/// Messages are lowercase and name the file and the value, for example
/// `write /sys/fs/cgroup/pids/lxc.payload.web/pids.max = abc: invalid argument`.
public enum CgroupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Writing `value` to the interface file `path` failed.
    case write(path: String, value: String, errno: Errno)
    /// Reading the interface file `path` failed.
    case read(path: String, errno: Errno)
    /// A directory operation (`mkdir`, `rmdir`, `open`) failed.
    case system(SyscallError)
    /// `item` names a controller the kernel does not know (`lxc.cgroup.bogus.max`).
    case unknownController(String, item: String)
    /// The controller exists but is not mounted on the cgroup version `item` asks for.
    case controllerUnavailable(String, version: CgroupVersion, item: String)
    /// The interface file does not exist in the container's cgroup.
    case unknownFile(String, path: String)
    /// A cgroup path would leave the hierarchy root (`..`), or is empty.
    case invalidPath(String, reason: String)
    /// A cgroup directory the runtime must create exactly already exists.
    case alreadyExists(path: String)
    /// A resource value that has no meaning on this hierarchy or is inconsistent.
    case invalidValue(item: String, value: String, reason: String)
    /// A feature the kernel interface used here cannot express.
    case unsupported(String)
    /// A state change (freeze, thaw, kill) did not complete in time.
    case timedOut(String)
    /// Enabling a cgroup2 controller for the container failed earlier; a limit needs it.
    case controllerNotEnabled(String, cause: String)
    /// `bpf(2)` failed; `log` holds the verifier's text for a refused program.
    case bpf(call: String, errno: Errno, log: String)
    /// The host's cgroup mounts could not be understood.
    case layout(String)

    /// The kernel's errno where one caused the failure, else EINVAL.
    public var errno: Errno {
        switch self {
        case .write(_, _, let errno), .read(_, let errno), .bpf(_, let errno, _): return errno
        case .system(let error): return error.errno
        case .alreadyExists: return .EEXIST
        default: return .EINVAL
        }
    }

    public var description: String {
        switch self {
        case .write(let path, let value, let errno):
            return "write \(path) = \(value): \(errno)"
        case .read(let path, let errno):
            return "read \(path): \(errno)"
        case .system(let error):
            return error.description
        case .unknownController(let controller, let item):
            return "unknown cgroup controller \(controller) in \(item)"
        case .controllerUnavailable(let controller, let version, let item):
            return "cgroup controller \(controller) is not mounted on cgroup \(version) for \(item)"
        case .unknownFile(let file, let path):
            return "unknown cgroup file \(file): \(path) does not exist"
        case .invalidPath(let path, let reason):
            return "cgroup path \(path): \(reason)"
        case .alreadyExists(let path):
            return "cgroup \(path) already exists"
        case .invalidValue(let item, let value, let reason):
            return "cgroup \(item) = \(value): \(reason)"
        case .unsupported(let what):
            return "\(what) is not supported"
        case .timedOut(let what):
            return "\(what): timed out"
        case .controllerNotEnabled(let controller, let cause):
            return "cgroup2 controller \(controller) could not be enabled: \(cause)"
        case .bpf(let call, let errno, let log):
            let detail = log.isEmpty ? "" : " (verifier: \(log))"
            return "bpf \(call): \(errno)\(detail)"
        case .layout(let reason):
            return "cgroup layout: \(reason)"
        }
    }
}

/// Which cgroup interface a hierarchy speaks.
public enum CgroupVersion: String, Equatable, Hashable, Sendable, CustomStringConvertible {
    case v1
    case v2

    public var description: String { rawValue }
}
