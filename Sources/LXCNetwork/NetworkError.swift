import LXCSystem

/// A failed netlink exchange.
public enum NetlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kernel refused a request: the request (`RTM_NEWLINK veth0`), its errno, and the
    /// extended-ack text when the kernel gave one.
    case kernel(operation: String, errno: Errno, message: String?)
    /// A socket call failed.
    case system(SyscallError)
    /// A reply did not parse: a length overran its datagram, or a required part was missing.
    case malformed(String)

    /// The errno behind the failure, when there is one.
    public var errno: Errno? {
        switch self {
        case .kernel(_, let errno, _): return errno
        case .system(let error): return error.errno
        case .malformed: return nil
        }
    }

    public var description: String {
        switch self {
        case .kernel(let operation, let errno, let message):
            guard let message, !message.isEmpty else { return "\(operation): \(errno)" }
            return "\(operation): \(errno) (kernel: \(message))"
        case .system(let error): return error.description
        case .malformed(let what): return "malformed netlink reply: \(what)"
        }
    }
}

/// A network device that could not be set up, torn down or inspected.
///
/// Its text names the LXC key and value when the fault lies in one, then what went wrong,
/// then the kernel's reason: `lxc.net.0.link = br0: bridge does not exist: RTM_GETLINK br0:
/// no such device`.
public struct NetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config key at fault, such as `lxc.net.0.name`, when one is.
    public var key: String?
    /// The value of `key` as given.
    public var value: String?
    /// What failed, lowercase: `name longer than 15 bytes`, `create veth pair`.
    public var reason: String
    /// The netlink or system failure underneath, when there was one.
    public var cause: NetlinkError?

    public init(
        key: String? = nil, value: String? = nil, _ reason: String, cause: NetlinkError? = nil
    ) {
        self.key = key
        self.value = value
        self.reason = reason
        self.cause = cause
    }

    /// The errno of the underlying failure, when there was one.
    public var errno: Errno? { cause?.errno }

    public var description: String {
        var text = ""
        if let key {
            text = value.map { "\(key) = \($0): " } ?? "\(key): "
        }
        text += reason
        if let cause { text += ": \(cause)" }
        return text
    }
}

/// Runs a system-layer call and reports its failure as a `NetlinkError`.
@inline(__always)
func systemCall<T: ~Copyable>(_ body: () throws(SyscallError) -> T) throws(NetlinkError) -> T {
    do {
        return try body()
    } catch {
        throw .system(error)
    }
}
