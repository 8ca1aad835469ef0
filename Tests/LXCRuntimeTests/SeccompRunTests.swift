import Glibc
import LXCCapabilities
import LXCInit
import LXCSeccomp
import LXCSystem
import Testing

@testable import LXCRuntime

private let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")

@Suite(.enabled(if: isPrivileged, "starting containers needs root"))
struct SeccompRunTests {
    @Test func busyboxRunsUnderThePodmanDefaultProfile() throws {
        let fixture = "/\(package)/Tests/LXCSeccompTests/Fixtures/containers-seccomp.json"
        let capabilities = Set(CapabilitySets.currentBoundingSet().members.map(\.name))
        let policy = try OCISeccompPolicy.load(contentsOf: fixture)
            .policy(file: fixture, capabilities: capabilities)
        let filter = try SeccompCompiler.compile(policy)
        var plan = testPlan([
            "/bin/sh", "-c",
            "mkdir /tmp/d$$ && rmdir /tmp/d$$ && echo fine; grep '^Seccomp:' /proc/self/status",
        ])
        plan.seccompProgram = filter.program
        plan.seccompFlags = filter.flags.rawValue
        let (output, status) = try runCapturing(plan)
        #expect(status == .exited(0))
        #expect(output == "fine\nSeccomp:\t2\n")
    }

    @Test func nestingIsSkippedWithoutAllowNestingAndStacksWithIt() throws {
        let swiftlxc = "/\(package)/.build/debug/swiftlxc"
        let outer = "/tmp/swiftlxc-outer-\(getpid()).bpf"
        let inner = "/tmp/swiftlxc-inner-\(getpid()).policy"
        try FileContents.write(
            "2\ndenylist\nkexec_load errno 1\n", to: inner, flags: O_WRONLY | O_CREAT | O_TRUNC)
        let filter = try SeccompCompiler.compile(try LXCPolicyParser.load(contentsOf: inner))
        let file = try FileDescriptor.open(outer, O_WRONLY | O_CREAT | O_TRUNC)
        try file.writeAll(filter.program)
        defer {
            unlink(outer)
            unlink(inner)
        }
        func filters(nesting: Bool) throws -> String {
            var arguments = [
                "swiftlxc", "seccomp", "run-under", outer, "--", swiftlxc, "execute",
                "--rootfs", TestRootfs.path, "-n", "nest\(nesting)", "-s", "lxc.mount.auto=proc",
                "-s", "lxc.seccomp.profile=\(inner)",
            ]
            if nesting { arguments += ["-s", "lxc.seccomp.allow_nesting=1"] }
            arguments += ["--", "/bin/grep", "Seccomp_filters", "/proc/self/status"]
            let pipe = try Pipe()
            let child = try Spawn.start(
                SpawnRequest(
                    path: swiftlxc, arguments: arguments,
                    fileMap: [-1, pipe.writeEnd.rawValue, 2]))
            try pipe.writeEnd.close()
            let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
            #expect(try child.wait() == .exited(0))
            return output
        }
        #expect(try filters(nesting: false) == "Seccomp_filters:\t1\n")
        #expect(try filters(nesting: true) == "Seccomp_filters:\t2\n")
    }
}
