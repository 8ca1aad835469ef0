import Glibc
import LXCSystem

/// An external program run with `Spawn.start`, the same vfork-style routine SwiftLXC uses, so
/// the harness adds no fork cost of its own to what it times.
struct ExternalCommand {
    /// Absolute path; `Spawn.start` does no PATH search.
    var path: String
    /// The whole argv, argv[0] included.
    var arguments: [String]
    /// A fixed environment, so runs do not depend on the caller's shell.
    var environment: [String] = ExternalCommand.baseEnvironment
    /// A run that takes longer is killed and counts as failed: lxc-execute, for one, can hang
    /// after a failed setup.
    var timeoutMilliseconds: Int32 = 30_000

    static let baseEnvironment = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
    ]

    /// The command line as a person would type it.
    var commandLine: String {
        ([path] + arguments.dropFirst()).joined(separator: " ")
    }

    /// Runs with stdin, stdout and stderr on `/dev/null` and requires exit status 0.
    func runQuietly(devNull: Int32) throws(BenchError) {
        let status = try run(fileMap: [devNull, devNull, devNull])
        guard status == .exited(0) else { throw BenchError("\(commandLine): \(status)") }
    }

    /// Runs with stdout and stderr captured; returns how it ended and what it wrote.
    func capture(devNull: Int32) throws(BenchError) -> (status: TerminationStatus, output: String) {
        let memory: FileDescriptor
        do {
            memory = try ProcessControl.memfd("swiftlxc-bench-output")
        } catch {
            throw BenchError("\(error)")
        }
        let status = try run(fileMap: [devNull, memory.rawValue, memory.rawValue])
        lseek(memory.rawValue, 0, SEEK_SET)
        let bytes = (try? memory.readAll()) ?? []
        return (status, String(decoding: bytes, as: UTF8.self))
    }

    /// Runs the check before timing: exit status 0, or an error carrying the program's own
    /// first lines (where C runtimes put the root cause) so the report says why the peer
    /// was skipped.
    func check(devNull: Int32) throws(BenchError) {
        let (status, output) = try capture(devNull: devNull)
        guard status == .exited(0) else {
            let head = output.split(separator: "\n").prefix(2).joined(separator: " | ")
            throw BenchError("\(commandLine): \(status)\(head.isEmpty ? "" : ": \(head)")")
        }
    }

    private func run(fileMap: [Int32]) throws(BenchError) -> TerminationStatus {
        // A new session makes the child a process group leader, so a timeout can kill the
        // group and not leave a hung helper behind.
        let request = SpawnRequest(
            path: path, arguments: arguments, environment: environment, fileMap: fileMap,
            newSession: true)
        let child: PIDFD
        do {
            child = try Spawn.start(request)
        } catch {
            throw BenchError("\(error)")
        }

        let finished: Bool
        do {
            finished = try child.waitForExit(milliseconds: timeoutMilliseconds)
        } catch {
            throw BenchError("\(error)")
        }
        if !finished {
            kill(-child.pid, SIGKILL)
            _ = try? child.wait()
            throw BenchError("\(commandLine): timed out after \(timeoutMilliseconds) ms")
        }

        do {
            return try child.wait()
        } catch {
            throw BenchError("\(error)")
        }
    }

    /// The first executable `name` on the usual PATH, or nil.
    static func find(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let directories = [
            "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
            "/opt/swift/usr/bin",
        ]
        for directory in directories where access("\(directory)/\(name)", X_OK) == 0 {
            return "\(directory)/\(name)"
        }
        return nil
    }
}
