import Glibc
import LXC
import LXCSystem

/// The verbs of `swiftlxc` and their dispatch.
enum CommandLineTool {
    static let usage = """
        usage: swiftlxc <command> [options]

        commands:
          api-extensions     print the LXC API extensions SwiftLXC offers, one a line
          config             check LXC configs and OCI config.json, read and list keys
          execute            run a command in an application container (lxc-execute)
          seccomp            compile LXC and OCI seccomp policies, print what they decide
          version            print the version
          help               print this text
        """

    static func run(_ arguments: [String]) -> Int32 {
        guard let verb = arguments.first else {
            printError(usage)
            return 2
        }
        let rest = Array(arguments.dropFirst())
        switch verb {
        case "api-extensions":
            for name in APIExtensions.available { print(name) }
            return 0
        case "config": return ConfigCommand.run(rest)
        case "execute": return ExecuteCommand.run(rest)
        case "seccomp": return SeccompCommand.run(rest)
        case "version", "--version":
            print("swiftlxc \(SwiftLXC.version)")
            return 0
        case "help", "--help", "-h":
            print(usage)
            return 0
        default:
            _ = rest
            printError("swiftlxc: unknown command \(verb)\n\(usage)")
            return 2
        }
    }
}

/// Writes `text` and a newline to stderr.
func printError(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.append(UInt8(ascii: "\n"))
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
