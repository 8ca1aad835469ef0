import Glibc
import Testing

@testable import LXCSystem

@Suite struct SyscallErrorTests {
    @Test func failedCallCarriesErrnoCallAndObject() {
        #expect {
            _ = try FileDescriptor.open("/nonexistent/swiftlxc", O_RDONLY)
        } throws: { error in
            guard let error = error as? SyscallError else { return false }
            return error.errno == .ENOENT && error.call == "open"
                && error.object == "/nonexistent/swiftlxc"
                && error.description == "open /nonexistent/swiftlxc: no such file or directory"
        }
    }

    @Test func errnoTextIsLowercase() {
        #expect(Errno.EACCES.description == "permission denied")
        #expect(Errno.ENOENT.description == "no such file or directory")
        #expect(SyscallError(.EPERM, call: "setns").description == "setns: operation not permitted")
    }

    @Test func openat2InRootStaysInsideTheDirectory() throws {
        let root = try TemporaryDirectory()
        try root.write("inside", to: "etc/hostname")
        // A symlink that points at the host's /etc/hostname must resolve inside the root.
        #expect(symlink("/etc/hostname", root.path + "/link") == 0)
        let directory = try FileDescriptor.open(root.path, O_RDONLY | O_DIRECTORY)
        let file = try directory.openAt2("link", O_RDONLY, resolve: .inRoot)
        #expect(String(decoding: try file.readAll(), as: UTF8.self) == "inside")
        #expect(throws: SyscallError.self) {
            _ = try directory.openAt2("/../../etc/shadow", O_RDONLY, resolve: .beneath)
        }
    }
}
