import Glibc
import LXCSystem
import Testing

@testable import LXC

/// Real containers with a console: the monitor's pty is their stdio and `/dev/console`, and
/// what they write lands in the ring buffer and the log file.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct ConsoleTests {
    private func container(
        _ tag: String, in lxcpath: TestLXCPath, console: [(String, String)]
    ) throws -> Container {
        let container = Container(name: "\(tag)\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.mount.auto", "proc:mixed sys:mixed"), ("lxc.net.0.type", "empty"),
                ("lxc.signal.halt", "SIGUSR1"),
                ("lxc.log.file", lxcpath.path + "/\(tag).log"), ("lxc.log.level", "DEBUG"),
            ] + console)
        return container
    }

    /// Reads the console log until it holds `marker` or five seconds pass; returns all read.
    private func readConsole(_ container: Container, until marker: String) throws -> String {
        var text = ""
        for _ in 0..<500 {
            text += String(decoding: try container.consoleLog(), as: UTF8.self)
            if text.contains(marker) { return text }
            usleep(10_000)
        }
        return text
    }

    @Test func outputReachesTheRingBufferAndTheLogFile() throws {
        let lxcpath = TestLXCPath("console")
        let logFile = lxcpath.path + "/console.out"
        let container = try container(
            "cons", in: lxcpath,
            console: [("lxc.console.buffer.size", "8192"), ("lxc.console.logfile", logFile)])
        let script = """
            [ -t 0 ] && echo stdin-is-a-terminal
            [ -c /dev/console ] && echo console-is-a-device
            echo written-to-dev-console > /dev/console
            echo done-marker
            exec sleep 1000
            """
        try container.start(command: ["/bin/sh", "-c", script])
        defer { try? container.stop() }

        let text = try readConsole(container, until: "done-marker")
        #expect(text.contains("stdin-is-a-terminal"))
        #expect(text.contains("console-is-a-device"))
        // Only the bind of the monitor's pty onto /dev/console brings this line back.
        #expect(text.contains("written-to-dev-console"))
        #expect(text.contains("done-marker\r\n"))

        // The bytes were taken out by the reads: the buffer is empty now.
        #expect(try container.consoleLog().isEmpty)
        let file = String(decoding: (try? FileContents.read(logFile)) ?? [], as: UTF8.self)
        #expect(file.contains("written-to-dev-console"))
        #expect(file.contains("done-marker"))
    }

    @Test func readLimitAndClearFollowLXC() throws {
        let lxcpath = TestLXCPath("conslimit")
        let container = try container(
            "conslim", in: lxcpath, console: [("lxc.console.buffer.size", "auto")])
        try container.start(command: ["/bin/sh", "-c", "echo 0123456789; exec sleep 1000"])
        defer { try? container.stop() }
        // Wait until the whole line is there, without taking it out.
        var waited = 0
        while waited < 500 {
            let peek = try container.consoleLog(read: false)
            #expect(peek.isEmpty)  // without read nothing comes back
            let first = try container.consoleLog(limit: 4)
            if !first.isEmpty {
                #expect(first == Array("0123".utf8))
                break
            }
            usleep(10_000)
            waited += 1
        }
        #expect(waited < 500)
        usleep(100_000)
        #expect(try container.consoleLog(limit: 3) == Array("456".utf8))
        _ = try container.consoleLog(read: false, clear: true)
        #expect(try container.consoleLog().isEmpty)
    }

    /// busybox init writes its askfirst prompt on the console; `swiftlxc console-log` prints it.
    @Test func busyboxInitPromptsOnTheConsole() throws {
        let lxcpath = TestLXCPath("consinit")
        let container = try container(
            "consinit", in: lxcpath, console: [("lxc.console.buffer.size", "4096")])
        try container.start()
        defer { try? container.stop() }
        var text = ""
        for _ in 0..<500 where !text.contains("activate this console") {
            let (status, output) = try cli([
                "console-log", "-n", container.name, "-P", lxcpath.path,
            ])
            #expect(status == 0)
            text += output
            usleep(10_000)
        }
        #expect(text.contains("Please press Enter to activate this console"))
    }

    @Test func noBufferOrNoConsoleIsEFAULT() throws {
        let lxcpath = TestLXCPath("consnone")
        for (tag, items) in [
            ("consnobuf", [(String, String)]()), ("consnone", [("lxc.console.path", "none")]),
        ] {
            let container = try container(tag, in: lxcpath, console: items)
            try container.start(command: ["/bin/sh", "-c", "echo hi; exec sleep 1000"])
            defer { try? container.stop() }
            #expect {
                try container.consoleLog()
            } throws: { error in
                guard case ContainerError.command(_, let cause) = error else { return false }
                return cause.errno == Errno(rawValue: EFAULT)
            }
        }
    }

    @Test func logFileRotatesAtItsSize() throws {
        let lxcpath = TestLXCPath("consrot")
        let logFile = lxcpath.path + "/rotating.out"
        let container = try container(
            "consrot", in: lxcpath,
            console: [
                ("lxc.console.logfile", logFile), ("lxc.console.size", "4096"),
                ("lxc.console.rotate", "1"),
            ])
        // 6000 bytes of output through a 4096-byte log file.
        try container.start(command: [
            "/bin/sh", "-c",
            "i=0; while [ $i -lt 100 ]; do echo line-$i-0123456789012345678901234567890123456789; "
                + "i=$((i+1)); done; echo end-marker; exec sleep 1000",
        ])
        defer { try? container.stop() }
        var current = ""
        for _ in 0..<500 {
            current = String(decoding: (try? FileContents.read(logFile)) ?? [], as: UTF8.self)
            if current.contains("end-marker") { break }
            usleep(10_000)
        }
        let rotated = (try? FileContents.read(logFile + ".1")) ?? []
        #expect(rotated.count == 4096)
        #expect(current.contains("end-marker"))
        #expect(current.utf8.count < 4096)
    }
}

