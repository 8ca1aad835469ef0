import Glibc
import LXCInit
import LXCMount
import LXCSystem
import Testing

@testable import LXCRuntime

/// The busybox root filesystem the privileged tests run containers on. `Scripts/test.sh`
/// builds it and sets `SWIFTLXC_TEST_ROOTFS`; a plain `swift test` builds it on first use.
enum TestRootfs {
    static let path: String = {
        if let value = getenv("SWIFTLXC_TEST_ROOTFS") { return String(cString: value) }
        let package = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        let path = "/\(package)/.build/test-rootfs"
        if access(path + "/bin/busybox", X_OK) != 0 {
            _ = try? Spawn.run(
                SpawnRequest(
                    path: "/\(package)/Scripts/make-rootfs.sh",
                    arguments: ["make-rootfs.sh", path], fileMap: [0, 2, 2]))
        }
        return path
    }()
}

/// Whether this process may create namespaces and mount: root with CAP_SYS_ADMIN.
let isPrivileged: Bool = getuid() == 0

/// A plan for an application container on the test rootfs running `arguments`.
func testPlan(_ arguments: [String], name: String = "test") -> ContainerPlan {
    var rootfs = RootfsPlan(path: TestRootfs.path)
    rootfs.devTmpfs = true
    rootfs.defaultDevices = true
    rootfs.devpts = true
    rootfs.mounts = [
        MountSpec(
            source: "proc", target: "/proc", type: "proc",
            options: (try? MountOptions(parsing: "nosuid,nodev,noexec")) ?? MountOptions()),
        MountSpec(
            source: "sysfs", target: "/sys", type: "sysfs",
            options: (try? MountOptions(parsing: "ro,nosuid,nodev,noexec")) ?? MountOptions()),
    ]
    var plan = ContainerPlan(
        name: name, newNamespaces: NamespaceSet([.mount, .pid, .uts, .ipc, .network]),
        rootfs: rootfs, arguments: arguments)
    plan.hostname = name
    plan.environment = ["PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root"]
    return plan
}

/// Runs `plan` with stdout captured; returns the output and the exit status.
func runCapturing(_ plan: ContainerPlan, idMappings: [IDMapping] = []) throws -> (
    output: String, status: TerminationStatus
) {
    let pipe = try Pipe()
    var request = LaunchRequest(plan: plan)
    request.idMappings = idMappings
    request.stdio = [-1, pipe.writeEnd.rawValue, 2]
    let container = try Launcher.start(request)
    try pipe.writeEnd.close()
    let output = try pipe.readEnd.readAll()
    let status = try container.wait()
    return (String(decoding: output, as: UTF8.self), status)
}

/// The host's mount table, to check that a container left nothing behind.
func hostMounts() -> String {
    (try? FileContents.readText("/proc/self/mountinfo")) ?? ""
}
