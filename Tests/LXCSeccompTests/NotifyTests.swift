import Glibc
import LXCSeccomp
import LXCSystem
import Testing

/// A shell under a filter that notifies on mkdir, its output pipe and the listener it sent.
struct NotifiedChild: ~Copyable {
    let process: PIDFD
    let output: FileDescriptor
    let listener: FileDescriptor

    /// Starts `/bin/sh -c script` under `program` and receives its listener.
    init(_ program: String, script: String) throws {
        let pair = try SocketPair()
        let pipe = try Pipe()
        let arguments = [
            "swiftlxc", "seccomp", "run-under", program, "--flags", "8", "--listener-fd", "3",
            "--", "/bin/sh", "-c", script,
        ]
        let process = try Spawn.start(
            SpawnRequest(
                path: swiftlxc, arguments: arguments, environment: ["PATH=/usr/bin:/bin"],
                fileMap: [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue, pair.second.rawValue]
            ))
        try pipe.writeEnd.close()
        let message = try pair.first.receive(capacity: 16, maxDescriptors: 1)
        guard let listener = message.descriptors.take(0) else {
            throw SyscallError(.EBADF, call: "recvmsg", object: "listener from run-under")
        }
        self.process = process
        self.output = pipe.readEnd
        self.listener = listener
    }

    /// Everything the shell printed, once it exited.
    func finish() throws -> (String, TerminationStatus) {
        let text = String(decoding: try output.readAll(), as: UTF8.self)
        return (text, try process.wait())
    }
}

/// The parent of `pid`, from `/proc/PID/status`.
func parent(of pid: Int32) -> Int32? {
    let status = (try? FileContents.readText("/proc/\(pid)/status")) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("PPid:") }
    return line.flatMap { Int32($0.dropFirst(5).filter(\.isNumber)) }
}

/// The path argument of a notified mkdir or mkdirat.
func pathArgument(_ notification: SeccompNotification) -> String {
    let index = notification.syscallName == "mkdirat" ? 1 : 0
    return (try? notification.readString(at: notification.arguments[index])) ?? "?"
}

@Suite(.enabled(if: getuid() == 0, "installing filters in child processes runs as root in CI"))
struct NotifyTests {
    static let policy = "2\ndenylist\nmkdir notify\nmkdirat notify\n"

    @Test func aHandlerAnswersWithAnErrnoOrLetsTheCallRun() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (program, filter) = try compileToFile(Self.policy, in: dir)
        #expect(filter.flags == [.newListener])
        let script = "mkdir \(dir)/first 2>&1; echo $?; mkdir \(dir)/second; echo $?"
        let child = try NotifiedChild(program, script: script)

        let server = SeccompNotifyServer()
        server.add(try child.listener.duplicate())
        var seen: [String] = []
        let finished = try server.serve(timeout: 10_000) { notification in
            let path = pathArgument(notification)
            // The shell forks mkdir: the caller is its child.
            seen.append("\(parent(of: notification.pid) == child.process.pid) \(path)")
            return path.hasSuffix("first") ? .fail(.EPERM) : .continueCall
        }
        #expect(finished)
        #expect(server.count == 0)
        #expect(seen == ["true \(dir)/first", "true \(dir)/second"])
        let (output, status) = try child.finish()
        #expect(status == .exited(0))
        #expect(
            output
                == "mkdir: cannot create directory '\(dir)/first': Operation not permitted\n1\n0\n")
        // Continue let the kernel make the directory.
        #expect(access("\(dir)/second", F_OK) == 0)
        #expect(access("\(dir)/first", F_OK) != 0)
    }

    @Test func oneServerServesSeveralListeners() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (program, _) = try compileToFile(Self.policy, in: dir)
        let first = try NotifiedChild(program, script: "mkdir \(dir)/a; echo $?")
        let second = try NotifiedChild(program, script: "mkdir \(dir)/b 2>/dev/null; echo $?")
        let server = SeccompNotifyServer()
        server.add(try first.listener.duplicate())
        server.add(try second.listener.duplicate())
        #expect(server.count == 2)
        var paths: Set<String> = []
        try server.serve(timeout: 10_000) { notification in
            let path = pathArgument(notification)
            paths.insert(path)
            return path.hasSuffix("/a") ? .succeed() : .fail(.EEXIST)
        }
        #expect(paths == ["\(dir)/a", "\(dir)/b"])
        #expect(try first.finish().0 == "0\n")
        #expect(try second.finish().0 == "1\n")
        // succeed() answered without running the call.
        #expect(access("\(dir)/a", F_OK) != 0)
    }

    @Test func aServerWithNothingToDoTimesOut() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (program, _) = try compileToFile(Self.policy, in: dir)
        let child = try NotifiedChild(program, script: "sleep 0.3")
        let server = SeccompNotifyServer()
        server.add(try child.listener.duplicate())
        #expect(try server.serve(timeout: 50) { _ in .continueCall } == false)
        #expect(try server.serve(timeout: 10_000) { _ in .continueCall })
        _ = try child.finish()
    }
}

/// Reads a native-endian integer from `bytes` at `offset`.
func field<T: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, as: T.Type) -> T {
    bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
}

func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
}

