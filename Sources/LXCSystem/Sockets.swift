import CShim
import Glibc

/// Two connected sockets from `socketpair(2)`.
@frozen public struct SocketPair: ~Copyable {
    public var first: FileDescriptor
    public var second: FileDescriptor

    /// `socketpair(AF_UNIX, type | SOCK_CLOEXEC)`; `type` is `SOCK_SEQPACKET` by default.
    public init(type: Int32 = Int32(SOCK_SEQPACKET.rawValue)) throws(SyscallError) {
        var fds: [Int32] = [-1, -1]
        _ = try check(
            socketpair(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0, &fds), "socketpair")
        first = FileDescriptor(owning: fds[0])
        second = FileDescriptor(owning: fds[1])
    }
}

/// An owned list of descriptors (received in one message, or prepared for later use).
/// Those not taken are closed when the list ends.
public final class DescriptorList: @unchecked Sendable {
    private var fds: [Int32]

    init(_ fds: [Int32]) { self.fds = fds }

    public init() { self.fds = [] }

    /// Adds `descriptor` at the end and returns its index.
    @discardableResult
    public func append(_ descriptor: consuming FileDescriptor) -> Int {
        fds.append(descriptor.release())
        return fds.count - 1
    }

    /// Adds an empty slot (nothing to take there) and returns its index.
    @discardableResult
    public func appendEmpty() -> Int {
        fds.append(-1)
        return fds.count - 1
    }

    /// The raw number at `index` while the list still owns it, or -1.
    public func rawValue(at index: Int) -> Int32 {
        fds.indices.contains(index) ? fds[index] : -1
    }

    deinit {
        for fd in fds where fd >= 0 { _ = Glibc.close(fd) }
    }

    public var count: Int { fds.count }

    /// Takes ownership of the descriptor at `index`; nil if there is none or it was taken.
    public func take(_ index: Int) -> FileDescriptor? {
        guard fds.indices.contains(index), fds[index] >= 0 else { return nil }
        defer { fds[index] = -1 }
        return FileDescriptor(owning: fds[index])
    }
}

/// The size of the `cmsghdr` header on this ABI (`CMSG_LEN(0)`), laid out by hand because the
/// `CMSG_*` macros are not imported.
private let cmsgHeaderSize = MemoryLayout<cmsghdr>.size

private func cmsgAlign(_ length: Int) -> Int {
    let align = MemoryLayout<Int>.size
    return (length + align - 1) & ~(align - 1)
}

extension FileDescriptor {
    /// Sends `bytes` with `fds` attached as `SCM_RIGHTS` in one `sendmsg(2)`.
    /// The descriptors stay owned by the caller.
    public borrowing func send(_ bytes: [UInt8], descriptors fds: [Int32] = []) throws(SyscallError)
    {
        var payload = bytes.isEmpty ? [0] : bytes
        let controlLength = fds.isEmpty ? 0 : cmsgAlign(cmsgHeaderSize + 4 * fds.count)
        var control = [UInt8](repeating: 0, count: controlLength)
        let sent = payload.withUnsafeMutableBytes { payload in
            control.withUnsafeMutableBytes { control in
                var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
                return withUnsafeMutablePointer(to: &vector) { vector in
                    var message = msghdr()
                    message.msg_iov = vector
                    message.msg_iovlen = 1
                    if controlLength > 0, let base = control.baseAddress {
                        // The header sits at the start of the buffer, the fds right after it.
                        let header = base.assumingMemoryBound(to: cmsghdr.self)
                        header.pointee.cmsg_len = cmsgHeaderSize + 4 * fds.count
                        header.pointee.cmsg_level = SOL_SOCKET
                        header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                        let data = (base + cmsgHeaderSize).assumingMemoryBound(to: Int32.self)
                        for (index, fd) in fds.enumerated() { data[index] = fd }
                        message.msg_control = base
                        message.msg_controllen = controlLength
                    }
                    return sendmsg(rawValue, &message, Int32(MSG_NOSIGNAL))
                }
            }
        }
        _ = try check(sent, "sendmsg")
    }

