import Glibc
import LXCSeccomp
import LXCSystem

/// This test target's folder, found from the source path.
let testDirectory: String = {
    "/" + String(#filePath).split(separator: "/").dropLast().joined(separator: "/")
}()

/// The package root.
let packageDirectory: String = {
    "/" + String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
}()

/// A fixture's path.
func fixture(_ name: String) -> String {
    testDirectory + "/Fixtures/" + name
}

/// Parses LXC policy text as if on x86_64.
func parseLXC(_ text: String, file: String = "test.seccomp") throws -> SeccompPolicy {
    try LXCPolicyParser.parse(text, file: file, native: .x86_64)
}

/// The error parsing `text` throws, or nil.
func parseError(_ text: String, file: String = "test.seccomp") -> SeccompError? {
    do {
        _ = try LXCPolicyParser.parse(text, file: file, native: .x86_64)
        return nil
    } catch {
        return error
    }
}
