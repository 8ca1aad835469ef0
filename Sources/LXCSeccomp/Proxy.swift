import Glibc
import LXCSystem

/// The header of LXC's seccomp proxy messages (`struct seccomp_notify_proxy_msg`), 32 bytes
/// in native byte order:
///
/// | offset | field |
/// |---|---|
/// | 0 | `__reserved`, u64, 0 |
/// | 8 | `monitor_pid`, i32 |
/// | 12 | `init_pid`, i32 |
/// | 16 | sizes: u16 `seccomp_notif`, u16 `seccomp_notif_resp`, u16 `seccomp_data` |
/// | 22 | padding |
/// | 24 | `cookie_len`, u64 |
///
/// A request datagram is the header, the kernel's `seccomp_notif`, a `seccomp_notif_resp`
/// holding only the id, and the cookie without its NUL; a reply is the header, the
/// notification and the filled response, nothing more.
public struct SeccompProxyHeader: Hashable, Sendable {
    public static let size = 32

    public var reserved: UInt64 = 0
    public var monitorPID: Int32
    public var initPID: Int32
    public var sizes: SeccompNotify.Sizes
    public var cookieLength: UInt64

    public init(monitorPID: Int32, initPID: Int32, sizes: SeccompNotify.Sizes, cookieLength: UInt64)
    {
        self.monitorPID = monitorPID
        self.initPID = initPID
        self.sizes = sizes
        self.cookieLength = cookieLength
    }

    /// The 32 bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.size)
        out.appendNative(reserved)
        out.appendNative(monitorPID)
        out.appendNative(initPID)
        out.appendNative(sizes.notification)
        out.appendNative(sizes.response)
        out.appendNative(sizes.data)
        out.append(contentsOf: [0, 0])
        out.appendNative(cookieLength)
        return out
    }

    /// Reads a header from the first 32 bytes; nil when there are fewer.
    public init?(_ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes.prefix(Self.size))
        guard bytes.count == Self.size else { return nil }
        reserved = bytes.loadNative(at: 0)
        monitorPID = bytes.loadNative(at: 8)
        initPID = bytes.loadNative(at: 12)
        sizes = SeccompNotify.Sizes(
            notification: bytes.loadNative(at: 16), response: bytes.loadNative(at: 18),
            data: bytes.loadNative(at: 20))
        cookieLength = bytes.loadNative(at: 24)
    }
}

/// The monitor's side of LXC's seccomp proxy: each notification goes to the proxy as one
/// `SOCK_SEQPACKET` datagram with three descriptors (`/proc/PID` as an `O_DIRECTORY` fd,
/// `/proc/PID/mem` read-write, the listener), and the proxy's reply is what the caller gets.
/// When the proxy cannot be reached or its reply has the wrong length, the call fails with
/// ENOSYS, as in LXC.
///
/// Use it as a `SeccompNotifyServer` handler: `server.serve { proxy.forward($0) }`.
public final class SeccompProxyClient {
    private let socket: FileDescriptor
    private let cookie: [UInt8]
    private let monitorPID: Int32
    private let initPID: Int32

    /// `socket` is connected to the proxy (`lxc.seccomp.notify.proxy`); `cookie` is
    /// `lxc.seccomp.notify.cookie`.
    public init(
        socket: consuming FileDescriptor, cookie: String?, monitorPID: Int32, initPID: Int32
    ) {
        self.socket = socket
        self.cookie = Array((cookie ?? "").utf8)
        self.monitorPID = monitorPID
        self.initPID = initPID
    }

    /// Connects a `SOCK_SEQPACKET` unix socket to `address` (`/path` or `@abstract`, LXC's
    /// `unix:` prefix removed) with LXC's 30 second send and receive timeouts.
    public static func connect(to address: String) throws(SyscallError) -> FileDescriptor {
        let fd = try check(
            Glibc.socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
            "socket", address)
        let socket = FileDescriptor(owning: fd)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        for option in [SO_SNDTIMEO, SO_RCVTIMEO] {
            _ = try check(
                setsockopt(
                    fd, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size)),
                "setsockopt", address)
        }
        var name = Array(address.utf8)
        if name.first == UInt8(ascii: "@") { name[0] = 0 }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard name.count < capacity else {
            throw SyscallError(.ERANGE, call: "connect", object: address)
        }
        withUnsafeMutableBytes(of: &storage.sun_path) { path in
            path.copyBytes(from: name)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count + (name[0] == 0 ? 0 : 1))
        let connected = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, length)
            }
        }
        _ = try check(connected, "connect", address)
        return socket
    }

    /// Sends `notification` to the proxy and returns its answer, or ENOSYS.
    public func forward(_ notification: SeccompNotification) -> SeccompResponse {
        (try? exchange(notification)) ?? .fail(.ENOSYS)
    }

    private func exchange(_ notification: SeccompNotification) throws(SyscallError)
        -> SeccompResponse
    {
        let sizes = try SeccompNotify.sizes()
        let procDirectory = try FileDescriptor.open(
            "/proc/\(notification.pid)", O_RDONLY | O_DIRECTORY)
        let memory = try FileDescriptor.open("/proc/\(notification.pid)/mem", O_RDWR)
        // The mem file must belong to the caller, not to a process that reused its pid.
        guard SeccompNotify.isValid(notification.id, listener: notification.listener) else {
            throw SyscallError(.ENOENT, call: "ioctl SECCOMP_IOCTL_NOTIF_ID_VALID")
        }

        var notif = notification.bytes
        notif += [UInt8](repeating: 0, count: max(0, Int(sizes.notification) - notif.count))
        notif = Array(notif.prefix(Int(sizes.notification)))
        var response = [UInt8](repeating: 0, count: Int(sizes.response))
        response.replaceSubrange(0..<8, with: bytesOf(notification.id))
        let header = SeccompProxyHeader(
            monitorPID: monitorPID, initPID: initPID, sizes: sizes,
            cookieLength: UInt64(cookie.count))
        try socket.send(
            header.bytes + notif + response + cookie,
            descriptors: [procDirectory.rawValue, memory.rawValue, notification.listener])

        let expected = SeccompProxyHeader.size + notif.count + response.count
        let reply = try socket.receive(capacity: expected + 1, maxDescriptors: 0).bytes
        guard reply.count == expected else {
            throw SyscallError(
                Errno(rawValue: EBADMSG), call: "recvmsg", object: "seccomp proxy reply")
        }
        let answer = Array(reply[(SeccompProxyHeader.size + notif.count)...])
        return SeccompResponse(
            value: answer.loadNative(at: 8), error: answer.loadNative(at: 16),
            flags: answer.loadNative(at: 20))
    }
}

private func bytesOf<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

extension [UInt8] {
    mutating func appendNative<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) }
    }

    func loadNative<T: FixedWidthInteger>(at offset: Int) -> T {
        guard offset + MemoryLayout<T>.size <= count else { return 0 }
        return withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
}