/// Console clients (LXC's `console_getfd`, `lxc-console`): input reaches the container's
/// console, its output comes back, one client at a time.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct ConsoleClientTests {
    /// Reads `fd` until `marker` shows up or two seconds pass.
    private func read(_ fd: Int32, until marker: String) -> String {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<200 where !text.contains(marker) {
            var event = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&event, 1, 10) == 1 else { continue }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            text += String(decoding: buffer[0..<count], as: UTF8.self)
        }
        return text
    }

    @Test func aClientTypesIntoTheConsoleAndReadsTheAnswer() throws {
        let lxcpath = TestLXCPath("consclient")
        let container = Container(name: "consclient\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.net.0.type", "empty"), ("lxc.console.buffer.size", "4096")])
        try container.start(command: ["/bin/sh"])
        defer { try? container.stop() }

        let client = try container.consoleFD()
        // A second client waits for the first.
        #expect {
            try container.consoleFD()
        } throws: { error in
            guard case ContainerError.command(_, let cause) = error else { return false }
            return cause.errno == Errno.EBUSY
        }
        try client.writeAll("echo marker-$((40+2))\n")
        let text = read(client.rawValue, until: "marker-42")
        #expect(text.contains("marker-42"))
        // The ring buffer saw the same output.
        usleep(50_000)
        let logged = String(decoding: try container.consoleLog(), as: UTF8.self)
        #expect(logged.contains("marker-42"))

        // Once the first client is gone, another may connect.
        try client.close()
        let second = try container.consoleFD()
        try second.writeAll("echo again-$((1+1))\n")
        #expect(read(second.rawValue, until: "again-2").contains("again-2"))
    }

    @Test func noConsoleIsENOTTY() throws {
        let lxcpath = TestLXCPath("consclientnone")
        let container = Container(name: "consnone\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.net.0.type", "empty"), ("lxc.console.path", "none")])
        try container.start(command: ["/bin/sleep", "30"])
        defer { try? container.stop() }
        #expect {
            try container.consoleFD()
        } throws: { error in
            guard case ContainerError.command(_, let cause) = error else { return false }
            return cause.errno == Errno(rawValue: ENOTTY)
        }
    }
}

