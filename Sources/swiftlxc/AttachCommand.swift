import Glibc
import LXC
import LXCSystem

/// `swiftlxc attach`: LXC's `lxc-attach`, exiting with the command's status.
enum AttachCommand {
    static let usage = """
        usage: swiftlxc attach -n NAME [-P LXCPATH] [--clear-env|--keep-env] [-v VAR=VALUE]...
                               [--keep-var VAR]... [-u UID] [-g GID] [--cwd DIR] [-- COMMAND...]
        runs COMMAND (default /bin/sh) in the running container and exits with its status
        """

    static func run(_ arguments: [String]) -> Int32 {
        var name: String?
        var lxcpath = Container.defaultLXCPath
        var options = AttachOptions()
        var command: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                command = Array(arguments[(index + 1)...])
                break
            }
            if argument == "--clear-env" || argument == "--keep-env" {
                options.environmentPolicy = argument == "--clear-env" ? .clear : .keep
                index += 1
                continue
            }
            guard index + 1 < arguments.count else {
                printError("swiftlxc attach: \(argument): unknown or missing its value\n\(usage)")
                return 2
            }
            let value = arguments[index + 1]
            switch argument {
            case "-n", "--name": name = value
            case "-P", "--lxcpath": lxcpath = value
            case "-v", "--set-var":
                guard value.contains("=") else {
                    printError("swiftlxc attach: -v wants VAR=VALUE, not \(value)")
                    return 2
                }
                options.extraEnvironment.append(value)
            case "--keep-var": options.keptVariables.append(value)
            case "-u", "--uid", "-g", "--gid":
                guard let id = UInt32(value) else {
                    printError("swiftlxc attach: \(argument) wants a number, not \(value)")
                    return 2
                }
                if argument.hasPrefix("-u") || argument == "--uid" {
                    options.uid = id
                } else {
                    options.gid = id
                }
            case "--cwd": options.cwd = value
            default:
                printError("swiftlxc attach: unknown option \(argument)\n\(usage)")
                return 2
            }
            index += 2
        }
        guard let name else {
            printError("swiftlxc attach: a container name is required (-n NAME)\n\(usage)")
            return 2
        }
        let container = Container(name: name, lxcpath: lxcpath)
        do {
            return try container.runAttached(command, options: options).shellStatus
        } catch {
            printError("swiftlxc attach: \(name): \(error)")
            return error.exitStatus
        }
    }
}
