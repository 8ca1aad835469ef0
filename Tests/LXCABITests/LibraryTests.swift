import Glibc
import LXCSystem
import Testing

/// SwiftLXC's `liblxc.so.1` loaded by unchanged programs: a C program built against LXC's
/// own header (`lxc-dev`), and Debian's python3-lxc. Both run with LD_LIBRARY_PATH naming a
/// directory whose `liblxc.so.1` is this build's `liblxc.so`, and check in `/proc/self/maps`
/// that it, not the system's, was loaded.
@Suite(.serialized) struct LibraryTests {
    @Test func layoutAndEveryPointerWithLXCsHeader() throws {
        let library = try builtLibrary()
        let work = try TemporaryDirectory()
        let binary = work.path + "/abi-check"
        let compile = try run(
            "/usr/bin/cc", ["cc", "-Wall", "-o", binary, fixture("abi-check.c"), "-llxc"])
        try #require(compile.status == .exited(0), "cc: \(compile.output)")
        let lxcpath = work.path + "/lxcpath"
        mkdir(lxcpath, 0o755)
        let check = try run(
            binary, ["abi-check", lxcpath, library], environment: ["LD_LIBRARY_PATH=\(work.path)"],
            linking: library, into: work.path)
        #expect(check.status == .exited(0))
        #expect(check.output == "ok\n", "\(check.output)")
    }

    @Test(.enabled(if: getuid() == 0, "starts a container"))
    func devptsFDOpensAPtyOfTheContainer() throws {
        let library = try builtLibrary()
        let work = try TemporaryDirectory()
        let binary = work.path + "/devpts-check"
        let compile = try run(
            "/usr/bin/cc", ["cc", "-Wall", "-o", binary, fixture("devpts-check.c"), "-llxc"])
        try #require(compile.status == .exited(0), "cc: \(compile.output)")
        let lxcpath = work.path + "/lxcpath"
        mkdir(lxcpath, 0o755)
        let check = try run(
            binary, ["devpts-check", lxcpath, rootfs],
            environment: ["LD_LIBRARY_PATH=\(work.path)"], linking: library, into: work.path)
        #expect(check.status == .exited(0))
        #expect(check.output.hasSuffix("ok\n"), "\(check.output)")
    }

    @Test(.enabled(if: getuid() == 0, "starts a container"))
    func python3LXCCycle() throws {
        let library = try builtLibrary()
        guard access("/usr/bin/python3", X_OK) == 0,
            access("/usr/lib/python3/dist-packages/lxc/__init__.py", R_OK) == 0
        else {
            Issue.record("python3-lxc is not installed (apt-get install python3-lxc)")
            return
        }
        let work = try TemporaryDirectory()
        let lxcpath = work.path + "/lxcpath"
        mkdir(lxcpath, 0o755)
        let result = try run(
            "/usr/bin/python3", ["python3", fixture("cycle.py"), lxcpath, rootfs, library],
            environment: ["LD_LIBRARY_PATH=\(work.path)", "SWIFTLXC_ABI_TRACE=1"],
            linking: library, into: work.path)
        #expect(result.status == .exited(0))
        #expect(result.output.hasSuffix("ok\n"), "\(result.output)")
    }
}

// MARK: - Support

/// The directory the test runner was built into, where `liblxc.so`, `swiftlxc` and
/// `swiftlxc-init` are too; `.build/debug` when the runner is elsewhere.
private let buildDirectory: String = {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes {
        readlink("/proc/self/exe", $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4095)
    }
    let runner = String(decoding: buffer[0..<max(count, 0)], as: UTF8.self)
    let directory = "/" + runner.split(separator: "/").dropLast().joined(separator: "/")
    if access(directory + "/liblxc.so", R_OK) == 0 { return directory }
    let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
    return "/\(package)/.build/debug"
}()

private func builtLibrary() throws -> String {
    let path = buildDirectory + "/liblxc.so"
    try #require(
        access(path, R_OK) == 0,
        "\(path) is missing: swift build --build-tests, or Scripts/build-liblxc.sh")
    return path
}

private func fixture(_ name: String) -> String {
    let directory = String(#filePath).split(separator: "/").dropLast().joined(separator: "/")
    return "/\(directory)/Fixtures/\(name)"
}

/// The busybox rootfs of the privileged tests, as LXCTests find it.
private let rootfs: String = {
    if let value = getenv("SWIFTLXC_TEST_ROOTFS") { return String(cString: value) }
    let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
    let path = "/\(package)/.build/test-rootfs"
    if access(path + "/bin/busybox", X_OK) != 0 {
        _ = try? Spawn.run(
            SpawnRequest(
                path: "/\(package)/Scripts/make-rootfs.sh", arguments: ["make-rootfs.sh", path],
                fileMap: [0, 2, 2]))
    }
    return path
}()

private struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        var template = Array("/tmp/swiftlxc-abi-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SyscallError(.current, call: "mkdtemp") }
        path = String(cString: made)
    }

    deinit {
        _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", path]))
    }
}

/// Runs a program with stdout and stderr into one file; `linking` puts a `liblxc.so.1`
/// pointing at the library into the directory first.
private func run(
    _ path: String, _ arguments: [String], environment: [String] = [],
    linking library: String? = nil,
    into directory: String? = nil
) throws -> (status: TerminationStatus, output: String) {
    if let library, let directory {
        symlink(library, directory + "/liblxc.so.1")
    }
    let outputPath = "/tmp/swiftlxc-abi-output-\(getpid())-\(arguments.count)"
    let output = try FileDescriptor.open(outputPath, O_RDWR | O_CREAT | O_TRUNC, mode: 0o600)
    defer { unlink(outputPath) }
    let null = try FileDescriptor.open("/dev/null", O_RDONLY)
    let status = try Spawn.run(
        SpawnRequest(
            path: path, arguments: arguments,
            environment: environment + ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            fileMap: [null.rawValue, output.rawValue, output.rawValue]))
    let text = (try? FileContents.readText(outputPath)) ?? ""
    return (status, text)
}
