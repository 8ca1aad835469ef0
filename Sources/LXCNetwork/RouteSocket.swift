import CShim
import Glibc
import LXCSystem

/// A `NETLINK_ROUTE` socket with extended acknowledgements, bound to the network namespace it
/// was opened in for its whole life.
///
/// Requests are sent with `NLM_F_ACK` and wait for their acknowledgement; a refusal throws
/// `NetlinkError.kernel` with the kernel's extended-ack text. Use one socket from one thread
/// at a time.
public final class RouteSocket {
    private let fd: FileDescriptor
    private var sequence: UInt32 = 0
    private var buffer: [UInt8] = []

    /// Opens a socket in the calling thread's network namespace.
    public init() throws(NetlinkError) {
        fd = try Self.makeSocket()
    }

    private init(fd: consuming FileDescriptor) {
        self.fd = fd
    }

    /// Opens a socket inside the network namespace `netns` refers to.
    ///
    /// Only the calling thread changes namespace, and only for the `socket` call: it joins
    /// `netns` with `setns(CLONE_NEWNET)` (allowed per thread in a multithreaded process),
    /// creates the socket, and joins its original namespace again, also when the socket call
    /// failed. A socket keeps the namespace it was created in.
    public static func open(in netns: borrowing FileDescriptor) throws(NetlinkError) -> RouteSocket
    {
        let original = try systemCall { () throws(SyscallError) in
            try FileDescriptor.open("/proc/thread-self/ns/net", O_RDONLY)
        }
        let netnsFlag = Namespace.network.cloneFlag

        do {
            try Namespaces.join(netns, type: netnsFlag, name: "network namespace")
        } catch {
            throw NetlinkError.system(error)
        }

        // Nothing may run between the join and the return but the socket call: the thread
        // must not leave this function (or await) inside the container's namespace.
        let socket: Result<RouteSocket, NetlinkError>
        do {
            socket = .success(RouteSocket(fd: try makeSocket()))
        } catch {
            socket = .failure(error)
        }

        do {
            try Namespaces.join(original, type: netnsFlag, name: "original network namespace")
        } catch {
            throw NetlinkError.system(error)
        }
        return try socket.get()
    }

    private static func makeSocket() throws(NetlinkError) -> FileDescriptor {
        let type = Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let raw = try systemCall { () throws(SyscallError) -> Int32 in
            try check(
                Glibc.socket(AF_NETLINK, type, Netlink.NETLINK_ROUTE), "socket",
                "AF_NETLINK NETLINK_ROUTE")
        }
        let fd = FileDescriptor(owning: raw)

        var on: Int32 = 1
        for option in [Netlink.NETLINK_EXT_ACK, Netlink.NETLINK_CAP_ACK] {
            let result = setsockopt(
                fd.rawValue, Netlink.SOL_NETLINK, option, &on, socklen_t(MemoryLayout<Int32>.size))
            _ = try systemCall { () throws(SyscallError) in
                try check(result, "setsockopt", "netlink option \(option)")
            }
        }

        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd.rawValue, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
            }
        }
        _ = try systemCall { () throws(SyscallError) in try check(bound, "bind", "netlink socket") }
        return fd
    }

    // MARK: Exchanges

    /// Sends `request` with `NLM_F_ACK` and waits for the kernel's acknowledgement.
    public func perform(_ request: NetlinkRequest) throws(NetlinkError) {
        var request = request
        if request.flags & Netlink.NLM_F_ACK == 0 {
            request = NetlinkRequest(copying: request, addingFlags: Netlink.NLM_F_ACK)
        }
        let sequence = try send(request)
        while true {
            for message in try receive() where message.sequence == sequence {
                if message.type == Netlink.NLMSG_ERROR {
                    try Self.throwIfRefused(message, request.operation)
                    return
                }
            }
        }
    }

    /// Sends a get request that the kernel answers with one message (such as `RTM_GETLINK`
    /// by name) and returns that message.
    public func fetch(_ request: NetlinkRequest) throws(NetlinkError) -> NetlinkMessage {
        let sequence = try send(request)
        while true {
            for message in try receive() where message.sequence == sequence {
                if message.type == Netlink.NLMSG_ERROR {
                    try Self.throwIfRefused(message, request.operation)
                    throw .malformed("\(request.operation) acknowledged without an answer")
                }
                return message
            }
        }
    }

    /// Sends a dump request (`NLM_F_DUMP` is added) and collects every answer until
    /// `NLMSG_DONE`. A dump interrupted by a concurrent change (`NLM_F_DUMP_INTR`) is retried.
    public func dump(_ request: NetlinkRequest) throws(NetlinkError) -> [NetlinkMessage] {
        let request = NetlinkRequest(copying: request, addingFlags: Netlink.NLM_F_DUMP)
        for _ in 0..<10 {
            let sequence = try send(request)
            var answers: [NetlinkMessage] = []
            var interrupted = false
            collecting: while true {
                for message in try receive() where message.sequence == sequence {
                    if message.flags & Netlink.NLM_F_DUMP_INTR != 0 { interrupted = true }
                    switch message.type {
                    case Netlink.NLMSG_DONE: break collecting
                    case Netlink.NLMSG_ERROR: try Self.throwIfRefused(message, request.operation)
                    case Netlink.NLMSG_NOOP: continue
                    default: answers.append(message)
                    }
                }
            }
            if !interrupted { return answers }
        }
        throw .kernel(operation: request.operation, errno: .EINTR, message: "dump kept changing")
    }

    private static func throwIfRefused(_ message: NetlinkMessage, _ operation: String)
        throws(NetlinkError)
    {
        let ack = try NetlinkAcknowledgement(payload: message.payload, flags: message.flags)
        guard ack.error == 0 else {
            throw .kernel(
                operation: operation, errno: Errno(rawValue: -ack.error), message: ack.kernelMessage
            )
        }
    }

    private func send(_ request: NetlinkRequest) throws(NetlinkError) -> UInt32 {
        sequence &+= 1
        if sequence == 0 { sequence = 1 }
        let bytes = request.encoded(sequence: sequence)
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let sent = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &kernel) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(
                        fd.rawValue, raw.baseAddress, raw.count, 0, $0,
                        socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
        _ = try systemCall { () throws(SyscallError) in
            try check(sent, "sendto", request.operation)
        }
        return sequence
    }

    /// Receives one datagram, sized first with `MSG_PEEK|MSG_TRUNC` so nothing is cut off.
    private func receive() throws(NetlinkError) -> [NetlinkMessage] {
        let length = try systemCall { () throws(SyscallError) -> Int in
            try retryingOnInterrupt { () throws(SyscallError) -> Int in
                try check(
                    recv(fd.rawValue, nil, 0, Int32(MSG_PEEK | MSG_TRUNC)), "recv", "netlink peek")
            }
        }
        if buffer.count < max(length, 8192) {
            buffer = [UInt8](repeating: 0, count: max(length, 32768))
        }
        let received = try systemCall { () throws(SyscallError) -> Int in
            try retryingOnInterrupt { () throws(SyscallError) -> Int in
                let count = buffer.withUnsafeMutableBytes {
                    recv(fd.rawValue, $0.baseAddress, $0.count, 0)
                }
                return try check(count, "recv", "netlink socket")
            }
        }
        return try NetlinkMessage.parse(buffer[0..<received])
    }
}

extension NetlinkRequest {
    /// A copy of `request` with more `nlmsg_flags`.
    init(copying request: NetlinkRequest, addingFlags extra: UInt16) {
        self = request
        setFlags(request.flags | extra)
    }
}
