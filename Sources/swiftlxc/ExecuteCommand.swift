import LXC
import LXCSystem

/// `swiftlxc execute --rootfs DIR [--config FILE] [-n NAME] [-s KEY=VALUE]… -- CMD…`
enum ExecuteCommand {
    static let usage = """
        usage: swiftlxc execute [--rootfs DIR] [-f|--config FILE] [-n NAME] [-s KEY=VALUE]... \
        -- COMMAND [ARG]...
        """

    static func run(_ arguments: [String]) -> Int32 {
        var name = "swiftlxc"
        var rootfs: String?
        var configFile: String?
        var items: [(key: String, value: String)] = []
        var index = 0
        func value(_ flag: String) -> String? {
            index += 1
            guard index < arguments.count else {
                printError("swiftlxc execute: \(flag) needs a value\n\(usage)")
                return nil
            }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--":
                index += 1
                return start(
                    ExecuteOptions(
                        name: name, rootfs: rootfs, configFile: configFile, items: items,
                        command: Array(arguments[index...])))
            case "-n", "--name":
                guard let text = value(argument) else { return 2 }
                name = text
            case "--rootfs":
                guard let text = value(argument) else { return 2 }
                rootfs = text
            case "-f", "--config", "--rcfile":
                guard let text = value(argument) else { return 2 }
                configFile = text
            case "-s", "--define":
                guard let text = value(argument) else { return 2 }
                guard let equals = text.firstIndex(of: "=") else {
                    printError("swiftlxc execute: -s \(text): expected KEY=VALUE")
                    return 2
                }
                items.append((String(text[..<equals]), String(text[text.index(after: equals)...])))
            case "-h", "--help":
                print(usage)
                return 0
            default:
                // Without "--", the first word that is not an option starts the command.
                if argument.hasPrefix("-") {
                    printError("swiftlxc execute: unknown option \(argument)\n\(usage)")
                    return 2
                }
                return start(
                    ExecuteOptions(
                        name: name, rootfs: rootfs, configFile: configFile, items: items,
                        command: Array(arguments[index...])))
            }
            index += 1
        }
        printError("swiftlxc execute: no command given\n\(usage)")
        return 2
    }

    private static func start(_ options: ExecuteOptions) -> Int32 {
        guard !options.command.isEmpty else {
            printError("swiftlxc execute: no command given\n\(usage)")
            return 2
        }
        do {
            return try execute(options).shellStatus
        } catch {
            printError("swiftlxc execute: \(options.name): \(error)")
            return error.exitStatus
        }
    }
}
