import Glibc
import LXCSystem
import Testing

@testable import LXCCgroups

/// A name no other test or run uses, so tests can run side by side.
func uniqueName(_ stem: String) -> String {
    "swlxc-\(stem)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
}

/// A fresh empty directory under /tmp, removed with everything in it by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ stem: String) throws {
        path = "/tmp/\(uniqueName(stem))"
        #expect(mkdir(path, 0o755) == 0)
    }

    func remove() {
        var status: Int32 = 0
        let pid = try? Spawn.start(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", path]))
        if let pid { status = (try? pid.wait())?.shellStatus ?? 1 }
        #expect(status == 0)
    }
}

/// Writes `text` to `path`, creating parent directories, as the kernel's files would be.
func makeFile(_ path: String, _ text: String = "") throws {
    var parent = ""
    for component in path.split(separator: "/").dropLast() {
        parent += "/" + component
        _ = mkdir(parent, 0o755)
    }
    try FileContents.write(text, to: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
}

func readFile(_ path: String) -> String? {
    try? FileContents.readText(path)
}

/// Every directory below `root`, relative to it, sorted: a listing to compare before/after.
func directoryListing(_ root: String) -> [String] {
    var result: [String] = []
    func walk(_ relative: String) {
        for name in CgroupFiles.subdirectories(of: root + relative) {
            result.append(relative + "/" + name)
            walk(relative + "/" + name)
        }
    }
    walk("")
    return result.sorted()
}

/// A busybox shell that waits on its stdin before running `script`, so the test can place
/// it in a cgroup first. Its stdout and stderr go to `output`.
final class GatedShell {
    let process: PIDFD
    private var gate: FileDescriptor?
    let output: String

    init(_ script: String, output: String) throws {
        self.output = output
        let pipe = try Pipe()
        let out = try FileDescriptor.open(output, O_WRONLY | O_CREAT | O_TRUNC)
        process = try Spawn.start(
            SpawnRequest(
                path: "/bin/busybox",
                arguments: ["sh", "-c", "read _gate; " + script],
                fileMap: [pipe.readEnd.rawValue, out.rawValue, out.rawValue]))
        // The pipe's own ends close when it goes; the child holds its copy of the read end.
        gate = .some(try pipe.writeEnd.duplicate())
    }

    var pid: pid_t { process.pid }

    /// Lets the script run.
    func open() throws {
        if let gate = gate.take() {
            try gate.writeAll("go\n")
        }
    }

    func wait() throws -> TerminationStatus {
        try process.wait()
    }

    var text: String { readFile(output) ?? "" }
}

/// Polls `condition` every 10 ms for up to `milliseconds`.
func eventually(milliseconds: Int = 3000, _ condition: () -> Bool) -> Bool {
    var waited = 0
    while waited < milliseconds {
        if condition() { return true }
        usleep(10_000)
        waited += 10
    }
    return condition()
}

/// The host's real layout; these tests run as root on the project's hybrid machines.
func hostLayout() throws -> CgroupLayout {
    try CgroupLayout.detect()
}
