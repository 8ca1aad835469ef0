import Glibc
import LXC
import LXCSystem

/// `swiftlxc run [-b|--bundle DIR] ID`: runc's foreground run of an OCI bundle.
enum RunCommand {
    static let usage = "usage: swiftlxc run [-b|--bundle DIR] CONTAINER-ID"

    static func run(_ arguments: [String]) -> Int32 {
        var bundle = "."
        var id: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-b", "--bundle":
                index += 1
                guard index < arguments.count else {
                    printError("swiftlxc run: \(argument) needs a directory\n\(usage)")
                    return 2
                }
                bundle = arguments[index]
            case _ where argument.hasPrefix("--bundle="):
                bundle = String(argument.dropFirst("--bundle=".count))
            case "-h", "--help":
                print(usage)
                return 0
            case _ where argument.hasPrefix("-"):
                printError("swiftlxc run: unsupported option \(argument)\n\(usage)")
                return 2
            default:
                guard id == nil else {
                    printError("swiftlxc run: unexpected argument \(argument)\n\(usage)")
                    return 2
                }
                id = argument
            }
            index += 1
        }
        guard let id, !id.isEmpty, !id.contains("/") else {
            printError("swiftlxc run: a container id without '/' is required\n\(usage)")
            return 2
        }
        guard let absolute = realpath(bundle, nil) else {
            printError("swiftlxc run: bundle \(bundle): \(Errno.current)")
            return 1
        }
        let path = String(cString: absolute)
        free(absolute)
        Logger("oci").debug(
            "phase arguments parsed \(MonotonicClock.milliseconds(since: processStart)) ms "
                + "after main")
        do {
            let status = try runBundle(path, id: id) { warning in
                Logger("oci").warn(warning)
            }
            return status.shellStatus
        } catch {
            Logger("oci").error("\(id): \(error)")
            printError("swiftlxc run: \(id): \(error)")
            return error.exitStatus
        }
    }
}
