import CSeccomp
import CShim
import Glibc
import LXCSystem

/// One intercepted system call, read from a listener with `SECCOMP_IOCTL_NOTIF_RECV`.
public struct SeccompNotification: Sendable {
    /// The kernel's cookie for this call; valid until it is answered or the caller dies.
    public var id: UInt64
    /// The caller's pid in the listener owner's pid namespace (0 when it has none there).
    public var pid: Int32
    public var flags: UInt32
    /// `seccomp_data.nr`: the call's number on `architecture`.
    public var syscall: Int32
    /// `seccomp_data.arch`: the `AUDIT_ARCH_*` token.
    public var architecture: UInt32
    public var instructionPointer: UInt64
    /// The six raw arguments.
    public var arguments: [UInt64]
    /// `struct seccomp_notif` exactly as the kernel wrote it (its size from
    /// `SECCOMP_GET_NOTIF_SIZES`), which LXC's proxy protocol forwards.
    public var bytes: [UInt8]
    /// The listener it came from, open while the handler runs. Use it through
    /// `readMemory` and `readString`; do not close it.
    public let listener: Int32

    /// The call's name on its architecture, as libseccomp knows it.
    public var syscallName: String? {
        guard let name = seccomp_syscall_resolve_num_arch(architecture, syscall) else {
            return nil
        }
        defer { free(name) }
        return String(cString: name)
    }

    /// Reads `count` bytes of the caller's memory at `address` from `/proc/PID/mem`.
    ///
    /// The id is checked with `SECCOMP_IOCTL_NOTIF_ID_VALID` after the file is open, so the
    /// bytes are the caller's and not those of a process that reused its pid; a call that
    /// ended meanwhile throws ENOENT.
    public func readMemory(at address: UInt64, count: Int) throws(SyscallError) -> [UInt8] {
        let path = "/proc/\(pid)/mem"
        let memory = try FileDescriptor.open(path, O_RDONLY)
        guard SeccompNotify.isValid(id, listener: listener) else {
            throw SyscallError(.ENOENT, call: "ioctl SECCOMP_IOCTL_NOTIF_ID_VALID", object: path)
        }
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes {
            pread(memory.rawValue, $0.baseAddress, count, off_t(Int64(bitPattern: address)))
        }
        let length = try check(read, "pread", path)
        return Array(buffer[0..<length])
    }

