import CShim
import Glibc
import LXCSeccomp
import LXCSystem
import Testing

@testable import LXC

/// An lxcpath of its own, removed with its containers when the test ends.
private final class NotifyLXCPath {
    let path: String

    init(_ tag: String) {
        path = "/tmp/swiftlxc-lxcpath-\(getpid())-\(tag)"
        mkdir(path, 0o755)
    }

    deinit {
        for name in listContainers(lxcpath: path) {
            let container = Container(name: name, lxcpath: path)
            if container.isRunning { try? container.stop() }
        }
        _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", path]))
    }
}

/// What `fd` is, as `/proc/self/fd` names it (`anon_inode:seccomp notify` for a listener).
private func descriptorTarget(_ fd: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
    guard count > 0 else { return "" }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func writePolicy(_ text: String) throws -> String {
    let path = "/tmp/swiftlxc-notifyfd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).policy"
    try FileContents.write(text, to: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
    return path
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ContainerSeccompNotifyTests {
    @Test func aForegroundStartHandsOutTheListenerOfThePendingNotification() throws {
        let lxcpath = NotifyLXCPath("notifyfd")
        let socketName = "swiftlxc-notifyfd-\(getpid())"
        let listenerFD = try listenAbstract(socketName).release()
        let policy = try writePolicy("2\ndenylist\nmkdir notify\nmkdirat notify\n")
        defer { unlink(policy) }
        let out = "/tmp/notifyfd-\(getpid())"
        let container = Container(name: "notifyfd\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.net.0.type", "empty"), ("lxc.seccomp.profile", policy),
                ("lxc.seccomp.notify.proxy", "unix:@\(socketName)"),
            ])

        // The proxy takes the listener from the starter's `seccompNotifyFD` while the
        // notification is pending: its id must be valid on that descriptor.
        let proxy = BlockingThread { () -> String in
            let server = FileDescriptor(owning: listenerFD)
            guard let connection = try? server.accept(),
                let (bytes, _) = try? connection.receive(capacity: 4096, maxDescriptors: 4),
                bytes.count >= 32 + 80 + 24
            else { return "no datagram" }
            let id = bytes.withUnsafeBytes {
                $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self)
            }
            let verdict: String
            do {
                let listener = try container.seccompNotifyFD()
                let target = descriptorTarget(listener.rawValue)
                if target != "anon_inode:seccomp notify" {
                    verdict = "not a listener: \(target)"
                } else if !SeccompNotify.isValid(id, listener: listener.rawValue) {
                    verdict = "notification \(id) not pending on the returned listener"
                } else {
                    verdict = "ok"
                }
            } catch {
                verdict = "\(error)"
            }
            try? connection.send(proxyAnswer(to: bytes, error: -EOPNOTSUPP))
            return verdict
        }
        let foreground = BlockingThread { () -> String? in
            do {
                try container.start(
                    command: ["/bin/sh", "-c", "mkdir /tmp/p$$ 2>\(out); sleep 30"],
                    daemonize: false)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(container.wait(for: .running, timeout: 10))
        #expect(proxy.join() == "ok")
        var text = ""
        for _ in 0..<200 where !text.contains("not supported") {
            text = (try? FileContents.readText(rootfs + out)) ?? ""
            usleep(10_000)
        }
        #expect(text.contains("Operation not supported"))
        unlink(rootfs + out)

        // Another object for the same container did not start it: it holds no listener.
        let other = Container(name: container.name, lxcpath: lxcpath.path)
        #expect(throws: ContainerError.self) { try other.seccompNotifyFD() }

        try container.stop()
        #expect(foreground.join() == .some(nil))
        // Once stopped, the listener is closed and withdrawn.
        do {
            _ = try container.seccompNotifyFD()
            Issue.record("a stopped container still handed out a listener")
        } catch {
            guard case .command(_, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(reason.errno == .EBADF)
        }
    }

    @Test func aDaemonizedStartLeavesTheListenerWithTheMonitor() throws {
        let lxcpath = NotifyLXCPath("notifyfd-daemon")
        let policy = try writePolicy("2\ndenylist\nmkdir notify\nmkdirat notify\n")
        defer { unlink(policy) }
        let container = Container(name: "notifyd\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.net.0.type", "empty"), ("lxc.seccomp.profile", policy)])
        try container.start(command: ["/bin/sleep", "30"])
        defer { try? container.stop() }

        do {
            _ = try container.seccompNotifyFD()
            Issue.record("a daemonized start handed out a listener in the caller")
        } catch {
            guard case .command(let what, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(reason.errno == .EBADF)
            #expect(what.contains(container.name))
        }
        let active = try container.seccompNotifyFDActive()
        #expect(descriptorTarget(active.rawValue) == "anon_inode:seccomp notify")
    }

    @Test func aForegroundStartWithoutANotifyRuleHasNoListener() throws {
        let lxcpath = NotifyLXCPath("notifyfd-none")
        let container = Container(name: "notifyn\(getpid())", lxcpath: lxcpath.path)
        try container.create(rootfs: .inPlace(rootfs), items: [("lxc.net.0.type", "empty")])
        let foreground = BlockingThread { () -> String? in
            do {
                try container.start(command: ["/bin/sleep", "30"], daemonize: false)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(container.wait(for: .running, timeout: 10))
        #expect(throws: ContainerError.self) { try container.seccompNotifyFD() }
        try container.stop()
        #expect(foreground.join() == .some(nil))
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ContainerSeccompProxyStartTests {
    @Test func aProxyThatCannotBeReachedFailsTheStartAndLeavesNothing() throws {
        let lxcpath = NotifyLXCPath("noproxy")
        let policy = try writePolicy("2\ndenylist\nmkdir notify\nmkdirat notify\n")
        defer { unlink(policy) }
        let address = "/tmp/swiftlxc-noproxy-\(getpid()).sock"
        let container = Container(name: "noproxy\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.net.0.type", "empty"), ("lxc.seccomp.profile", policy),
                ("lxc.seccomp.notify.proxy", "unix:\(address)"),
            ])
        do {
            try container.start(command: ["/bin/sleep", "30"])
            Issue.record("the container started without its seccomp proxy")
            try? container.stop()
        } catch {
            #expect("\(error)".contains("seccomp proxy"))
            #expect("\(error)".contains(address))
        }
        #expect(container.state == .stopped)
        // Only the notify rule asks for the proxy: without one the same config starts.
        let plain = Container(name: "noproxy-plain\(getpid())", lxcpath: lxcpath.path)
        try plain.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.net.0.type", "empty"), ("lxc.seccomp.notify.proxy", "unix:\(address)"),
            ])
        try plain.start(command: ["/bin/sleep", "30"])
        #expect(plain.state == .running)
        try plain.stop()
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ContainerSeccompHandOverTests {
    /// Without a proxy the monitor answers ENOSYS only until someone takes the listener;
    /// then the taker's answer is the one the container sees, as with LXC.
    @Test func aListenerTakenOverTheSocketIsServedByTheTaker() throws {
        let lxcpath = NotifyLXCPath("handover")
        let policy = try writePolicy("2\ndenylist\nmkdir notify\nmkdirat notify\n")
        defer { unlink(policy) }
        let gate = "/tmp/handover-go-\(getpid())"
        let out = "/tmp/handover-out-\(getpid())"
        let container = Container(name: "handover\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.net.0.type", "empty"), ("lxc.seccomp.profile", policy)])
        try container.start(command: [
            "/bin/sh", "-c",
            "until [ -e \(gate) ]; do sleep 0.02; done; mkdir /tmp/h$$ 2>\(out); sleep 30",
        ])
        defer {
            try? container.stop()
            unlink(rootfs + gate)
            unlink(rootfs + out)
        }
        let listener = try container.seccompNotifyFDActive()
        try FileContents.write("", to: rootfs + gate, flags: O_WRONLY | O_CREAT)
        var ready = pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 5000) == 1)
        let notification = try SeccompNotify.receive(listener.rawValue)
        try SeccompNotify.respond(
            .fail(Errno(rawValue: EOPNOTSUPP)), to: notification.id, listener: listener.rawValue)
        var text = ""
        for _ in 0..<300 where text.isEmpty {
            text = (try? FileContents.readText(rootfs + out)) ?? ""
            usleep(10_000)
        }
        #expect(text.contains("Operation not supported"))
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct AttachedSeccompListenerTests {
    /// An attached command brings its own listener; the monitor serves it through the same
    /// proxy as the init's, so the proxy's answer reaches the attached command.
    @Test func anAttachedCommandsNotificationsReachTheProxy() throws {
        let lxcpath = NotifyLXCPath("attachnotify")
        let socketName = "swiftlxc-attachnotify-\(getpid())"
        let listenerFD = try listenAbstract(socketName).release()
        let policy = try writePolicy("2\ndenylist\nmkdir notify\nmkdirat notify\n")
        defer { unlink(policy) }
        let container = Container(name: "attnotify\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.net.0.type", "empty"), ("lxc.seccomp.profile", policy),
                ("lxc.seccomp.notify.proxy", "unix:@\(socketName)"),
            ])
        // Answers every notification with EOPNOTSUPP until the monitor goes away.
        let proxy = BlockingThread { () -> Int in
            let server = FileDescriptor(owning: listenerFD)
            guard let connection = try? server.accept() else { return -1 }
            var answered = 0
            while let (bytes, _) = try? connection.receive(capacity: 4096, maxDescriptors: 4),
                bytes.count >= 32 + 80 + 24
            {
                try? connection.send(proxyAnswer(to: bytes, error: -EOPNOTSUPP))
                answered += 1
            }
            return answered
        }
        try container.start(command: ["/bin/sleep", "30"])
        let status = try container.runAttached([
            "/bin/sh", "-c", "mkdir /tmp/attached-$$ 2>&1 | grep -q 'not supported'",
        ])
        #expect(status == .exited(0))
        try container.stop()
        #expect((proxy.join() ?? 0) >= 1)
    }
}
