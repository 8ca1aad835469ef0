import Glibc
import LXCConsole
import LXCSystem
import Testing

private let page = Int(sysconf(Int32(_SC_PAGESIZE)))

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct RingBufferTests {
    @Test func keepsWritesInOrderUntilRead() throws {
        let ring = try RingBuffer(capacity: page)
        ring.write(bytes("hello "))
        ring.write(bytes("world"))
        #expect(ring.count == 11)
        #expect(ring.peek(limit: 5) == bytes("hello"))
        #expect(ring.read(limit: 6) == bytes("hello "))
        #expect(ring.read() == bytes("world"))
        #expect(ring.count == 0)
        #expect(ring.read().isEmpty)
    }

    @Test func dropsTheOldestBytesWhenFull() throws {
        let ring = try RingBuffer(capacity: page)
        let first = [UInt8](repeating: 0x61, count: page - 10)
        ring.write(first)
        ring.write(bytes("0123456789ABCDEFGHIJ"))  // 10 bytes too many
        #expect(ring.count == page)
        let all = ring.read()
        #expect(all.count == page)
        #expect(all.prefix(page - 20) == first.prefix(page - 20))
        #expect(Array(all.suffix(20)) == bytes("0123456789ABCDEFGHIJ"))
    }

    /// The double mapping makes a write and a read across the end one contiguous copy.
    @Test func wrapsAroundTheEndContiguously() throws {
        let ring = try RingBuffer(capacity: page)
        ring.write([UInt8](repeating: 0, count: page - 3))
        _ = ring.read()
        ring.write(bytes("wrapped!"))  // starts 3 bytes before the end
        #expect(ring.read() == bytes("wrapped!"))
        // Many rounds of odd-sized writes still read back exactly.
        var expected: [UInt8] = []
        for round in 0..<100 {
            let chunk = [UInt8](repeating: UInt8(round), count: 37 + round)
            ring.write(chunk)
            expected += chunk
            if expected.count > page { expected.removeFirst(expected.count - page) }
        }
        #expect(ring.read() == expected)
    }

    @Test func keepsTheTailOfAWriteLargerThanTheBuffer() throws {
        let ring = try RingBuffer(capacity: page)
        let big = (0..<(3 * page + 5)).map { UInt8(truncatingIfNeeded: $0) }
        ring.write(big)
        #expect(ring.read() == Array(big.suffix(page)))
    }

    @Test func clearEmptiesIt() throws {
        let ring = try RingBuffer(capacity: 2 * page)
        ring.write(bytes("something"))
        ring.clear()
        #expect(ring.count == 0)
        ring.write(bytes("next"))
        #expect(ring.read() == bytes("next"))
    }

    @Test func refusesASizeThatIsNotWholePages() {
        #expect(throws: SyscallError.self) { try RingBuffer(capacity: page + 1) }
        #expect(throws: SyscallError.self) { try RingBuffer(capacity: 0) }
    }
}

@Suite struct ConsoleLogFileTests {
    private func temporaryPath() -> String {
        var template = Array("/tmp/swiftlxc-console-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer {
            String(cString: mkdtemp($0.baseAddress!))
        }
        return directory + "/console.log"
    }

    private func contents(_ path: String) -> [UInt8] {
        (try? FileContents.read(path)) ?? []
    }

    @Test func appendsWithoutALimit() throws {
        let path = temporaryPath()
        let file = try ConsoleLogFile(path: path)
        try file.write(bytes("one\n"))
        try file.write(bytes("two\n"))
        #expect(contents(path) == bytes("one\ntwo\n"))
        var status = stat()
        stat(path, &status)
        #expect(status.st_mode & 0o777 == 0o600)
    }

    @Test func rotatesToDotOneAtTheLimit() throws {
        let path = temporaryPath()
        let file = try ConsoleLogFile(path: path, sizeLimit: 8, rotate: true)
        try file.write(bytes("12345"))
        try file.write(bytes("6789AB"))  // 3 fit, 3 start the new file
        #expect(contents(path + ".1") == bytes("12345678"))
        #expect(contents(path) == bytes("9AB"))
    }

    @Test func emptiesTheFileAtTheLimitWithoutRotation() throws {
        let path = temporaryPath()
        let file = try ConsoleLogFile(path: path, sizeLimit: 8)
        try file.write(bytes("12345678"))
        try file.write(bytes("xyz"))
        #expect(contents(path) == bytes("xyz"))
        #expect(access(path + ".1", F_OK) != 0)
    }

    @Test func namesThePathWhenItCannotOpen() {
        #expect {
            try ConsoleLogFile(path: "/nonexistent-dir/console.log")
        } throws: { error in
            "\(error)".contains("/nonexistent-dir/console.log")
        }
    }
}

@Suite struct PseudoTerminalTests {
    @Test func peerOutputReachesTheRingBuffer() throws {
        var options = ConsoleOptions()
        options.bufferSize = UInt64(page)
        let console = try ContainerConsole(options)
        #expect(console.peerPath.hasPrefix("/dev/pts/"))
        #expect(isatty(console.peerDescriptor) == 1)
        let line = bytes("console line\n")
        _ = line.withUnsafeBytes { write(console.peerDescriptor, $0.baseAddress, $0.count) }
        // The line discipline turns \n into \r\n on output (ONLCR).
        var received: [UInt8] = []
        for _ in 0..<100 where received.count < line.count + 1 {
            if case .success(let chunk) = console.consoleLog(read: true, clear: false, limit: 0) {
                received += chunk
            } else {
                usleep(1000)
            }
        }
        #expect(received == bytes("console line\r\n"))
        #expect(console.consoleLog(read: true, clear: false, limit: 0) == .failure(.empty))
    }

    @Test func consoleLogFollowsLXC() throws {
        var options = ConsoleOptions()
        options.bufferSize = UInt64(page)
        let console = try ContainerConsole(options)
        console.ring?.write(bytes("abcdef"))
        #expect(console.consoleLog(read: true, clear: false, limit: 2) == .success(bytes("ab")))
        #expect(console.consoleLog(read: false, clear: true, limit: 0) == .success([]))
        #expect(console.consoleLog(read: true, clear: false, limit: 0) == .failure(.empty))

        let none = try ContainerConsole(ConsoleOptions())
        #expect(none.consoleLog(read: true, clear: false, limit: 0) == .failure(.noBuffer))
    }
}