/// A seccomp proxy as LXC's users write them, in bytes: it checks each datagram against
/// the layout of LXC 5.0.2 and answers the first with EOPNOTSUPP and the second with a
/// reply one byte short.
func runTestProxy(_ fd: Int32, monitorPID: Int32, initPID: Int32) -> [String] {
    let proxy = FileDescriptor(owning: fd)
    var log: [String] = []
    for round in 0..<2 {
        guard let (bytes, fds) = try? proxy.receive(capacity: 4096, maxDescriptors: 4) else {
            log.append("receive failed")
            break
        }
        let cookie = Array("swift-cookie".utf8)
        guard bytes.count == 32 + 80 + 24 + cookie.count, fds.count == 3 else {
            log.append("bad datagram of \(bytes.count) bytes and \(fds.count) fds")
            break
        }
        let header = [
            field(bytes, 0, as: UInt64.self) == 0, field(bytes, 8, as: Int32.self) == monitorPID,
            field(bytes, 12, as: Int32.self) == initPID, field(bytes, 16, as: UInt16.self) == 80,
            field(bytes, 18, as: UInt16.self) == 24, field(bytes, 20, as: UInt16.self) == 64,
            field(bytes, 24, as: UInt64.self) == UInt64(cookie.count),
        ]
        let id = field(bytes, 32, as: UInt64.self)
        let pid = field(bytes, 40, as: Int32.self)
        let nr = field(bytes, 48, as: Int32.self)
        let arch = field(bytes, 52, as: UInt32.self)
        let address = field(bytes, 64 + (nr == 258 ? 8 : 0), as: UInt64.self)
        let responseTemplate = Array(bytes[112..<136])
        let template =
            field(responseTemplate, 0, as: UInt64.self) == id
            && responseTemplate[8...].allSatisfy { $0 == 0 }
        let cookieMatches = Array(bytes[136...]) == cookie

        // fd 0 is /proc/PID, fd 1 its mem, fd 2 the listener.
        var info = stat()
        let isDirectory = fstat(fds.rawValue(at: 0), &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        var path = [UInt8](repeating: 0, count: 256)
        _ = path.withUnsafeMutableBytes {
            pread(fds.rawValue(at: 1), $0.baseAddress, 256, off_t(Int64(bitPattern: address)))
        }
        var idCopy = id
        let valid = ioctl(fds.rawValue(at: 2), UInt(0x4008_2102), &idCopy) == 0
        let name = String(decoding: path.prefix { $0 != 0 }, as: UTF8.self)
        log.append(
            "\(header.allSatisfy { $0 }) \(pid > 0) \(arch == 0xc000_003e) \(template) "
                + "\(cookieMatches) \(isDirectory) \(valid) \(name)")

        var reply = Array(bytes[0..<112])
        append(id, to: &reply)
        append(Int64(0), to: &reply)
        append(Int32(-EOPNOTSUPP), to: &reply)
        append(UInt32(0), to: &reply)
        if round == 1 { reply.removeLast() }
        try? proxy.send(reply)
    }
    return log
}

@Suite(.enabled(if: getuid() == 0, "installing filters in child processes runs as root in CI"))
struct ProxyTests {
    @Test func theProxyHeaderIsLXCs32Bytes() throws {
        let sizes = SeccompNotify.Sizes(notification: 80, response: 24, data: 64)
        let header = SeccompProxyHeader(monitorPID: 7, initPID: 9, sizes: sizes, cookieLength: 12)
        #expect(
            header.bytes == [
                0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 80, 0, 24, 0, 64, 0, 0, 0, 12, 0, 0,
                0, 0, 0, 0, 0,
            ])
        #expect(SeccompProxyHeader(header.bytes) == header)
        #expect(try SeccompNotify.sizes() == sizes)
    }

    @Test func notificationsGoThroughAProxyInLXCsWireFormat() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (program, _) = try compileToFile(NotifyTests.policy, in: dir)
        let script = "mkdir \(dir)/one 2>&1; mkdir \(dir)/two 2>&1; true"
        let child = try NotifiedChild(program, script: script)
        let initPID = child.process.pid
        let pair = try SocketPair()
        let proxyFD = pair.second.release()
        let monitorPID = getpid()
        let proxy = BlockingThread {
            runTestProxy(proxyFD, monitorPID: monitorPID, initPID: initPID)
        }

        let client = SeccompProxyClient(
            socket: try pair.first.duplicate(), cookie: "swift-cookie", monitorPID: monitorPID,
            initPID: initPID)
        let server = SeccompNotifyServer()
        server.add(try child.listener.duplicate())
        var answers: [SeccompResponse] = []
        try server.serve(timeout: 10_000) { notification in
            let answer = client.forward(notification)
            answers.append(answer)
            return answer
        }
        let log = proxy.join()
        #expect(
            log == [
                "true true true true true true true \(dir)/one",
                "true true true true true true true \(dir)/two",
            ])
        #expect(answers == [.fail(.EOPNOTSUPP), .fail(.ENOSYS)])
        let (output, _) = try child.finish()
        #expect(
            output
                == "mkdir: cannot create directory '\(dir)/one': Operation not supported\n"
                + "mkdir: cannot create directory '\(dir)/two': Function not implemented\n")
    }

    @Test func withoutAProxyTheCallFailsWithENOSYS() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (program, _) = try compileToFile(NotifyTests.policy, in: dir)
        let child = try NotifiedChild(program, script: "mkdir \(dir)/x 2>&1; true")
        let pair = try SocketPair()
        try pair.second.close()
        let client = SeccompProxyClient(
            socket: try pair.first.duplicate(), cookie: nil, monitorPID: getpid(),
            initPID: child.process.pid)
        let server = SeccompNotifyServer()
        server.add(try child.listener.duplicate())
        try server.serve(timeout: 10_000) { client.forward($0) }
        #expect(
            try child.finish().0
                == "mkdir: cannot create directory '\(dir)/x': Function not implemented\n")
    }
}