/// `lxc.tty.max` ttys: the container's `/dev/ttyN` are the peers of the monitor's pty pairs,
/// a client of tty N talks to what runs on it, and a tty is held while its client's command
/// connection is open.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct TTYTests {
    private func container(_ tag: String, in lxcpath: TestLXCPath, _ items: [(String, String)])
        throws -> Container
    {
        let container = Container(name: "\(tag)\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.net.0.type", "empty"), ("lxc.console.buffer.size", "8192"),
                ("lxc.log.file", lxcpath.path + "/\(tag).log"), ("lxc.log.level", "DEBUG"),
            ] + items)
        return container
    }

    /// Reads `fd` until `marker` shows up or two seconds pass.
    private func read(_ fd: Int32, until marker: String) -> String {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<200 where !text.contains(marker) {
            var event = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&event, 1, 10) == 1 else { continue }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            text += String(decoding: buffer[0..<count], as: UTF8.self)
        }
        return text
    }

    /// Reads the console log until it holds `marker` or five seconds pass.
    private func readConsole(_ container: Container, until marker: String) throws -> String {
        var text = ""
        for _ in 0..<500 {
            text += String(decoding: try container.consoleLog(), as: UTF8.self)
            if text.contains(marker) { return text }
            usleep(10_000)
        }
        return text
    }

    private func isBusy(_ error: any Error) -> Bool {
        guard case ContainerError.command(_, let cause) = error else { return false }
        return cause.errno == Errno.EBUSY
    }

    @Test func ttysAreDevicesAndAShellOnTTY1AnswersItsClient() throws {
        let lxcpath = TestLXCPath("ttys")
        let container = try container("ttys", in: lxcpath, [("lxc.tty.max", "2")])
        let script = """
            for t in 1 2; do [ -c /dev/tty$t ] && echo tty$t-is-a-device; done
            setsid sh -c 'exec sh </dev/tty1 >/dev/tty1 2>&1' &
            echo done-marker
            exec sleep 100
            """
        try container.start(command: ["/bin/sh", "-c", script])
        defer { try? container.stop() }
        let text = try readConsole(container, until: "done-marker")
        #expect(text.contains("tty1-is-a-device"))
        #expect(text.contains("tty2-is-a-device"))

        let client = try container.consoleFD(tty: 1)
        #expect(client.tty == 1)
        try client.controller.writeAll("echo on-tty-$((6*7))\n")
        #expect(read(client.controller.rawValue, until: "on-tty-42").contains("on-tty-42"))
        // Held: a second client of tty 1 waits.
        #expect {
            try container.consoleFD(tty: 1)
        } throws: { isBusy($0) }
        // The console is still the console's.
        let console = try container.consoleFD(tty: 0)
        #expect(console.tty == 0)
    }

    @Test func firstFreeTTYAndEBUSYWhenAllAreHeld() throws {
        let lxcpath = TestLXCPath("ttyfree")
        let container = try container("ttyfree", in: lxcpath, [("lxc.tty.max", "2")])
        try container.start(command: ["/bin/sleep", "100"])
        defer { try? container.stop() }

        let first = try container.consoleFD(tty: -1)
        #expect(first.tty == 1)
        let second = try container.consoleFD(tty: -1)
        #expect(second.tty == 2)
        #expect {
            try container.consoleFD(tty: -1)
        } throws: { isBusy($0) }
        #expect {
            try container.consoleFD(tty: 3)
        } throws: { error in
            guard case ContainerError.command(_, let cause) = error else { return false }
            return cause.errno == Errno.EINVAL
        }
        // Closing the first frees tty 1 for the next client.
        first.close()
        let again = try container.consoleFD(tty: -1)
        #expect(again.tty == 1)
        _ = consume second
        let third = try container.consoleFD(tty: 2)
        #expect(third.tty == 2)
    }

    @Test func ttyDirHoldsTheNodesAndDevTTYNAreSymlinks() throws {
        let lxcpath = TestLXCPath("ttydir")
        let container = try container(
            "ttydir", in: lxcpath, [("lxc.tty.max", "1"), ("lxc.tty.dir", "lxc")])
        let script = """
            [ -c /dev/lxc/tty1 ] && echo node-in-dir
            [ -L /dev/tty1 ] && echo link-$(readlink /dev/tty1)
            echo through-the-link > /dev/tty1
            echo done-marker
            exec sleep 100
            """
        // The client connects first: what the script writes to the tty comes back to it.
        try container.start(command: ["/bin/sh", "-c", "sleep 0.5; " + script])
        defer { try? container.stop() }
        let client = try container.consoleFD(tty: 1)
        let text = try readConsole(container, until: "done-marker")
        #expect(text.contains("node-in-dir"))
        #expect(text.contains("link-lxc/tty1"))
        #expect(
            read(client.controller.rawValue, until: "through-the-link").contains("through-the-link")
        )
    }

    @Test func userNamespaceRootOwnsTheTTYs() throws {
        let lxcpath = TestLXCPath("ttyuserns")
        let container = try container(
            "ttyuserns", in: lxcpath,
            [
                ("lxc.tty.max", "1"), ("lxc.idmap", "u 0 100000 65536"),
                ("lxc.idmap", "g 0 100000 65536"),
            ])
        let script = """
            echo owner-$(stat -c %u /dev/tty1)
            echo from-userns > /dev/tty1 && echo wrote-it
            echo done-marker
            exec sleep 100
            """
        try container.start(command: ["/bin/sh", "-c", "sleep 0.5; " + script])
        defer { try? container.stop() }
        let client = try container.consoleFD(tty: 1)
        let text = try readConsole(container, until: "done-marker")
        #expect(text.contains("owner-0"))
        #expect(text.contains("wrote-it"))
        #expect(read(client.controller.rawValue, until: "from-userns").contains("from-userns"))
    }

    @Test func aRebootKeepsTheTTYsAndTheirClients() throws {
        let lxcpath = TestLXCPath("ttyreboot")
        let container = try container(
            "ttyreboot", in: lxcpath,
            [
                ("lxc.tty.max", "1"), ("lxc.signal.halt", "SIGUSR1"),
                ("lxc.signal.reboot", "SIGTERM"), ("lxc.mount.auto", "proc:mixed sys:mixed"),
            ])
        try container.start()
        defer { try? container.stop() }
        let client = try container.consoleFD(tty: 1)
        let first = container.initPID
        #expect(try container.reboot(timeout: 20))
        #expect(container.initPID != first)
        // The same pty is the new container's /dev/tty1, and the client still holds it.
        let writer = try container.attach(["/bin/sh", "-c", "echo after-reboot > /dev/tty1"])
        #expect(try writer.wait() == .exited(0))
        #expect(read(client.controller.rawValue, until: "after-reboot").contains("after-reboot"))
        #expect {
            try container.consoleFD(tty: 1)
        } throws: { isBusy($0) }
    }

    @Test func aTTYDirThatIsNoNameUnderDevFailsTheStart() throws {
        let lxcpath = TestLXCPath("ttybaddir")
        let container = try container(
            "ttybaddir", in: lxcpath, [("lxc.tty.max", "1"), ("lxc.tty.dir", "../etc")])
        #expect {
            try container.start(command: ["/bin/true"])
        } throws: { error in
            "\(error)".contains("lxc.tty.dir: ../etc is not a directory name under /dev")
        }
        #expect(container.state == .stopped)
    }

    @Test func theConsoleVerbNamesABadTTY() throws {
        let lxcpath = TestLXCPath("ttycli")
        let container = try container("ttycli", in: lxcpath, [("lxc.tty.max", "1")])
        try container.start(command: ["/bin/sleep", "100"])
        defer { try? container.stop() }
        // The reason goes to stderr; a tty the container lacks fails, a bad number is usage.
        let status = try cli(["console", "-n", container.name, "-P", lxcpath.path, "-t", "2"]).0
        #expect(status != 0 && status != 2)
        #expect(try cli(["console", "-n", container.name, "-P", lxcpath.path, "-t", "x"]).0 == 2)
    }

    @Test func noTTYsLeavesMinusOneTheConsoleAndRefusesTTY1() throws {
        let lxcpath = TestLXCPath("ttynone")
        let container = try container("ttynone", in: lxcpath, [])
        try container.start(command: ["/bin/sleep", "100"])
        defer { try? container.stop() }
        let console = try container.consoleFD(tty: -1)
        #expect(console.tty == 0)
        #expect {
            try container.consoleFD(tty: 1)
        } throws: { error in
            guard case ContainerError.command(_, let cause) = error else { return false }
            return cause.errno == Errno.EINVAL
        }
    }
}
