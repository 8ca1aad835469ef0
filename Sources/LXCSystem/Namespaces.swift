import CShim
import Glibc

/// The kernel's namespace kinds, with their clone flag and their `/proc/<pid>/ns` name.
public enum Namespace: String, CaseIterable, Sendable {
    case mount = "mnt"
    case uts
    case ipc
    case user
    case pid
    case network = "net"
    case cgroup
    case time

    /// The `CLONE_NEW*` flag.
    public var cloneFlag: Int32 {
        switch self {
        case .mount: return Int32(CLONE_NEWNS)
        case .uts: return Int32(CLONE_NEWUTS)
        case .ipc: return Int32(CLONE_NEWIPC)
        case .user: return Int32(CLONE_NEWUSER)
        case .pid: return Int32(CLONE_NEWPID)
        case .network: return Int32(CLONE_NEWNET)
        case .cgroup: return Int32(CLONE_NEWCGROUP)
        case .time: return Int32(CLONE_NEWTIME)
        }
    }

    /// The name under `/proc/<pid>/ns/`.
    public var procName: String { rawValue }

    /// The link text of `/proc/<pid>/ns/<name>`, such as `mnt:[4026531841]`.
    public func identity(of pid: pid_t? = nil) throws(SyscallError) -> String {
        let path = "/proc/\(pid.map(String.init) ?? "self")/ns/\(procName)"
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes {
            readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
        }
        return String(decoding: buffer[0..<(try check(count, "readlink", path))], as: UTF8.self)
    }
}

/// A set of namespaces as clone flags.
public struct NamespaceSet: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public init(_ namespaces: [Namespace]) {
        self.rawValue = namespaces.reduce(0) { $0 | $1.cloneFlag }
    }

    public func contains(_ namespace: Namespace) -> Bool {
        rawValue & namespace.cloneFlag != 0
    }

    public var members: [Namespace] {
        Namespace.allCases.filter { contains($0) }
    }
}

/// Namespace calls. These change the calling thread or process: call them only in a freshly
/// exec'd single-threaded process (the container-side stage or a helper), never in a caller
/// that may have started threads.
public enum Namespaces {
    /// `setns(2)`: joins the namespace `fd` refers to. `type` 0 accepts any kind.
    public static func join(_ fd: borrowing FileDescriptor, type: Int32 = 0, name: String? = nil)
        throws(SyscallError)
    {
        _ = try check(setns(fd.rawValue, type), "setns", name)
    }

    /// `unshare(2)` with `flags`.
    public static func unshare(_ flags: NamespaceSet) throws(SyscallError) {
        _ = try check(
            CShim.unshare(flags.rawValue), "unshare",
            flags.members.map(\.procName).joined(separator: ","))
    }
}
