import Glibc
import LXCSystem

/// The busybox rootfs of the privileged tests: `Scripts/test.sh` builds it and sets
/// `SWIFTLXC_TEST_ROOTFS`; a plain `swift test` builds it on first use.
let rootfs: String = {
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
