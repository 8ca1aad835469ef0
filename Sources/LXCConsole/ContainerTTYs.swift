import Glibc
import LXCSystem

/// What `lxc.tty.*` asks for: the ttys a container gets besides its console.
public struct TTYOptions: Sendable, Equatable {
    /// `lxc.tty.max`.
    public var count: Int
    /// The host uid and gid of the container's root, when a user namespace maps it; the
    /// peers are chowned to them, as the console's.
    public var owner: (uid: UInt32, gid: UInt32)?

    public init(count: Int, owner: (uid: UInt32, gid: UInt32)? = nil) {
        self.count = count
        self.owner = owner
    }

    public static func == (lhs: TTYOptions, rhs: TTYOptions) -> Bool {
        lhs.count == rhs.count && lhs.owner?.uid == rhs.owner?.uid
            && lhs.owner?.gid == rhs.owner?.gid
    }
}

/// A container's `lxc.tty.max` ttys on the host side: a pty pair each, made at the first
/// launch and kept across reboots. The container gets the peers as `/dev/tty1`…; the
/// monitor does not read them (no ring buffer, as in LXC) and hands a duplicate of a
/// controller to one client at a time. A tty is busy while the client's command connection
/// stays open: the monitor holds a duplicate of it and frees the tty when it hangs up.
public final class ContainerTTYs {
    public let options: TTYOptions
    private let terminals: [Terminal]
    /// The held command connection of each tty's client, or -1 when the tty is free.
    private var holders: [Int32]

    /// Opens `options.count` pairs.
    public init(_ options: TTYOptions) throws(SyscallError) {
        self.options = options
        var terminals: [Terminal] = []
        for _ in 0..<options.count {
            terminals.append(Terminal(try PseudoTerminal.open(owner: options.owner)))
        }
        self.terminals = terminals
        holders = Array(repeating: -1, count: options.count)
    }

    deinit {
        for fd in holders where fd >= 0 { _ = close(fd) }
    }

    /// The peers' host paths (`/dev/pts/N`), tty 1 first, which the stage binds.
    public var peerPaths: [String] { terminals.map(\.peerPath) }

    /// Every descriptor the monitor holds for the ttys (a keeper closes them).
    public var descriptors: [Int32] {
        terminals.flatMap { [$0.controller.rawValue, $0.peer.rawValue] }
            + holders.filter { $0 >= 0 }
    }

    /// The held client connections, for the monitor's poll set (-1 for a free tty).
    public var holderDescriptors: [Int32] { holders }

    /// Gives a client tty `request` (1…count), or the first free one for -1: a duplicate of
    /// its controller; `request` becomes the tty's number. `connection` is the client's command socket,
    /// duplicated and held until it hangs up. EBUSY when the tty (or, for -1, every tty) is
    /// held, EINVAL for a tty the container does not have.
    public func attachClient(_ request: inout Int, connection: Int32) throws(SyscallError)
        -> FileDescriptor
    {
        for index in holders.indices where holders[index] >= 0 { releaseIfGone(index) }
        let index: Int
        if request == -1 {
            guard let free = holders.firstIndex(of: -1) else {
                throw SyscallError(.EBUSY, call: "console", object: "every tty is held by a client")
            }
            index = free
        } else {
            guard request >= 1 && request <= terminals.count else {
                throw SyscallError(
                    .EINVAL, call: "console",
                    object: "tty \(request): the container has \(terminals.count) (lxc.tty.max)")
            }
            index = request - 1
            guard holders[index] < 0 else {
                throw SyscallError(
                    .EBUSY, call: "console", object: "tty \(request) is held by a client")
            }
        }
        let controller = FileDescriptor(
            owning: try check(
                fcntl(terminals[index].controller.rawValue, F_DUPFD_CLOEXEC, 0),
                "fcntl F_DUPFD_CLOEXEC", "tty \(index + 1)"))
        holders[index] = try check(
            fcntl(connection, F_DUPFD_CLOEXEC, 0), "fcntl F_DUPFD_CLOEXEC", "command connection")
        request = index + 1
        return controller
    }

    /// Frees the tty at `index` (0 for tty 1): its client's connection hung up.
    public func release(_ index: Int) {
        guard holders.indices.contains(index), holders[index] >= 0 else { return }
        _ = close(holders[index])
        holders[index] = -1
    }

    /// Frees a tty whose client's connection has hung up but was not polled yet.
    private func releaseIfGone(_ index: Int) {
        var event = pollfd(fd: holders[index], events: pollReadHangUp, revents: 0)
        if poll(&event, 1, 0) == 1 && event.revents != 0 { release(index) }
    }
}

/// One tty's pair, held by reference so the array of them can be copied around.
private final class Terminal {
    let controller: FileDescriptor
    let peer: FileDescriptor
    let peerPath: String

    init(_ pair: consuming PseudoTerminal) {
        peerPath = pair.peerPath
        controller = pair.controller
        peer = pair.peer
    }
}

/// `POLLRDHUP`, which Swift's Glibc module does not import: the peer closed its end.
public let pollReadHangUp: Int16 = 0x2000
