import Glibc
import LXCSeccomp
import LXCSystem
import Testing

@testable import LXC

/// Runs `execute` with stdout captured.
private func executeCapturing(_ options: ExecuteOptions) throws -> (String, TerminationStatus) {
    let pipe = try Pipe()
    var options = options
    options.stdio = [-1, pipe.writeEnd.rawValue, 2]
    let status = try execute(options)
    try pipe.writeEnd.close()
    return (String(decoding: try pipe.readEnd.readAll(), as: UTF8.self), status)
}

private func mountTable() -> String {
    (try? FileContents.readText("/proc/self/mountinfo")) ?? ""
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct ExecuteTests {
    @Test func runsACommandWithLXCItems() throws {
        let options = ExecuteOptions(
            name: "exec1", rootfs: rootfs,
            items: [
                ("lxc.mount.auto", "proc:mixed sys:mixed"), ("lxc.environment", "COLOR=blue"),
                ("lxc.uts.name", "box"), ("lxc.init.cwd", "/tmp"),
            ],
            command: [
                "/bin/sh", "-c",
                "echo $$ $(hostname) $COLOR $(pwd) $container; ps -o comm | sed -n 2p",
            ])
        let (output, status) = try executeCapturing(options)
        #expect(status == .exited(0))
        #expect(output == "2 box blue /tmp lxc\nswiftlxc-init\n")
    }

    @Test func readsAConfigFile() throws {
        let path = "/tmp/swiftlxc-execute-\(getpid()).conf"
        try FileContents.write(
            """
            # an application container
            lxc.rootfs.path = dir:\(rootfs)
            lxc.uts.name = fromfile
            lxc.mount.auto = proc
            lxc.prlimit.nofile = 77:88
            lxc.cap.drop = sys_admin mknod
            lxc.sysctl.net.ipv4.ip_forward = 1
            lxc.mount.entry = tmpfs scratch tmpfs size=64k,create=dir 0 0

            """, to: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        defer { unlink(path) }
        let options = ExecuteOptions(
            name: "exec2", configFile: path,
            command: [
                "/bin/sh", "-c",
                "hostname; ulimit -n; cat /proc/sys/net/ipv4/ip_forward; "
                    + "grep -c ' /scratch ' /proc/self/mountinfo; grep CapBnd /proc/self/status",
            ])
        let (output, status) = try executeCapturing(options)
        #expect(status == .exited(0))
        let lines = output.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(4)) == ["fromfile", "77", "1", "1"])
        let bounding = UInt64(lines.last?.split(separator: "\t").last ?? "", radix: 16) ?? 0
        #expect(bounding & (1 << 21) == 0, "CAP_SYS_ADMIN dropped")
        #expect(bounding & (1 << 27) == 0, "CAP_MKNOD dropped")
        #expect(bounding & (1 << 0) != 0, "CAP_CHOWN kept")
    }

    @Test func exitStatusesPropagate() throws {
        for (script, expected) in [("exit 0", 0), ("exit 7", 7), ("kill -KILL $$", 137)] {
            let (_, status) = try executeCapturing(
                ExecuteOptions(name: "exit", rootfs: rootfs, command: ["/bin/sh", "-c", script]))
            #expect(status.shellStatus == Int32(expected), "\(script)")
        }
    }

    @Test func userNamespaceFromIdmap() throws {
        let options = ExecuteOptions(
            name: "userns", rootfs: rootfs,
            items: [
                ("lxc.idmap", "u 0 100000 65536"), ("lxc.idmap", "g 0 100000 65536"),
                ("lxc.mount.auto", "proc:mixed sys:mixed"),
            ],
            command: ["/bin/sh", "-c", "id -u; cat /proc/self/uid_map"])
        let (output, status) = try executeCapturing(options)
        #expect(status == .exited(0))
        let lines = output.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.first == ["0"])
        #expect(lines.dropFirst().first == ["0", "100000", "65536"])
    }

    @Test func missingCommandExits127() throws {
        let before = mountTable()
        #expect {
            _ = try executeCapturing(ExecuteOptions(name: "x", rootfs: rootfs, command: ["/nope"]))
        } throws: { error in
            guard let error = error as? RunError else { return false }
            return error.exitStatus == 127
                && error.description == "exec: execve /nope: no such file or directory"
        }
        #expect(mountTable() == before)
    }

    @Test(arguments: [
        ("lxc.cap.drop", "sys_bogus", "lxc.cap.drop = sys_bogus"),
        ("lxc.idmap", "u 0 notanumber 1", "lxc.idmap"),
        ("lxc.mount.entry", "/nonexistent mnt none bind 0 0", "open_tree /nonexistent"),
        ("lxc.prlimit.nofile", "abc", "lxc.prlimit.nofile"),
    ])
    func badInputIsNamedAndLeavesNothing(key: String, value: String, expected: String) throws {
        let before = mountTable()
        #expect {
            _ = try executeCapturing(
                ExecuteOptions(
                    name: "bad", rootfs: rootfs, items: [(key, value)], command: ["true"]))
        } throws: { error in
            (error as? RunError).map { $0.description.contains(expected) } ?? false
        }
        #expect(mountTable() == before)
    }

    @Test func missingRootfsIsNamed() throws {
        #expect {
            _ = try executeCapturing(
                ExecuteOptions(name: "x", rootfs: "/nonexistent/rootfs", command: ["true"]))
        } throws: { error in
            (error as? RunError)?.description
                == "lxc.rootfs.path: /nonexistent/rootfs is not a directory"
        }
    }

    @Test func unsupportedFeaturesAreRefusedByKey() throws {
        #expect {
            _ = try executeCapturing(
                ExecuteOptions(
                    name: "x", rootfs: rootfs, items: [("lxc.mount.auto", "shmounts:/tmp/shm")],
                    command: ["true"]))
        } throws: { error in
            (error as? RunError)?.description == "lxc.mount.auto: shmounts is not supported yet"
        }
    }
}

