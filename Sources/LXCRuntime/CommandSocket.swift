import Glibc
import LXCSystem

/// The commands a monitor serves on its socket.
public enum MonitorCommand: UInt32, Sendable {
    case state = 1
    case initPID = 2
    case stop = 3
    case signal = 4
    case getInitPIDFD = 5
    case freeze = 6
    case unfreeze = 7
    case getCgroupItem = 8
    case setCgroupItem = 9
    case cgroupStats = 10
    case getSeccompNotifyFD = 11
    case consoleLog = 12
    /// What an attach needs: the sealed memfd copy of the helper binary and the init's
    /// pidfd as descriptors, `AttachDefaults` as the payload.
    case attachContext = 13
    case addSeccompListener = 14
    case consoleAttach = 15
    /// The container's devpts mount as a descriptor (LXC's `LXC_CMD_GET_DEVPTS_FD`).
    case getDevptsFD = 16
}

/// One request or reply on a monitor's command socket: a command (or a status, `-errno`),
/// a small payload, and descriptors passed alongside.
public struct CommandMessage: Sendable, Equatable {
    public var code: Int32
    public var payload: [String]

    public init(code: Int32, payload: [String] = []) {
        self.code = code
        self.payload = payload
    }

    public func encoded() -> [UInt8] {
        var writer = WireWriter()
        writer.write(code)
        writer.write(payload)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = WireReader(bytes)
        code = try reader.readInt32()
        payload = try reader.readStrings()
    }
}

/// The monitor's socket address: LXC's abstract `@<lxcpath>/<name>/command`, or
/// `@lxc/<fnv64 hex>/command` when that is too long for `sun_path`.
public func commandSocketName(lxcpath: String, name: String) -> String {
    let full = "\(lxcpath)/\(name)/command"
    if full.utf8.count < 107 { return full }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in full.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    return "lxc/\(String(hash, radix: 16))/command"
}

/// `sockaddr_un` for an abstract name: a leading NUL, then the name without a terminator.
func withAbstractAddress<R>(_ name: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R)
    -> R
{
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(name.utf8.prefix(106))
    withUnsafeMutableBytes(of: &address.sun_path) { path in
        path[0] = 0
        for (index, byte) in bytes.enumerated() { path[index + 1] = byte }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
    }
}

/// A client of a monitor: connects, sends one request, reads one reply.
public enum CommandClient {
    /// Sends `command` to the monitor of `name` in `lxcpath`. ECONNREFUSED means no monitor
    /// runs: the container is stopped.
    ///
    /// With `waitingForExit`, the call returns only once the monitor has ended (its end of
    /// the connection closes when it exits; the monitor keeps a stop's connection open until
    /// then) or that many seconds have passed: a stop then needs no polling.
    ///
    /// With `keepingConnection`, the connection is appended to the descriptors (last) instead
    /// of closed: the monitor ties what it gave (a tty) to it.
    public static func send(
        _ command: MonitorCommand, payload: [String] = [], descriptors: [Int32] = [],
        lxcpath: String, name: String, waitingForExit timeout: Int? = nil,
        keepingConnection: Bool = false
    ) throws(SyscallError) -> (reply: CommandMessage, descriptors: DescriptorList) {
        let socketName = commandSocketName(lxcpath: lxcpath, name: name)
        let fd = try check(
            socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
            "socket", "command socket")
        let socket = FileDescriptor(owning: fd)
        let connected = withAbstractAddress(socketName) { connect(socket.rawValue, $0, $1) }
        _ = try check(connected, "connect", "@" + socketName)
        try socket.send(
            CommandMessage(code: Int32(command.rawValue), payload: payload).encoded(),
            descriptors: descriptors)
        let message = try socket.receive(capacity: 65536, maxDescriptors: 4)
        guard !message.bytes.isEmpty, let reply = try? CommandMessage(decoding: message.bytes)
        else {
            throw SyscallError(.ECONNREFUSED, call: "recvmsg", object: "@" + socketName)
        }
        if let timeout {
            var limit = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(
                socket.rawValue, SOL_SOCKET, SO_RCVTIMEO, &limit,
                socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            while recv(socket.rawValue, &byte, 1, 0) > 0 {}
        }
        if keepingConnection { _ = message.descriptors.append(socket) }
        return (reply, message.descriptors)
    }
}

/// The monitor's listening socket.
public struct CommandServer: ~Copyable {
    public let fd: FileDescriptor
    public let name: String

    /// Binds and listens on the abstract socket for `name` in `lxcpath`. EADDRINUSE means a
    /// monitor already serves this container.
    public init(lxcpath: String, name: String) throws(SyscallError) {
        let socketName = commandSocketName(lxcpath: lxcpath, name: name)
        let raw = try check(
            socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
            "socket", "command socket")
        let listener = FileDescriptor(owning: raw)
        let bound = withAbstractAddress(socketName) { bind(raw, $0, $1) }
        _ = try check(bound, "bind", "@" + socketName)
        _ = try check(listen(raw, 16), "listen", "@" + socketName)
        self.name = socketName
        self.fd = listener
    }

    /// Accepts one client and returns it with its credentials.
    public func accept() throws(SyscallError) -> CommandPeer {
        let client = try fd.accept()
        let credentials = try client.peerCredentials()
        return CommandPeer(socket: client, credentials: credentials)
    }
}

/// A connected client of the command socket and who it is (`SO_PEERCRED`).
public struct CommandPeer: ~Copyable {
    public let socket: FileDescriptor
    public let credentials: PeerCredentials
}
