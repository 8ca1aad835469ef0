import Glibc
import Synchronization
import Testing

@testable import LXCSystem

/// Threads that stay busy while a test spawns, so the spawn happens from a parent that
/// really runs several threads (the test runner does too, but this does not rely on it).
private final class BusyThreads: @unchecked Sendable {
    private let stop = Atomic<Bool>(false)
    private var threads: [pthread_t] = []

    init(count: Int) {
        for _ in 0..<count {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            pthread_create(
                &thread, nil,
                { context in
                    let busy = Unmanaged<BusyThreads>.fromOpaque(context!).takeRetainedValue()
                    while !busy.stop.load(ordering: .relaxed) { usleep(100) }
                    return nil
                }, context)
            threads.append(thread)
        }
    }

    func finish() {
        stop.store(true, ordering: .relaxed)
        for thread in threads { pthread_join(thread, nil) }
    }
}

@Suite struct SpawnTests {
    @Test func childStartsInNewNamespacesFromAMultithreadedParent() throws {
        let busy = BusyThreads(count: 4)
        defer { busy.finish() }
        #expect(ProcessControl.threadCount() >= 5)

        let script = "echo $$; for n in mnt pid uts ipc net; do readlink /proc/self/ns/$n; done"
        let request = SpawnRequest(
            path: "/bin/sh", arguments: ["sh", "-c", script],
            namespaces: NamespaceSet([.mount, .pid, .uts, .ipc, .network]))
        let (output, status) = try runCapturing(request)
        #expect(status == .exited(0))

        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines.first == "1", "the child sees itself as PID 1")
        let names: [Namespace] = [.mount, .pid, .uts, .ipc, .network]
        for (index, namespace) in names.enumerated() where index + 1 < lines.count {
            let host = try namespace.identity()
            #expect(lines[index + 1].hasPrefix(namespace.procName + ":["))
            #expect(lines[index + 1] != host, "\(namespace) must differ from the parent's")
        }
    }

    @Test func childWithoutNamespacesSharesTheParents() throws {
        let request = SpawnRequest(
            path: "/bin/sh", arguments: ["sh", "-c", "readlink /proc/self/ns/mnt"])
        let (output, status) = try runCapturing(request)
        #expect(status == .exited(0))
        #expect(output == (try Namespace.mount.identity()) + "\n")
    }

    @Test func failedExecReportsItsErrno() throws {
        let directory = try TemporaryDirectory()
        try directory.write("not a program", to: "data")
        #expect {
            _ = try Spawn.start(SpawnRequest(path: "/nonexistent/program", arguments: ["x"]))
        } throws: { error in
            guard let error = error as? SyscallError else { return false }
            return error.call == "execve" && error.errno == .ENOENT
                && error.object == "/nonexistent/program"
        }
        #expect {
            _ = try Spawn.start(SpawnRequest(path: directory.path + "/data", arguments: ["x"]))
        } throws: { error in
            (error as? SyscallError).map { $0.call == "execve" && $0.errno == .EACCES } ?? false
        }
    }

    @Test func onlyMappedDescriptorsReachTheProgram() throws {
        // An fd the caller holds without CLOEXEC must not leak into the child.
        let leaky = try FileDescriptor.open("/dev/null", O_RDONLY).duplicate(atLeast: 700)
        try leaky.setCloseOnExec(false)
        let (output, status) = try runCapturing(
            SpawnRequest(path: "/bin/ls", arguments: ["ls", "/proc/self/fd"]))
        #expect(status == .exited(0))
        // ls itself opens one descriptor for the directory it lists.
        let fds = output.split(separator: "\n").compactMap { Int32($0) }
        #expect(!fds.contains(leaky.rawValue))
        #expect(fds.filter { $0 > 2 }.count <= 1)
    }

    @Test func exitStatusAndSignalsAreReported() throws {
        let exited = try Spawn.run(
            SpawnRequest(path: "/bin/sh", arguments: ["sh", "-c", "exit 7"]))
        #expect(exited == .exited(7))
        let killed = try Spawn.run(
            SpawnRequest(path: "/bin/sh", arguments: ["sh", "-c", "kill -TERM $$"]))
        #expect(killed == .signaled(SIGTERM))
        #expect(killed.shellStatus == 128 + SIGTERM)
    }

    @Test func pidfdSignalsTheProcess() throws {
        let child = try Spawn.start(SpawnRequest(path: "/bin/sleep", arguments: ["sleep", "30"]))
        let runningBefore = !child.hasExited()
        #expect(runningBefore)
        try child.signal(SIGKILL)
        let ended = try child.waitForExit(milliseconds: 5000)
        #expect(ended)
        let status = try child.wait()
        #expect(status == .signaled(SIGKILL))
    }
}
