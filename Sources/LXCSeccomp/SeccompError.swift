import LXCSystem

/// A seccomp policy refused or a filter that could not be built, naming where and why.
///
/// Its text reads `file:line: reason` for policy text, `file: path: reason` for OCI JSON and
/// `call object: reason` for a failed libseccomp or kernel call, always lowercase.
public enum SeccompError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A policy line or JSON member that cannot be read; nothing of the policy is used.
    case invalidPolicy(file: String, line: Int?, reason: String)
    /// A libseccomp call failed while building or exporting the filter. `errno` is the real
    /// kernel or library code (libseccomp runs with `SCMP_FLTATR_API_SYSRAWRC`).
    case library(call: String, object: String, errno: Errno)
    /// A system call outside libseccomp failed (reading the policy, the memfd, an ioctl).
    case system(SyscallError)

    public var description: String {
        switch self {
        case .invalidPolicy(let file, let line, let reason):
            guard let line else { return "\(file): \(reason)" }
            return "\(file):\(line): \(reason)"
        case .library(let call, let object, let errno):
            return object.isEmpty ? "\(call): \(errno)" : "\(call) \(object): \(errno)"
        case .system(let error):
            return error.description
        }
    }

    /// The errno of a library or system failure; nil for a refused policy.
    public var errno: Errno? {
        switch self {
        case .invalidPolicy: return nil
        case .library(_, _, let errno): return errno
        case .system(let error): return error.errno
        }
    }
}
