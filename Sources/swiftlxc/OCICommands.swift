import Glibc
import LXC
import LXCRuntime
import LXCSystem

/// runc's lifecycle verbs over `--root`: `create`, `start`, `state`, `kill`, `delete`,
/// `list`, `ps`, `pause`, `resume`, `features`, as podman, containerd and CRI-O call them.
enum OCICommands {
    /// `--root`, when given before the verb.
    nonisolated(unsafe) static var root: String?

    static var runtime: OCIRuntime { OCIRuntime(root: root ?? OCIRuntime().root) }

    /// Whether `verb` with `arguments` is runc's and not LXC's verb of the same name: an
    /// explicit `--root`, or no LXC option (`-n`, `-P`, `-t`, `--rootfs`) among them.
    static func claims(_ verb: String, _ arguments: [String]) -> Bool {
        if root != nil { return true }
        let lxcOptions: Set<String> = [
            "-n", "--name", "-P", "--lxcpath", "-t", "--template", "--rootfs", "--active", "--json",
            "-F", "--foreground",
        ]
        return !arguments.contains { lxcOptions.contains($0) || $0.hasPrefix("--name=") }
    }

    static func fail(_ verb: String, _ error: any Error) -> Int32 {
        Logger("oci").error("\(verb): \(error)")
        printError("swiftlxc \(verb): \(error)")
        return 1
    }

