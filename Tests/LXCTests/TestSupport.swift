import CShim
import Glibc
import LXCSystem

/// The busybox rootfs of the privileged tests: `Scripts/test.sh` builds it and sets
/// `SWIFTLXC_TEST_ROOTFS`; a plain `swift test` builds it on first use.
let rootfs: String = {
    if let value = getenv("SWIFTLXC_TEST_ROOTFS") { return String(cString: value) }
    let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
    let path = "/\(package)/.build/test-rootfs"
    if access(path + "/bin/busybox", X_OK) != 0 {
        _ = try? Spawn.run(
            SpawnRequest(
                path: "/\(package)/Scripts/make-rootfs.sh", arguments: ["make-rootfs.sh", path],
                fileMap: [0, 2, 2]))
    }
    return path
}()

/// A listening abstract `SOCK_SEQPACKET` socket, where a seccomp proxy waits for the monitor.
func listenAbstract(_ name: String) throws -> FileDescriptor {
    let fd = FileDescriptor(
        owning: socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(name.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { path in
        for (index, byte) in bytes.enumerated() { path[index + 1] = byte }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd.rawValue, $0, length) }
    }
    guard bound == 0, listen(fd.rawValue, 4) == 0 else {
        throw SyscallError(.current, call: "bind", object: "@" + name)
    }
    return fd
}

/// LXC's proxy answer to one notification datagram (its 32-byte header, `seccomp_notif`
/// and the rest as received): the header and notification again, then `seccomp_notif_resp`
/// with `error` (a negative errno, or 0) and no flags.
func proxyAnswer(to datagram: [UInt8], error: Int32) -> [UInt8] {
    let id = datagram.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self) }
    var reply = Array(datagram[0..<112])
    withUnsafeBytes(of: id) { reply.append(contentsOf: $0) }
    withUnsafeBytes(of: Int64(0)) { reply.append(contentsOf: $0) }
    withUnsafeBytes(of: error) { reply.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt32(0)) { reply.append(contentsOf: $0) }
    return reply
}
