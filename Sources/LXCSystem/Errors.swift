import Glibc

/// An errno value, spelled as the kernel spells it (`Errno.ENOENT`).
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The calling thread's errno right now. Read it immediately after the failing call.
    public static var current: Errno {
        Errno(rawValue: Glibc.errno)
    }

    /// strerror's text with a lowercase first letter, as SwiftLXC's messages are written.
    public var description: String {
        var text = String(cString: strerror(rawValue))
        if let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase ?? true {
            text = first.lowercased() + text.dropFirst()
        }
        return text
    }

    public static let EPERM = Errno(rawValue: Glibc.EPERM)
    public static let ENOENT = Errno(rawValue: Glibc.ENOENT)
    public static let ESRCH = Errno(rawValue: Glibc.ESRCH)
    public static let EINTR = Errno(rawValue: Glibc.EINTR)
    public static let EIO = Errno(rawValue: Glibc.EIO)
    public static let EBADF = Errno(rawValue: Glibc.EBADF)
    public static let ECHILD = Errno(rawValue: Glibc.ECHILD)
    public static let EAGAIN = Errno(rawValue: Glibc.EAGAIN)
    public static let ENOMEM = Errno(rawValue: Glibc.ENOMEM)
    public static let EACCES = Errno(rawValue: Glibc.EACCES)
    public static let EBUSY = Errno(rawValue: Glibc.EBUSY)
    public static let EEXIST = Errno(rawValue: Glibc.EEXIST)
    public static let ENXIO = Errno(rawValue: Glibc.ENXIO)
    public static let ENOTDIR = Errno(rawValue: Glibc.ENOTDIR)
    public static let EISDIR = Errno(rawValue: Glibc.EISDIR)
    public static let EINVAL = Errno(rawValue: Glibc.EINVAL)
    public static let ENOSPC = Errno(rawValue: Glibc.ENOSPC)
    public static let EROFS = Errno(rawValue: Glibc.EROFS)
    public static let EPIPE = Errno(rawValue: Glibc.EPIPE)
    public static let ERANGE = Errno(rawValue: Glibc.ERANGE)
    public static let ENOSYS = Errno(rawValue: Glibc.ENOSYS)
    public static let ENODATA = Errno(rawValue: Glibc.ENODATA)
    public static let ELOOP = Errno(rawValue: Glibc.ELOOP)
    public static let EXDEV = Errno(rawValue: Glibc.EXDEV)
    public static let ENOEXEC = Errno(rawValue: Glibc.ENOEXEC)
    public static let ECONNREFUSED = Errno(rawValue: Glibc.ECONNREFUSED)
    public static let ETIMEDOUT = Errno(rawValue: Glibc.ETIMEDOUT)
    public static let EOPNOTSUPP = Errno(rawValue: Glibc.EOPNOTSUPP)
}

/// A failed system call: the errno it set, the call's name and the object it acted on.
///
/// Its text reads `call object: reason`, for example
/// `openat2 etc/passwd in /var/lib/lxc/web/rootfs: no such file or directory`.
public struct SyscallError: Error, Hashable, Sendable, CustomStringConvertible {
    public var errno: Errno
    public var call: String
    public var object: String?

    public init(_ errno: Errno, call: String, object: String? = nil) {
        self.errno = errno
        self.call = call
        self.object = object
    }

    public var description: String {
        guard let object, !object.isEmpty else { return "\(call): \(errno)" }
        return "\(call) \(object): \(errno)"
    }
}

/// Returns `result` when it is not negative; otherwise throws the errno the call just set.
///
/// Evaluate the call in the argument so that nothing runs between it and the errno read.
@inline(__always)
public func check<T: BinaryInteger>(
    _ result: T, _ call: String, _ object: @autoclosure () -> String? = nil
) throws(SyscallError) -> T {
    if result >= 0 { return result }
    let errno = Errno.current
    throw SyscallError(errno, call: call, object: object())
}

/// Repeats `body` while it fails with EINTR. Use only where a retry is the right answer:
/// reads, writes and waits, not calls whose side effect may already have happened.
@inline(__always)
public func retryingOnInterrupt<T>(
    _ body: () throws(SyscallError) -> T
) throws(SyscallError) -> T {
    while true {
        do {
            return try body()
        } catch  where error.errno == .EINTR {
            continue
        }
    }
}
