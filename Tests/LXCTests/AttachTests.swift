import Glibc
import LXCRuntime
import LXCSystem
import Testing

@testable import LXC

/// Attach (LXC's `attach`, `attach_run_wait`, `lxc-attach`) to real busybox containers. The
/// test runner is multithreaded: attach never changes its namespaces.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct AttachTests {
    private func running(
        _ tag: String, in lxcpath: TestLXCPath, items: [(String, String)] = []
    ) throws -> Container {
        let container = Container(name: "\(tag)\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.mount.auto", "proc:mixed sys:mixed"), ("lxc.net.0.type", "empty"),
                ("lxc.uts.name", "attached-\(tag)"),
            ] + items)
        try container.start(command: ["/bin/sleep", "1000"])
        return container
    }

    /// Runs `command` attached with stdout captured; returns its status and output.
    private func capture(
        _ container: Container, _ command: [String], _ options: AttachOptions = .init()
    ) throws -> (TerminationStatus, String) {
        let pipe = try Pipe()
        var options = options
        options.stdout = pipe.writeEnd.rawValue
        let process = try container.attach(command, options: options)
        try pipe.writeEnd.close()
        let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        return (try process.wait(), output)
    }

    private func namespace(_ kind: String, of pid: pid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        let count = readlink("/proc/\(pid)/ns/\(kind)", &buffer, 127)
        return count > 0 ? String(cString: Array(buffer[0..<count]) + [0]) : "?"
    }

    private func field(_ name: String, of pid: pid_t) -> String {
        let status = (try? FileContents.readText("/proc/\(pid)/status")) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { String($0.dropFirst(name.count + 1).filter { !$0.isWhitespace }) } ?? ""
    }

    /// Processes of the attach helper (argv[0] `swiftlxc-attach`) that are still there.
    /// No attach helper outlives its attach. Other suites attach in parallel, so a helper
    /// seen now may be theirs and gone a moment later: only one that stays counts.
    private func noHelperStays() -> Bool {
        for _ in 0..<100 {
            if helpers() == 0 { return true }
            usleep(10_000)
        }
        return false
    }

    private func helpers() -> Int {
        guard let directory = opendir("/proc") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard Int(name) != nil,
                let text = try? FileContents.read("/proc/\(name)/cmdline")
            else { continue }
            if text.split(separator: 0).first.map({ Array($0) }) == Array("swiftlxc-attach".utf8) {
                count += 1
            }
        }
        return count
    }

    @Test func theCommandIsInTheContainersNamespacesRootAndCgroups() throws {
        let lxcpath = TestLXCPath("attach")
        let container = try running("att", in: lxcpath)
        defer { try? container.stop() }
        let initPID = container.initPID

        let input = try Pipe()
        let output = try Pipe()
        var options = AttachOptions()
        options.stdin = input.readEnd.rawValue
        options.stdout = output.writeEnd.rawValue
        let process = try container.attach(
            ["/bin/sh", "-c", "echo $$; hostname; read line"], options: options)
        try output.writeEnd.close()
        // While it waits for a line, it is checked from the host.
        for kind in ["mnt", "uts", "ipc", "pid", "net", "cgroup"] {
            #expect(namespace(kind, of: process.pid) == namespace(kind, of: initPID), "\(kind)")
            #expect(namespace(kind, of: process.pid) != namespace(kind, of: getpid()), "\(kind)")
        }
        var attachedRoot = stat()
        var initRoot = stat()
        #expect(stat("/proc/\(process.pid)/root", &attachedRoot) == 0)
        #expect(stat("/proc/\(initPID)/root", &initRoot) == 0)
        #expect(attachedRoot.st_ino == initRoot.st_ino && attachedRoot.st_dev == initRoot.st_dev)
        let hostCgroups = try FileContents.readText("/proc/\(process.pid)/cgroup")
        #expect(hostCgroups == (try FileContents.readText("/proc/\(initPID)/cgroup")))
        // The command is this process's child, as LXC's attached pid is.
        #expect(field("PPid", of: process.pid) == String(getpid()))
        try input.writeEnd.writeAll("\n")
        let text = String(decoding: try output.readEnd.readAll(), as: UTF8.self)
        #expect(try process.wait() == .exited(0))
        let lines = text.split(separator: "\n")
        // A small pid of the container's pid namespace, and its hostname.
        #expect(lines.count == 2 && (Int(lines[0]) ?? 1000) < 100)
        #expect(lines.last == "attached-att")
        #expect(noHelperStays())
    }

    @Test func exitStatusesMissingCommandsAndStoppedContainers() throws {
        let lxcpath = TestLXCPath("attachexit")
        let container = try running("attx", in: lxcpath)
        #expect(try container.runAttached(["/bin/sh", "-c", "exit 7"]) == .exited(7))
        #expect(try container.runAttached(["/bin/sh", "-c", "kill -KILL $$"]) == .signaled(9))
        #expect {
            _ = try container.runAttached(["/nonexistent/command"])
        } throws: { error in
            guard let error = error as? ContainerError else { return false }
            return error.exitStatus == 127
                && "\(error)" == "exec: execve /nonexistent/command: no such file or directory"
        }
        #expect(noHelperStays())
        try container.stop()
        #expect {
            _ = try container.runAttached(["/bin/true"])
        } throws: { error in
            guard case .store(.notRunning)? = error as? ContainerError else { return false }
            return "\(error)".contains(container.name)
        }
    }

    @Test func identityEnvironmentAndDirectory() throws {
        let lxcpath = TestLXCPath("attachid")
        let container = try running("attid", in: lxcpath)
        defer { try? container.stop() }

        var options = AttachOptions()
        options.uid = 1000
        options.gid = 1001
        options.cwd = "/tmp"
        let (status, output) = try capture(
            container, ["/bin/sh", "-c", "id -u; id -g; pwd"], options)
        #expect(status == .exited(0))
        #expect(output == "1000\n1001\n/tmp\n")

        // A variable of this process (never PATH, which keep leaves as the caller's).
        let candidates = ["HOME", "USER", "TERM", "LANG", "SHELL", "LOGNAME"]
        let caller = candidates.first { getenv($0) != nil }
        var keep = AttachOptions()
        keep.extraEnvironment = ["ATTACHED=yes"]
        let (_, kept) = try capture(container, ["/usr/bin/env"], keep)
        let keptLines = Set(kept.split(separator: "\n").map(String.init))
        #expect(keptLines.contains("ATTACHED=yes"))
        #expect(keptLines.contains("container=lxc"))
        if let caller {
            #expect(keptLines.contains { $0.hasPrefix(caller + "=") })
        }

        var clear = AttachOptions()
        clear.environmentPolicy = .clear
        clear.extraEnvironment = ["ATTACHED=yes"]
        if let caller { clear.keptVariables = [caller] }
        let (_, cleared) = try capture(container, ["/usr/bin/env"], clear)
        var names = Set(cleared.split(separator: "\n").map { String($0.split(separator: "=")[0]) })
        names.remove("PWD")
        names.remove("SHLVL")
        #expect(names == Set(["PATH", "container", "ATTACHED"] + (caller.map { [$0] } ?? [])))

        // A directory asked for that the container lacks is an error naming it (LXC only warns
        // and stays in `/`, which an attach without a directory does when the caller's is missing).
        var missing = AttachOptions()
        missing.cwd = "/no/such/directory"
        #expect {
            _ = try container.runAttached(["/bin/true"], options: missing)
        } throws: { "\($0)".contains("chdir /no/such/directory") }
    }

    @Test func droppedCapabilitiesStayDropped() throws {
        let lxcpath = TestLXCPath("attachcap")
        let container = try running("attcap", in: lxcpath, items: [("lxc.cap.drop", "sys_time")])
        defer { try? container.stop() }
        let sysTime: UInt64 = 1 << 25
        let (_, output) = try capture(
            container, ["/bin/sh", "-c", "grep CapBnd /proc/self/status"])
        let mask = UInt64(output.split(separator: "\t").last?.filter(\.isHexDigit) ?? "", radix: 16)
        #expect(mask != nil && mask! & sysTime == 0)
        // Without dropCapabilities the caller's bounding set passes.
        var options = AttachOptions()
        options.flags = [.moveToCgroup, .setPersonality]
        let (_, kept) = try capture(
            container, ["/bin/sh", "-c", "grep CapBnd /proc/self/status"], options)
        let keptMask = UInt64(
            kept.split(separator: "\t").last?.filter(\.isHexDigit) ?? "", radix: 16)
        let host = UInt64(field("CapBnd", of: getpid()), radix: 16) ?? 0
        #expect(keptMask == host)
    }

    @Test func joinsTheInnerCgroup() throws {
        let lxcpath = TestLXCPath("attachinner")
        let outer = "swiftlxc-attach-\(getpid())"
        let container = try running(
            "attin", in: lxcpath,
            items: [
                ("lxc.cgroup.dir.container", outer), ("lxc.cgroup.dir.container.inner", "inner"),
            ])
        defer { try? container.stop() }
        let (_, inside) = try capture(container, ["/bin/cat", "/proc/self/cgroup"])
        // Its cgroup namespace is rooted at the inner cgroup: it sees `/` everywhere.
        #expect(!inside.isEmpty)
        #expect(inside.split(separator: "\n").allSatisfy { $0.hasSuffix(":/") })

        let input = try Pipe()
        var options = AttachOptions()
        options.stdin = input.readEnd.rawValue
        let process = try container.attach(["/bin/sh", "-c", "read line"], options: options)
        let text = try FileContents.readText("/proc/\(process.pid)/cgroup")
        let pids = text.split(separator: "\n").first { $0.contains(":pids:") } ?? ""
        #expect(pids.hasSuffix("/\(outer)/inner"))
        #expect(text == (try FileContents.readText("/proc/\(container.initPID)/cgroup")))
        try input.writeEnd.writeAll("\n")
        #expect(try process.wait() == .exited(0))
    }

    @Test func aUserNamespaceContainer() throws {
        let lxcpath = TestLXCPath("attachuserns")
        let container = try running(
            "attus", in: lxcpath,
            items: [("lxc.idmap", "u 0 100000 65536"), ("lxc.idmap", "g 0 100000 65536")])
        defer { try? container.stop() }
        let input = try Pipe()
        let output = try Pipe()
        var options = AttachOptions()
        options.stdin = input.readEnd.rawValue
        options.stdout = output.writeEnd.rawValue
        let process = try container.attach(
            ["/bin/sh", "-c", "id -u; cat /proc/self/uid_map; read line"], options: options)
        try output.writeEnd.close()
        #expect(namespace("user", of: process.pid) == namespace("user", of: container.initPID))
        #expect(field("Uid", of: process.pid).hasPrefix("100000"))
        try input.writeEnd.writeAll("\n")
        let text = String(decoding: try output.readEnd.readAll(), as: UTF8.self)
        #expect(try process.wait() == .exited(0))
        let lines = text.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.first == ["0"])
        #expect(lines.dropFirst().first == ["0", "100000", "65536"])
    }

    /// CVE-2019-5736: the helper that enters the container runs from the monitor's sealed
    /// memfd, never from the host's file.
    @Test func theHelperRunsFromASealedMemfd() throws {
        let lxcpath = TestLXCPath("attachcve")
        let container = try running("attcve", in: lxcpath)
        defer { try? container.stop() }
        let answer = try CommandClient.send(
            .attachContext, lxcpath: container.lxcpath, name: container.name)
        #expect(answer.reply.code == 0)
        guard let binary = answer.descriptors.take(0), let initPIDFD = answer.descriptors.take(1)
        else {
            Issue.record("no descriptors in the attach context")
            return
        }
        // F_GET_SEALS: SEAL, SHRINK, GROW and WRITE.
        #expect(fcntl(binary.rawValue, 1034) == 0xF)
        #expect(write(binary.rawValue, "x", 1) < 0)
        var link = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/self/fd/\(binary.rawValue)", &link, 255)
        #expect(String(cString: Array(link[0..<max(0, count)]) + [0]).hasPrefix("/memfd:"))

        // The helper as attach spawns it, held before its plan: its exe is the memfd.
        let pair = try SocketPair()
        let binaryFD = try binary.duplicate(atLeast: 10)
        let helper = try Spawn.start(
            SpawnRequest(
                path: "/proc/self/fd/\(binaryFD.rawValue)", arguments: ["swiftlxc-attach"],
                fileMap: [-1, -1, 2, pair.second.rawValue, initPIDFD.rawValue]))
        var exe = [CChar](repeating: 0, count: 256)
        let exeCount = readlink("/proc/\(helper.pid)/exe", &exe, 255)
        let exeText = String(cString: Array(exe[0..<max(0, exeCount)]) + [0])
        #expect(exeText.hasPrefix("/memfd:swiftlxc-attach"))
        try pair.second.close()
        try pair.first.close()
        #expect(try helper.wait() == .exited(1))

        // And an attached command cannot write the helper through its own ancestry.
        #expect(try container.runAttached(["/bin/true"]) == .exited(0))
        #expect(noHelperStays())
    }

    @Test func theCommandLineVerb() throws {
        let lxcpath = TestLXCPath("attachcli")
        let container = try running("attcli", in: lxcpath)
        defer { try? container.stop() }
        let (status, output) = try cli([
            "attach", "-n", container.name, "-P", lxcpath.path, "--clear-env", "-v", "X=1",
            "-u", "5", "--", "/bin/sh", "-c", "echo $X $(id -u) $(hostname); exit 3",
        ])
        #expect(status == 3)
        #expect(output == "1 5 attached-attcli\n")
        let (missing, _) = try cli([
            "attach", "-n", container.name, "-P", lxcpath.path, "--", "/nope",
        ])
        #expect(missing == 127)
        let (stopped, _) = try cli(["attach", "-n", "none\(getpid())", "-P", lxcpath.path])
        #expect(stopped == 1)
    }
}