    /// Splits `arguments` into options (with values for `valued`) and operands.
    static func parse(_ arguments: [String], valued: Set<String>, flags: Set<String>, verb: String)
        -> (options: [String: String], operands: [String])?
    {
        var options: [String: String] = [:]
        var operands: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                operands += arguments[index...]
                break
            }
            guard argument.hasPrefix("-"), argument.count > 1, operands.isEmpty || verb == "kill"
            else {
                operands.append(argument)
                continue
            }
            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            if valued.contains(name) {
                if value == nil {
                    guard index < arguments.count else {
                        printError("swiftlxc \(verb): \(name) needs a value")
                        return nil
                    }
                    value = arguments[index]
                    index += 1
                }
                options[name] = value
            } else if flags.contains(name) {
                options[name] = value ?? "true"
            } else if verb == "kill", Int32(argument.dropFirst()) != nil || operands.count == 1 {
                operands.append(argument)  // `kill ID -9` is not runc's, but a signal anyway
            } else {
                printError("swiftlxc \(verb): unsupported option \(name)")
                return nil
            }
        }
        return (options, operands)
    }

    /// Exactly one container id among the operands.
    static func id(_ operands: [String], verb: String) -> String? {
        guard operands.count == 1, let id = operands.first else {
            printError("swiftlxc \(verb): exactly one container id is required")
            return nil
        }
        return id
    }

    static func create(_ arguments: [String]) -> Int32 {
        guard
            let (options, operands) = parse(
                arguments,
                valued: ["-b", "--bundle", "--pid-file", "--console-socket", "--preserve-fds"],
                flags: ["--no-pivot", "--no-new-keyring"], verb: "create"),
            let id = id(operands, verb: "create")
        else { return 2 }
        let preserve = options["--preserve-fds"].map { Int($0) } ?? 0
        guard let preserve, preserve >= 0 else {
            printError("swiftlxc create: --preserve-fds needs a number")
            return 2
        }
        if options["--no-pivot"] != nil {
            Logger("oci").warn("--no-pivot is ignored: pivot_root is always used")
        }
        do {
            _ = try runtime.create(
                bundle: options["--bundle"] ?? options["-b"] ?? ".", id: id,
                pidFile: options["--pid-file"], consoleSocket: options["--console-socket"],
                preserveFDs: preserve
            ) { Logger("oci").warn($0) }
            return 0
        } catch {
            return fail("create", error)
        }
    }

    static func start(_ arguments: [String]) -> Int32 {
        guard let (_, operands) = parse(arguments, valued: [], flags: [], verb: "start"),
            let id = id(operands, verb: "start")
        else { return 2 }
        do {
            try runtime.start(id)
            return 0
        } catch {
            return fail("start", error)
        }
    }

    static func state(_ arguments: [String]) -> Int32 {
        guard let (_, operands) = parse(arguments, valued: [], flags: [], verb: "state"),
            let id = id(operands, verb: "state")
        else { return 2 }
        do {
            print(try runtime.state(id))
            return 0
        } catch {
            return fail("state", error)
        }
    }

    static func kill(_ arguments: [String]) -> Int32 {
        guard
            let (options, operands) = parse(
                arguments, valued: [], flags: ["-a", "--all"], verb: "kill")
        else { return 2 }
        guard operands.count == 1 || operands.count == 2 else {
            printError("swiftlxc kill: usage: kill [--all] CONTAINER-ID [SIGNAL]")
            return 2
        }
        let name = operands.count == 2 ? operands[1] : "SIGTERM"
        guard
            let signal = OCIRuntime.signal(
                named: name.hasPrefix("-") ? String(name.dropFirst()) : name)
        else {
            printError("swiftlxc kill: unknown signal \(name)")
            return 2
        }
        do {
            try runtime.kill(
                operands[0], signal: signal, all: options["-a"] != nil || options["--all"] != nil)
            return 0
        } catch {
            return fail("kill", error)
        }
    }

    static func delete(_ arguments: [String]) -> Int32 {
        guard
            let (options, operands) = parse(
                arguments, valued: [], flags: ["-f", "--force"], verb: "delete"),
            let id = id(operands, verb: "delete")
        else { return 2 }
        do {
            try runtime.delete(id, force: options["-f"] != nil || options["--force"] != nil) {
                Logger("oci").warn($0)
                printError("swiftlxc delete: warning: \($0)")
            }
            return 0
        } catch {
            return fail("delete", error)
        }
    }

    static func pause(_ arguments: [String], resume: Bool) -> Int32 {
        let verb = resume ? "resume" : "pause"
        guard let (_, operands) = parse(arguments, valued: [], flags: [], verb: verb),
            let id = id(operands, verb: verb)
        else { return 2 }
        do {
            if resume { try runtime.resume(id) } else { try runtime.pause(id) }
            return 0
        } catch {
            return fail(verb, error)
        }
    }

    static func list(_ arguments: [String]) -> Int32 {
        guard
            let (options, operands) = parse(
                arguments, valued: ["-f", "--format"], flags: ["-q", "--quiet"], verb: "list"),
            operands.isEmpty
        else { return 2 }
        let format = options["-f"] ?? options["--format"] ?? "table"
        let containers = runtime.list()
        if options["-q"] != nil || options["--quiet"] != nil {
            for container in containers { print(container.record.id) }
            return 0
        }
        switch format {
        case "json":
            print(
                "["
                    + containers.map { $0.record.stateJSON(status: $0.status) }.joined(
                        separator: ",") + "]")
        case "table":
            func pad(_ text: String, _ width: Int) -> String {
                text + String(repeating: " ", count: max(1, width - text.count))
            }
            print(
                pad("ID", 20) + pad("PID", 10) + pad("STATUS", 10) + pad("BUNDLE", 40)
                    + pad("CREATED", 32) + "OWNER")
            for (record, status) in containers {
                let pid = status == .stopped ? 0 : record.pid
                print(
                    pad(record.id, 20) + pad("\(pid)", 10) + pad(status.rawValue, 10)
                        + pad(record.bundle, 40)
                        + pad(record.created, 32) + "root")
            }
        default:
            printError("swiftlxc list: --format must be table or json")
            return 2
        }
        return 0
    }

    static func ps(_ arguments: [String]) -> Int32 {
        guard
            let (options, operands) = parse(
                arguments, valued: ["-f", "--format"], flags: [], verb: "ps"),
            let id = operands.first
        else {
            printError("swiftlxc ps: usage: ps [--format table|json] CONTAINER-ID")
            return 2
        }
        let format = options["-f"] ?? options["--format"] ?? "table"
        do {
            let pids = try runtime.processes(id)
            switch format {
            case "json": print("[" + pids.map { "\($0)" }.joined(separator: ",") + "]")
            case "table":
                print("PID     CMD")
                for pid in pids {
                    let command = (try? FileContents.read("/proc/\(pid)/cmdline")) ?? []
                    let text = String(decoding: command.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
                    print(
                        "\(pid)" + String(repeating: " ", count: max(1, 8 - "\(pid)".count)) + text)
                }
            default:
                printError("swiftlxc ps: --format must be table or json")
                return 2
            }
            return 0
        } catch {
            return fail("ps", error)
        }
    }

    /// `exec [-p FILE] [-t] [--console-socket S] [-d] [--pid-file F] [--cwd D] [-e K=V]
    /// [-u UID[:GID]] ID [COMMAND…]`: without `--detach`, waits and exits with the process's
    /// status.
    static func exec(_ arguments: [String]) -> Int32 {
        var environment: [String] = []
        var rest: [String] = []
        var index = 0
        // -e may repeat; the parser keeps one value per option.
        while index < arguments.count {
            if ["-e", "--env"].contains(arguments[index]), index + 1 < arguments.count {
                environment.append(arguments[index + 1])
                index += 2
            } else {
                rest.append(arguments[index])
                index += 1
            }
        }
        guard
            let (options, operands) = parse(
                rest,
                valued: [
                    "-p", "--process", "--console-socket", "--pid-file", "--cwd", "-u", "--user",
                ],
                flags: ["-t", "--tty", "-d", "--detach", "--no-new-privs"], verb: "exec"),
            let id = operands.first
        else {
            printError(
                "swiftlxc exec: usage: exec [--process FILE] [options] CONTAINER-ID [COMMAND...]")
            return 2
        }
        var process: OCIExecProcess
        do {
            if let file = options["-p"] ?? options["--process"] {
                process = try OCIExecProcess(file: file)
            } else {
                guard operands.count > 1 else {
                    printError("swiftlxc exec: a command or --process FILE is required")
                    return 2
                }
                process = OCIExecProcess(args: Array(operands.dropFirst()))
            }
            // As runc: --tty asks for a terminal over a --process file too.
            if options["-t"] != nil || options["--tty"] != nil { process.terminal = true }
        } catch {
            return fail("exec", error)
        }
        if !environment.isEmpty { process.env = (process.env ?? []) + environment }
        if let cwd = options["--cwd"] { process.cwd = cwd }
        if options["--no-new-privs"] != nil { process.noNewPrivileges = true }
        if let user = options["-u"] ?? options["--user"] {
            let parts = user.split(separator: ":").map { UInt32($0) }
            guard let uid = parts.first ?? nil else {
                printError("swiftlxc exec: --user needs UID[:GID]")
                return 2
            }
            process.uid = uid
            if parts.count > 1, let gid = parts[1] { process.gid = gid }
        }
        do {
            let command = try runtime.exec(
                id, process: process, consoleSocket: options["--console-socket"],
                pidFile: options["--pid-file"])
            if options["-d"] != nil || options["--detach"] != nil { return 0 }
            return (try command.wait()).shellStatus
        } catch {
            return fail("exec", error)
        }
    }

    /// `features`: what the runtime supports, in the runtime spec's features.md form.
    static func features() -> Int32 {
        let hooks = [
            "prestart", "createRuntime", "createContainer", "startContainer", "poststart",
            "poststop",
        ]
        let namespaces = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
        func list(_ items: [String]) -> String {
            "[" + items.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        }
        print(
            "{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"1.2.0\",\"hooks\":\(list(hooks)),"
                + "\"linux\":{\"namespaces\":\(list(namespaces)),"
                + "\"cgroup\":{\"v1\":true,\"v2\":true,\"systemd\":false,\"systemdUser\":false},"
                + "\"seccomp\":{\"enabled\":true},\"apparmor\":{\"enabled\":false},"
                + "\"selinux\":{\"enabled\":false}},"
                + "\"annotations\":{\"org.opencontainers.runtime.version\":\"\(SwiftLXC.version)\"}}"
        )
        return 0
    }
}
