import Glibc
import LXCInit
import LXCSystem
import Testing

@testable import LXCRuntime

@Suite(.enabled(if: isPrivileged, "starting containers needs root"))
struct RunTests {
    @Test func workloadRunsAsPID1InItsOwnNamespaces() throws {
        let script =
            "echo $$; hostname; for n in mnt pid uts ipc net; do readlink /proc/self/ns/$n; done"
        let (output, status) = try runCapturing(testPlan(["/bin/sh", "-c", script], name: "ns1"))
        #expect(status == .exited(0))
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 7)
        #expect(lines.first == "1")
        #expect(lines.dropFirst().first == "ns1")
        let names: [Namespace] = [.mount, .pid, .uts, .ipc, .network]
        for (index, namespace) in names.enumerated() where index + 2 < lines.count {
            #expect(lines[index + 2] != (try namespace.identity()))
        }
    }
}
