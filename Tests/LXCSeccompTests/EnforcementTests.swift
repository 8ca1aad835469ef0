import Glibc
import LXCSeccomp
import LXCSystem
import Testing

/// The built `swiftlxc`, next to the test bundle.
let swiftlxc: String = {
    let bundle = CommandLine.arguments.first ?? ""
    let beside = bundle.split(separator: "/").dropLast().joined(separator: "/")
    let path = (bundle.hasPrefix("/") ? "/" : "") + beside + "/swiftlxc"
    return access(path, X_OK) == 0 ? path : packageDirectory + "/.build/debug/swiftlxc"
}()

/// A scratch directory for one test, removed by the caller with `removeTree`.
func scratchDirectory() -> String {
    var template = Array("/tmp/swiftlxc-seccomp-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return "/tmp" }
        return String(cString: base)
    }
}

func removeTree(_ path: String) {
    guard path.hasPrefix("/tmp/swiftlxc-seccomp-") else { return }
    _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", path]))
}

/// Compiles LXC policy `text` and writes its program into `directory`; returns the path.
func compileToFile(_ text: String, in directory: String, name: String = "policy")
    throws -> (path: String, filter: CompiledFilter)
{
    let filter = try SeccompCompiler.compile(try parseLXC(text))
    let path = "\(directory)/\(name).bpf"
    try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC).writeAll(filter.program)
    return (path, filter)
}

/// Runs `swiftlxc seccomp run-under` with stdout and stderr captured together.
func runUnder(
    _ program: String, flags: UInt32 = 0, extraFD: Int32? = nil, _ command: [String]
) throws -> (output: String, status: TerminationStatus) {
    let pipe = try Pipe()
    var arguments = ["swiftlxc", "seccomp", "run-under", program, "--flags", String(flags)]
    var map: [Int32] = [-1, pipe.writeEnd.rawValue, pipe.writeEnd.rawValue]
    if let extraFD {
        arguments += ["--listener-fd", "3"]
        map.append(extraFD)
    }
    let child = try Spawn.start(
        SpawnRequest(
            path: swiftlxc, arguments: arguments + ["--"] + command,
            environment: ["PATH=/usr/bin:/bin"], fileMap: map))
    try pipe.writeEnd.close()
    let output = try pipe.readEnd.readAll()
    return (String(decoding: output, as: UTF8.self), try child.wait())
}

@Suite(.enabled(if: getuid() == 0, "installing filters in child processes runs as root in CI"))
struct EnforcementTests {
    @Test func aDeniedCallFailsWithTheConfiguredErrno() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (program, _) = try compileToFile(
            "2\ndenylist\nmkdir errno 1\nmkdirat errno 1\n", in: dir)
        let (output, status) = try runUnder(
            program, ["/bin/sh", "-c", "mkdir \(dir)/made; echo status $?; echo ok > \(dir)/f"])
        #expect(status == .exited(0))
        #expect(output.contains("Operation not permitted"))
        #expect(output.hasSuffix("status 1\n"))
        #expect(access("\(dir)/made", F_OK) != 0)
        #expect(access("\(dir)/f", F_OK) == 0)
    }

    @Test func killAndTrapEndTheCallerWithSIGSYS() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        for action in ["kill", "trap"] {
            let (program, _) = try compileToFile(
                "2\ndenylist\nmkdir \(action)\nmkdirat \(action)\n", in: dir, name: action)
            let (_, status) = try runUnder(program, ["/bin/mkdir", "\(dir)/\(action)"])
            #expect(status == .signaled(SIGSYS), "\(action)")
        }
    }

    @Test func argumentConditionsMatchOnlyTheirValues() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let script = "kill -0 $$ 2>/dev/null; echo $?; kill -CONT $$ 2>/dev/null; echo $?"
        // Signal 0 is refused, SIGCONT (18) is not.
        let (equal, _) = try compileToFile(
            "2\ndenylist\nkill errno 1 [1,0,==]\n", in: dir, name: "equal")
        #expect(try runUnder(equal, ["/bin/sh", "-c", script]).output == "1\n0\n")
        // 18 & 0x10 == 0x10 is refused, 0 is not.
        let (masked, _) = try compileToFile(
            "2\ndenylist\nkill errno 1 [1,0x10,&=,0x10]\n", in: dir, name: "masked")
        #expect(try runUnder(masked, ["/bin/sh", "-c", script]).output == "0\n1\n")
        let (greater, _) = try compileToFile(
            "2\ndenylist\nkill errno 1 [1,17,SCMP_CMP_GT]\n", in: dir, name: "greater")
        #expect(try runUnder(greater, ["/bin/sh", "-c", script]).output == "0\n1\n")
    }

    @Test func aFilterUnderAFilterStacks() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (outer, _) = try compileToFile(
            "2\ndenylist\nrmdir errno 1\n", in: dir, name: "outer")
        let (inner, _) = try compileToFile(
            "2\ndenylist\nmkdir errno 13\nmkdirat errno 13\n", in: dir, name: "inner")
        let script =
            "grep -E '^Seccomp(_filters)?:' /proc/self/status | tr '\\t' ' '; "
            + "mkdir \(dir)/d 2>&1; rmdir \(dir)/none 2>&1; true"
        let (single, _) = try runUnder(outer, ["/bin/sh", "-c", script])
        #expect(single.contains("Seccomp: 2\nSeccomp_filters: 1\n"))
        #expect(single.contains("rmdir: failed to remove '\(dir)/none': Operation not permitted"))
        let (nested, status) = try runUnder(
            outer, [swiftlxc, "seccomp", "run-under", inner, "--", "/bin/sh", "-c", script])
        #expect(status == .exited(0))
        #expect(nested.contains("Seccomp: 2\nSeccomp_filters: 2\n"))
        #expect(nested.contains("Permission denied"))
        #expect(nested.contains("Operation not permitted"))
        #expect(!SeccompInstaller.isFiltered())
    }

    @Test func theKernelsErrorComesBackFromInstall() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (program, _) = try compileToFile("2\ndenylist\nmkdir errno 1\n", in: dir)
        let (output, status) = try runUnder(program, flags: 1 << 20, ["/bin/true"])
        #expect(status == .exited(1))
        #expect(
            output
                == "swiftlxc seccomp: seccomp SECCOMP_SET_MODE_FILTER flags 1048576: "
                + "invalid argument\n")
        #expect(throws: SyscallError(.EINVAL, call: "seccomp", object: "filter program of 7 bytes"))
        {
            _ = try SeccompInstaller.install(program: [0, 0, 0, 0, 0, 0, 0], flags: 0)
        }
    }
}