    /// Receives one message of at most `capacity` bytes and up to `maxDescriptors` fds
    /// (received close-on-exec). An empty result means the peer closed the connection.
    public borrowing func receive(capacity: Int = 65536, maxDescriptors: Int = 8)
        throws(SyscallError) -> (bytes: [UInt8], descriptors: DescriptorList)
    {
        let controlLength = cmsgAlign(cmsgHeaderSize + 4 * maxDescriptors)
        var control = [UInt8](repeating: 0, count: controlLength)
        var fds: [Int32] = []
        var failure: SyscallError?
        // The buffer is left uninitialized: only the pages the message lands in are touched.
        // Zero-filling it cost the container-side stage a whole megabyte (the plan's capacity)
        // per start, which 50 concurrent starts felt as 50 MiB more peak memory.
        let payload = [UInt8](unsafeUninitializedCapacity: max(capacity, 1)) { payload, length in
            length = 0
            do throws(SyscallError) {
                length = try retryingOnInterrupt { () throws(SyscallError) -> Int in
                    let received = control.withUnsafeMutableBytes { control in
                        var vector = iovec(iov_base: payload.baseAddress, iov_len: capacity)
                        return withUnsafeMutablePointer(to: &vector) { vector in
                            var message = msghdr()
                            message.msg_iov = vector
                            message.msg_iovlen = 1
                            message.msg_control = control.baseAddress
                            message.msg_controllen = controlLength
                            let count = recvmsg(rawValue, &message, Int32(MSG_CMSG_CLOEXEC))
                            if count >= 0 {
                                fds = parseRights(control, length: message.msg_controllen)
                            }
                            return count
                        }
                    }
                    return try check(received, "recvmsg")
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        // A compact copy: the caller does not keep the whole capacity alive with the message.
        return (Array(payload[...]), DescriptorList(fds))
    }
}

/// Walks the control buffer and collects every `SCM_RIGHTS` descriptor.
private func parseRights(_ control: UnsafeMutableRawBufferPointer, length: Int) -> [Int32] {
    guard let base = control.baseAddress else { return [] }
    var fds: [Int32] = []
    var offset = 0
    while offset + cmsgHeaderSize <= length {
        let header = (base + offset).assumingMemoryBound(to: cmsghdr.self).pointee
        guard header.cmsg_len >= cmsgHeaderSize else { break }
        if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Int32(SCM_RIGHTS) {
            let count = (header.cmsg_len - cmsgHeaderSize) / 4
            let data = (base + offset + cmsgHeaderSize).assumingMemoryBound(to: Int32.self)
            for index in 0..<count { fds.append(data[index]) }
        }
        offset += cmsgAlign(header.cmsg_len)
    }
    return fds
}

/// A pipe from `pipe2(O_CLOEXEC)`.
@frozen public struct Pipe: ~Copyable {
    public var readEnd: FileDescriptor
    public var writeEnd: FileDescriptor

    public init() throws(SyscallError) {
        var fds: [Int32] = [-1, -1]
        _ = try check(pipe2(&fds, O_CLOEXEC), "pipe2")
        readEnd = FileDescriptor(owning: fds[0])
        writeEnd = FileDescriptor(owning: fds[1])
    }
}

/// Who is at the other end of a unix socket (`SO_PEERCRED`).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: pid_t
    public var uid: uid_t
    public var gid: gid_t
}

extension FileDescriptor {
    /// `accept4(SOCK_CLOEXEC)` on a listening socket.
    public borrowing func accept() throws(SyscallError) -> FileDescriptor {
        let fd = try check(accept4(rawValue, nil, nil, Int32(SOCK_CLOEXEC.rawValue)), "accept4")
        return FileDescriptor(owning: fd)
    }

    /// The peer's pid, uid and gid as the kernel recorded them at connect.
    public borrowing func peerCredentials() throws(SyscallError) -> PeerCredentials {
        var credentials = shim_ucred()
        var length = socklen_t(MemoryLayout<shim_ucred>.size)
        _ = try check(
            getsockopt(rawValue, SOL_SOCKET, SO_PEERCRED, &credentials, &length), "getsockopt",
            "SO_PEERCRED")
        return PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
    }
}
