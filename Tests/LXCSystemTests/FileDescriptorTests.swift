import Glibc
import Testing

@testable import LXCSystem

/// Entries of /proc/self/fd at or above `minimum`. Other tests run concurrently in this
/// process, but the kernel hands out the lowest free number, so nothing else lands up there.
private func openDescriptors(atLeast minimum: Int32) -> [Int32] {
    guard let directory = opendir("/proc/self/fd") else { return [] }
    defer { closedir(directory) }
    var result: [Int32] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        // Below 950: releaseHandsOwnershipOn() works at 950 and up at the same time.
        if let fd = Int32(name), fd >= minimum, fd < 950 { result.append(fd) }
    }
    return result.sorted()
}

@Suite struct FileDescriptorTests {
    @Test func descriptorClosesWhenItsOwnerEnds() throws {
        let base: Int32 = 900
        #expect(openDescriptors(atLeast: base).isEmpty)
        do {
            let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
            let first = try devNull.duplicate(atLeast: base)
            let second = try devNull.duplicate(atLeast: base)
            #expect(openDescriptors(atLeast: base) == [first.rawValue, second.rawValue])
        }
        #expect(openDescriptors(atLeast: base).isEmpty)
    }

    @Test func releaseHandsOwnershipOn() throws {
        let fd = try FileDescriptor.open("/dev/null", O_RDONLY).duplicate(atLeast: 950)
        let raw = fd.release()
        #expect(fcntl(raw, F_GETFD) >= 0)
        #expect(Glibc.close(raw) == 0)
    }

    @Test func descriptorSurvivesSCMRightsRoundTrip() throws {
        let pair = try SocketPair()
        let memfd = try ProcessControl.memfd("swiftlxc-test")
        try memfd.writeAll("passed over the socket")
        try pair.first.send(Array("hello".utf8), descriptors: [memfd.rawValue])

        let message = try pair.second.receive()
        #expect(message.bytes == Array("hello".utf8))
        #expect(message.descriptors.count == 1)
        guard let received = message.descriptors.take(0) else {
            Issue.record("no descriptor received")
            return
        }
        #expect(received.rawValue != memfd.rawValue)
        // The same open file: same inode, and the content reads back from offset 0.
        var a = stat()
        var b = stat()
        #expect(fstat(memfd.rawValue, &a) == 0 && fstat(received.rawValue, &b) == 0)
        #expect(a.st_ino == b.st_ino)
        #expect(lseek(received.rawValue, 0, SEEK_SET) == 0)
        #expect(String(decoding: try received.readAll(), as: UTF8.self) == "passed over the socket")
        // Received descriptors are close-on-exec.
        #expect(fcntl(received.rawValue, F_GETFD) & FD_CLOEXEC != 0)
    }
}