/// A bundle from the `crun spec` fixture, pointing at the test rootfs and running `script`.
private func makeBundle(_ script: String) throws -> String {
    let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
    var spec = try FileContents.readText("/\(package)/Tests/LXCConfigTests/Fixtures/crun-spec.json")
    spec = spec.replacingOccurrences(of: "\"path\": \"rootfs\"", with: "\"path\": \"\(rootfs)\"")
    spec = spec.replacingOccurrences(
        of: "\"sh\"", with: "\"/bin/sh\", \"-c\", \(JSONText.quote(script))")
    spec = spec.replacingOccurrences(of: "\"terminal\": true", with: "\"terminal\": false")
    let bundle = "/tmp/swiftlxc-bundle-\(getpid())-\(script.utf8.count)"
    mkdir(bundle, 0o755)
    try FileContents.write(spec, to: bundle + "/config.json", flags: O_WRONLY | O_CREAT | O_TRUNC)
    return bundle
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct RunBundleTests {
    @Test func runsTheProcessOfConfigJSONAsPID1() throws {
        let bundle = try makeBundle(
            "echo $$ $(hostname); grep -E 'CapBnd|NoNewPrivs' /proc/self/status; "
                + "touch /x 2>/dev/null || echo read-only; cat /proc/kcore | wc -c; exit 3")
        defer {
            unlink(bundle + "/config.json")
            rmdir(bundle)
        }
        let pipe = try Pipe()
        var warnings: [String] = []
        let status = try runBundle(bundle, id: "oci1", stdio: [-1, pipe.writeEnd.rawValue, 2]) {
            warnings.append($0)
        }
        try pipe.writeEnd.close()
        let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        #expect(status == .exited(3))
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.first == "1 crun")
        // crun spec keeps CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE.
        #expect(lines.dropFirst().first == "CapBnd:\t0000000020000420")
        #expect(lines.dropFirst(2).first == "NoNewPrivs:\t1")
        #expect(lines.dropFirst(3).first == "read-only")
        #expect(lines.dropFirst(4).first == "0", "/proc/kcore is masked")
        #expect(warnings.contains { $0.hasPrefix("process.capabilities.ambient: CAP_KILL") })
    }

    @Test func missingBundleIsNamed() {
        #expect {
            _ = try runBundle("/nonexistent/bundle", id: "x")
        } throws: { error in
            (error as? RunError)?.description.hasPrefix("/nonexistent/bundle/config.json") ?? false
        }
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct TimeNamespaceTests {
    @Test func bootAndMonotonicOffsetsApplyInside() throws {
        let hostUptime =
            Double(
                (try FileContents.readText("/proc/uptime")).split(separator: " ").first ?? "") ?? 0
        let (output, status) = try executeCapturing(
            ExecuteOptions(
                name: "timens", rootfs: rootfs,
                items: [
                    ("lxc.time.offset.boot", "10h"), ("lxc.time.offset.monotonic", "1000s"),
                    ("lxc.mount.auto", "proc:mixed"),
                ],
                command: ["/bin/sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time"]))
        #expect(status == .exited(0))
        let lines = output.split(separator: "\n")
        let uptime = Double(lines.first?.split(separator: " ").first ?? "") ?? 0
        #expect(uptime >= hostUptime + 36000 && uptime < hostUptime + 36100)
        #expect(lines.last.map(String.init) != (try Namespace.time.identity()))
    }
}

@Suite(.enabled(if: getuid() == 0, "starting containers needs root"))
struct SeccompAgentTests {
    @Test func theListenerAndStateGoToTheOCIAgent() throws {
        let path = "/tmp/swiftlxc-agent-\(getpid()).sock"
        unlink(path)
        let listener = FileDescriptor(
            owning: socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in path.utf8.enumerated() { target[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0 && listen(listener.rawValue, 1) == 0)
        defer { unlink(path) }
        let listenerFD = listener.release()
        // The agent: takes the state and the fd, then lets the one notified call run.
        let agent = BlockingThread { () -> String in
            let server = FileDescriptor(owning: listenerFD)
            guard let connection = try? server.accept(),
                let (bytes, fds) = try? connection.receive(capacity: 65536, maxDescriptors: 2),
                let notify = fds.take(0)
            else { return "no message" }
            let state = String(decoding: bytes, as: UTF8.self)
            guard state.contains("\"fds\":[\"seccompFd\"]"), state.contains("\"id\":\"agent\"")
            else { return "bad state \(state)" }
            guard let notification = try? SeccompNotify.receive(from: notify) else {
                return "no notification"
            }
            try? SeccompNotify.respond(
                .continueCall, to: notification.id, listener: notify.rawValue)
            return "ok"
        }
        let seccomp = """
            "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "\(path)",
              "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]},
            """
        let bundle = try makeBundle("mkdir /tmp/agent$$ && rmdir /tmp/agent$$ && echo made")
        defer {
            unlink(bundle + "/config.json")
            rmdir(bundle)
        }
        var spec = try FileContents.readText(bundle + "/config.json")
        spec = spec.replacingOccurrences(of: "\"linux\": {", with: "\"linux\": {" + seccomp)
        spec = spec.replacingOccurrences(of: "\"readonly\": true", with: "\"readonly\": false")
        try FileContents.write(spec, to: bundle + "/config.json", flags: O_WRONLY | O_TRUNC)
        let pipe = try Pipe()
        let status = try runBundle(bundle, id: "agent", stdio: [-1, pipe.writeEnd.rawValue, 2])
        try pipe.writeEnd.close()
        #expect(status == .exited(0))
        #expect(String(decoding: try pipe.readEnd.readAll(), as: UTF8.self) == "made\n")
        #expect(agent.join() == "ok")
    }
}