    /// Reads a NUL-terminated string (a path argument) of at most `limit` bytes.
    public func readString(at address: UInt64, limit: Int = 4096) throws(SyscallError) -> String {
        let bytes = try readMemory(at: address, count: limit)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// The answer to a notification (`struct seccomp_notif_resp` without the id).
public struct SeccompResponse: Hashable, Sendable {
    /// The call's return value when `error` is 0.
    public var value: Int64
    /// 0, or a negative errno the call fails with.
    public var error: Int32
    /// `SECCOMP_USER_NOTIF_FLAG_CONTINUE` lets the kernel run the call itself.
    public var flags: UInt32

    public init(value: Int64 = 0, error: Int32 = 0, flags: UInt32 = 0) {
        self.value = value
        self.error = error
        self.flags = flags
    }

    /// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`.
    public static let continueFlag: UInt32 = 1

    /// The call fails with `errno`.
    public static func fail(_ errno: Errno) -> SeccompResponse {
        SeccompResponse(error: -errno.rawValue)
    }

    /// The call returns `value` without running.
    public static func succeed(_ value: Int64 = 0) -> SeccompResponse {
        SeccompResponse(value: value)
    }

    /// The kernel runs the call as if it had not been intercepted. Only safe when nothing
    /// was decided from memory the caller can still change (see seccomp_unotify(2)).
    public static let continueCall = SeccompResponse(flags: continueFlag)
}

/// The listener ioctls of seccomp user notification.
public enum SeccompNotify {
    /// `SECCOMP_IOCTL_NOTIF_RECV`: `_IOWR('!', 0, struct seccomp_notif)`.
    static let receiveRequest: UInt = 0xc050_2100
    /// `SECCOMP_IOCTL_NOTIF_SEND`: `_IOWR('!', 1, struct seccomp_notif_resp)`.
    static let sendRequest: UInt = 0xc018_2101
    /// `SECCOMP_IOCTL_NOTIF_ID_VALID`: `_IOW('!', 2, __u64)` (kernels before 5.7 used the
    /// `_IOR` value 0x80082102, which newer kernels still accept).
    static let idValidRequest: UInt = 0x4008_2102
    /// `SECCOMP_GET_NOTIF_SIZES`.
    static let getNotifSizes = 3

    /// The kernel's sizes of the notification structures.
    public struct Sizes: Hashable, Sendable {
        public var notification: UInt16
        public var response: UInt16
        public var data: UInt16

        public init(notification: UInt16, response: UInt16, data: UInt16) {
            self.notification = notification
            self.response = response
            self.data = data
        }
    }

    /// `seccomp(SECCOMP_GET_NOTIF_SIZES)`, asked of the kernel once per process: the sizes
    /// cannot change while it runs, and a notification path should not pay a system call
    /// for them each time.
    public static func sizes() throws(SyscallError) -> Sizes {
        switch kernelSizes {
        case .success(let sizes): return sizes
        case .failure(let error): throw error
        }
    }

    private static let kernelSizes = Result { () throws(SyscallError) in try querySizes() }

    private static func querySizes() throws(SyscallError) -> Sizes {
        var sizes = seccomp_notif_sizes()
        let result = withUnsafeMutablePointer(to: &sizes) { pointer in
            shim_syscall6(Int(SYS_seccomp), getNotifSizes, 0, Int(bitPattern: pointer), 0, 0, 0)
        }
        _ = try check(result, "seccomp", "SECCOMP_GET_NOTIF_SIZES")
        return Sizes(
            notification: sizes.seccomp_notif, response: sizes.seccomp_notif_resp,
            data: sizes.seccomp_data)
    }

    /// Waits for and reads one notification. Throws ENOENT when the caller died before it
    /// could be read, which a server just skips.
    public static func receive(from listener: borrowing FileDescriptor) throws(SyscallError)
        -> SeccompNotification
    {
        try receive(listener.rawValue)
    }

    public static func receive(_ listener: Int32) throws(SyscallError) -> SeccompNotification {
        let size = max(Int(try sizes().notification), MemoryLayout<seccomp_notif>.size)
        // The kernel refuses a buffer that is not zeroed.
        var buffer = [UInt8](repeating: 0, count: size)
        try retryingOnInterrupt { () throws(SyscallError) in
            let result = buffer.withUnsafeMutableBytes {
                ioctl(listener, receiveRequest, $0.baseAddress!)
            }
            _ = try check(result, "ioctl SECCOMP_IOCTL_NOTIF_RECV")
        }
        let notif = buffer.withUnsafeBytes { $0.loadUnaligned(as: seccomp_notif.self) }
        let args = notif.data.args
        return SeccompNotification(
            id: notif.id, pid: Int32(bitPattern: notif.pid), flags: notif.flags,
            syscall: notif.data.nr, architecture: notif.data.arch,
            instructionPointer: notif.data.instruction_pointer,
            arguments: [args.0, args.1, args.2, args.3, args.4, args.5], bytes: buffer,
            listener: listener)
    }

    /// `SECCOMP_IOCTL_NOTIF_ID_VALID`: whether the call is still waiting for its answer.
    public static func isValid(_ id: UInt64, listener: Int32) -> Bool {
        var value = id
        return ioctl(listener, idValidRequest, &value) == 0
    }

    /// Answers the call `id`. Throws ENOENT when the caller is gone (its call was
    /// interrupted or it died).
    public static func respond(
        _ response: SeccompResponse, to id: UInt64, listener: Int32
    ) throws(SyscallError) {
        var answer = seccomp_notif_resp(
            id: id, val: response.value, error: response.error, flags: response.flags)
        try retryingOnInterrupt { () throws(SyscallError) in
            _ = try check(ioctl(listener, sendRequest, &answer), "ioctl SECCOMP_IOCTL_NOTIF_SEND")
        }
    }
}

/// Serves notifications from any number of listeners with one handler, polling them
/// together. A listener whose filter has no users left (every process under it exited)
/// reports a hang-up and is closed.
public final class SeccompNotifyServer {
    private var listeners: [Int32] = []

    public init() {}

    deinit {
        for fd in listeners { _ = Glibc.close(fd) }
    }

    /// Takes a listener to serve.
    public func add(_ listener: consuming FileDescriptor) {
        listeners.append(listener.release())
    }

    /// The listeners still open.
    public var count: Int { listeners.count }

    /// Answers notifications with `handler` until every listener has hung up (true) or
    /// `milliseconds` pass without any notification (false; -1 waits for ever).
    ///
    /// A call whose caller died before it was read or answered is skipped. Throws only for
    /// a failing `poll` or a listener the kernel refuses to read.
    @discardableResult
    public func serve(
        timeout milliseconds: Int32 = -1, handler: (SeccompNotification) -> SeccompResponse
    ) throws(SyscallError) -> Bool {
        while !listeners.isEmpty {
            var entries = listeners.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = try retryingOnInterrupt { () throws(SyscallError) -> Int32 in
                try check(poll(&entries, nfds_t(entries.count), milliseconds), "poll")
            }
            if ready == 0 { return false }
            var closed: Set<Int32> = []
            for entry in entries where entry.revents != 0 {
                if entry.revents & Int16(POLLIN) != 0 {
                    try handleOne(entry.fd, handler)
                } else {
                    closed.insert(entry.fd)
                }
            }
            for fd in closed { _ = Glibc.close(fd) }
            listeners.removeAll { closed.contains($0) }
        }
        return true
    }

    private func handleOne(_ fd: Int32, _ handler: (SeccompNotification) -> SeccompResponse)
        throws(SyscallError)
    {
        let notification: SeccompNotification
        do {
            notification = try SeccompNotify.receive(fd)
        } catch  where error.errno == .ENOENT {
            return
        }
        let response = handler(notification)
        do {
            try SeccompNotify.respond(response, to: notification.id, listener: fd)
        } catch  where error.errno == .ENOENT {
            return
        }
    }
}
