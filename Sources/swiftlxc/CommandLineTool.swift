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
          run                run an OCI bundle in the foreground (runc run)
          create, start      runc's create (--bundle, --pid-file, --console-socket, --preserve-fds) and start
          state, kill        runc's state JSON; a signal to the init (--all: to every process)
          delete, list, ps   remove (--force), list (--format json), pids (--format json) of OCI containers
          pause, resume      freeze or thaw an OCI container; features prints what is supported
          exec               runc's exec (--process FILE, --tty, --console-socket, --detach, --pid-file)
          create             create a container in an lxcpath (-n NAME -P PATH -t TEMPLATE|--rootfs DIR)
          start, stop        start (daemonized; -F foreground) or stop (-k kill, -r reboot) it
          info, ls, wait     its state and init pid, the containers, wait for a state (-s)
          destroy, copy      remove it, or copy it (-N NEWNAME)
          freeze, unfreeze   freeze or thaw all its processes
          cgroup             read or write one of its cgroup files, or --stats as JSON
          console            connect this terminal to its console or tty (-t N; Ctrl+a q leaves)
          console-log        print its console ring buffer (--clear, --max N)
          mount, umount      mount into or unmount inside the running container
          attach             run a command in the running container (-- COMMAND; /bin/sh)
          seccomp            compile LXC and OCI seccomp policies, print what they decide
          version            print the version
          help               print this text
        """

    static func run(_ arguments: [String]) -> Int32 {
        // A closed stdin, stdout or stderr would be taken by the first file a verb opens (a
        // locked state directory, say) and handed to a container as its stdio: /dev/null
        // takes its place instead.
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) < 0 {
            _ = open("/dev/null", O_RDWR)
        }
        var arguments = arguments
        if let status = takeGlobalOptions(&arguments) { return status }
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
        case "run": return RunCommand.run(rest)
        case "create" where OCICommands.claims(verb, rest): return OCICommands.create(rest)
        case "start" where OCICommands.claims(verb, rest): return OCICommands.start(rest)
        case "list" where OCICommands.claims(verb, rest): return OCICommands.list(rest)
        case "state": return OCICommands.state(rest)
        case "kill": return OCICommands.kill(rest)
        case "delete": return OCICommands.delete(rest)
        case "ps": return OCICommands.ps(rest)
        case "pause": return OCICommands.pause(rest, resume: false)
        case "resume": return OCICommands.pause(rest, resume: true)
        case "features": return OCICommands.features()
        case "exec": return OCICommands.exec(rest)
        case "create": return LXCCommands.create(rest)
        case "start": return LXCCommands.start(rest)
        case "stop": return LXCCommands.stop(rest)
        case "info": return LXCCommands.info(rest)
        case "ls", "list": return LXCCommands.list(rest)
        case "wait": return LXCCommands.wait(rest)
        case "destroy": return LXCCommands.destroy(rest)
        case "copy": return LXCCommands.copy(rest)
        case "freeze": return LXCCommands.freeze(rest, thaw: false)
        case "unfreeze": return LXCCommands.freeze(rest, thaw: true)
        case "cgroup": return LXCCommands.cgroup(rest)
        case "console": return LXCCommands.console(rest)
        case "console-log": return LXCCommands.consoleLog(rest)
        case "mount": return LXCCommands.mount(rest)
        case "umount": return LXCCommands.unmount(rest)
        case "attach": return AttachCommand.run(rest)
        case "__monitor": return LXCCommands.monitor(rest)
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

extension CommandLineTool {
    /// runc's global options, before the verb: `--log FILE`, `--log-format text|json`,
    /// `--debug`, `--root DIR`; `--systemd-cgroup`, `--rootless` and `--criu` are accepted.
    /// Returns an exit status when they are wrong.
    static func takeGlobalOptions(_ arguments: inout [String]) -> Int32? {
        var logPath: String?
        var format = LogFormat.text
        var level = LogLevel.warn
        while let first = arguments.first, first.hasPrefix("--") {
            let (name, inline) = splitOption(first)
            let takesValue = ["--log", "--log-format", "--root", "--rootless", "--criu"].contains(
                name)
            guard takesValue || name == "--debug" || name == "--systemd-cgroup" else { break }
            arguments.removeFirst()
            var value = inline
            if takesValue && value == nil {
                guard !arguments.isEmpty else {
                    printError("swiftlxc: \(name) needs a value")
                    return 2
                }
                value = arguments.removeFirst()
            }
            switch name {
            case "--log": logPath = value
            case "--log-format":
                guard let parsed = LogFormat(rawValue: value ?? "") else {
                    printError("swiftlxc: --log-format must be text or json")
                    return 2
                }
                format = parsed
            case "--debug": level = .debug
            case "--root": OCICommands.root = value
            default: break  // --systemd-cgroup, --rootless, --criu: accepted, not acted on
            }
        }
        if let logPath {
            do {
                try Log.initializeRuntime(path: logPath, format: format, level: level)
            } catch {
                printError("swiftlxc: \(error)")
                return 1
            }
        }
        return nil
    }

    private static func splitOption(_ word: String) -> (String, String?) {
        guard let equals = word.firstIndex(of: "=") else { return (word, nil) }
        return (String(word[..<equals]), String(word[word.index(after: equals)...]))
    }
}

/// Writes `text` and a newline to stderr.
func printError(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.append(UInt8(ascii: "\n"))
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
