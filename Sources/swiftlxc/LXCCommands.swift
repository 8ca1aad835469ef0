import Glibc
import LXC
import LXCRuntime
import LXCSystem

/// LXC's verbs on named containers: `-n NAME -P LXCPATH`, human output or `--json`.
enum LXCCommands {
    struct Options {
        var name: String?
        var lxcpath = Container.defaultLXCPath
        var json = false
        var rest: [String] = []
        var flags: [String: String] = [:]
        var command: [String]?
    }

    /// Parses `-n`, `-P`, `--json`, the verb's own `valued` flags, and `-- COMMAND`.
    static func parse(_ arguments: [String], valued: Set<String> = [], verb: String) -> Options? {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            func value() -> String? {
                index += 1
                guard index < arguments.count else {
                    printError("swiftlxc \(verb): \(argument) needs a value")
                    return nil
                }
                return arguments[index]
            }
            switch argument {
            case "-n", "--name":
                guard let text = value() else { return nil }
                options.name = text
            case "-P", "--lxcpath":
                guard let text = value() else { return nil }
                options.lxcpath = text
            case "--json":
                options.json = true
            case "--":
                options.command = Array(arguments[(index + 1)...])
                return options
            case _ where valued.contains(argument):
                guard let text = value() else { return nil }
                options.flags[argument] = text
            case _ where argument.hasPrefix("-"):
                options.flags[argument] = ""
            default:
                options.rest.append(argument)
            }
            index += 1
        }
        return options
    }

    static func container(_ options: Options, verb: String) -> Container? {
        guard let name = options.name ?? options.rest.first else {
            printError("swiftlxc \(verb): a container name is required (-n NAME)")
            return nil
        }
        return Container(name: name, lxcpath: options.lxcpath)
    }

    static func fail(_ verb: String, _ name: String, _ error: any Error) -> Int32 {
        printError("swiftlxc \(verb): \(name): \(error)")
        return 1
    }

    static func start(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, verb: "start"),
            let container = container(options, verb: "start")
        else { return 2 }
        let foreground = options.flags["-F"] != nil || options.flags["--foreground"] != nil
        do {
            try container.start(
                command: options.command, useInit: options.flags["--use-init"] != nil,
                daemonize: !foreground)
            return 0
        } catch {
            return fail("start", container.name, error)
        }
    }

    static func stop(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, valued: ["-t", "--timeout"], verb: "stop"),
            let container = container(options, verb: "stop")
        else { return 2 }
        do {
            if options.flags["-k"] != nil || options.flags["--kill"] != nil {
                try container.stop()
                return 0
            }
            let timeout = Int(options.flags["-t"] ?? options.flags["--timeout"] ?? "") ?? 60
            if options.flags["-r"] != nil || options.flags["--reboot"] != nil {
                return try container.reboot(timeout: timeout) ? 0 : 1
            }
            _ = try container.shutdown(timeout: timeout)
            return 0
        } catch {
            return fail("stop", container.name, error)
        }
    }

    static func info(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, verb: "info"),
            let container = container(options, verb: "info")
        else { return 2 }
        guard container.isDefined || container.isRunning else {
            printError("swiftlxc info: \(container.name): container is not defined")
            return 1
        }
        let state = container.state
        let pid = container.initPID
        if options.json {
            print(
                "{\"name\":\(JSONText.quote(container.name)),\"state\":\"\(state.rawValue)\","
                    + "\"pid\":\(pid)}")
        } else {
            print("Name:           \(container.name)")
            print("State:          \(state.rawValue)")
            if pid > 0 { print("PID:            \(pid)") }
        }
        return 0
    }

    static func list(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, verb: "ls") else { return 2 }
        let active = options.flags["--active"] != nil
        let names = listContainers(lxcpath: options.lxcpath, defined: !active, active: true)
        if options.json {
            let items = names.map { name -> String in
                let state = Container(name: name, lxcpath: options.lxcpath).state
                return "{\"name\":\(JSONText.quote(name)),\"state\":\"\(state.rawValue)\"}"
            }
            print("[" + items.joined(separator: ",") + "]")
        } else {
            for name in names { print(name) }
        }
        return 0
    }

    static func wait(_ arguments: [String]) -> Int32 {
        guard
            let options = parse(
                arguments, valued: ["-s", "--state", "-t", "--timeout"],
                verb: "wait"),
            let container = container(options, verb: "wait")
        else { return 2 }
        let stateName = options.flags["-s"] ?? options.flags["--state"] ?? ""
        // LXC accepts several states joined with '|'.
        let states = stateName.split(separator: "|").compactMap {
            ContainerState(rawValue: String($0))
        }
        guard !states.isEmpty else {
            printError(
                "swiftlxc wait: -s STATE is required ("
                    + ContainerState.allCases.map(\.rawValue).joined(separator: "|") + ")"
            )
            return 2
        }
        let timeout = Int(options.flags["-t"] ?? options.flags["--timeout"] ?? "-1") ?? -1
        let deadline = timeout < 0 ? Int.max : timeout * 1000
        var waited = 0
        while waited <= deadline {
            if states.contains(container.state) { return 0 }
            usleep(10_000)
            waited += 10
        }
        return 1
    }

    static func create(_ arguments: [String]) -> Int32 {
        guard
            let options = parse(
                arguments, valued: ["-t", "--template", "--rootfs", "-f", "--config", "-s"],
                verb: "create"),
            let container = container(options, verb: "create")
        else { return 2 }
        var items: [(key: String, value: String)] = []
        if let file = options.flags["-f"] ?? options.flags["--config"] {
            guard let text = try? FileContents.readText(file) else {
                printError("swiftlxc create: cannot read \(file)")
                return 1
            }
            for line in text.split(separator: "\n") {
                let trimmed = line.drop { $0 == " " || $0 == "\t" }
                guard !trimmed.isEmpty, !trimmed.hasPrefix("#"),
                    let equals = trimmed.firstIndex(of: "=")
                else { continue }
                let key = trimmed[..<equals].filter { $0 != " " && $0 != "\t" }
                let value = trimmed[trimmed.index(after: equals)...].drop { $0 == " " }
                items.append((String(key), String(value)))
            }
        }
        if let item = options.flags["-s"], let equals = item.firstIndex(of: "=") {
            items.append((String(item[..<equals]), String(item[item.index(after: equals)...])))
        }
        let source: ContainerStore.RootfsSource
        if let template = options.flags["-t"] ?? options.flags["--template"] {
            source = .template(template, options.command ?? [])
        } else if let rootfs = options.flags["--rootfs"] {
            source = options.flags["--in-place"] != nil ? .inPlace(rootfs) : .copy(rootfs)
        } else {
            source = .none
        }
        do {
            try container.create(rootfs: source, items: items)
            return 0
        } catch {
            return fail("create", container.name, error)
        }
    }

    static func freeze(_ arguments: [String], thaw: Bool) -> Int32 {
        let verb = thaw ? "unfreeze" : "freeze"
        guard let options = parse(arguments, verb: verb),
            let container = container(options, verb: verb)
        else { return 2 }
        do {
            if thaw { try container.unfreeze() } else { try container.freeze() }
            return 0
        } catch {
            return fail(verb, container.name, error)
        }
    }

    /// `cgroup -n NAME FILE [VALUE]` reads or writes one cgroup file; `cgroup -n NAME --stats`.
    static func cgroup(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, verb: "cgroup"),
            let container = container(options, verb: "cgroup")
        else { return 2 }
        let words = options.name == nil ? Array(options.rest.dropFirst()) : options.rest
        do {
            if options.flags["--stats"] != nil {
                print(try container.cgroupStatistics())
            } else if words.count == 1 {
                print(try container.cgroupItem(words[0]))
            } else if words.count == 2 {
                try container.setCgroupItem(words[0], words[1])
            } else {
                printError("swiftlxc cgroup: usage: cgroup -n NAME FILE [VALUE] | --stats")
                return 2
            }
            return 0
        } catch {
            return fail("cgroup", container.name, error)
        }
    }

    /// `console-log -n NAME [--clear] [--max N] [--keep]`: prints what the container's
    /// console ring buffer holds (taking it out of the buffer, as LXC's `console_log` does);
    /// `--clear` empties the buffer afterwards, `--keep` only clears (with `--clear`) or
    /// prints nothing.
    static func consoleLog(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, valued: ["--max"], verb: "console-log"),
            let container = container(options, verb: "console-log")
        else { return 2 }
        guard let limit = UInt64(options.flags["--max"] ?? "0") else {
            printError("swiftlxc console-log: --max needs a byte count")
            return 2
        }
        do {
            let bytes = try container.consoleLog(
                read: options.flags["--keep"] == nil, clear: options.flags["--clear"] != nil,
                limit: limit)
            _ = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
            return 0
        } catch {
            return fail("console-log", container.name, error)
        }
    }

    /// `console -n NAME [-t N] [-e CHAR]`: connects this terminal to the container's tty N
    /// (0 the console; by default the first free tty, or the console when there are none)
    /// until Ctrl+CHAR q (Ctrl+a q by default), as `lxc-console` does.
    static func console(_ arguments: [String]) -> Int32 {
        guard
            let options = parse(
                arguments, valued: ["-e", "--escape", "-t", "--tty"], verb: "console"),
            let container = container(options, verb: "console")
        else { return 2 }
        let escape = (options.flags["-e"] ?? options.flags["--escape"] ?? "a").last ?? "a"
        let ttyText = options.flags["-t"] ?? options.flags["--tty"] ?? "-1"
        guard let tty = Int(ttyText), tty >= -1 else {
            printError(
                "swiftlxc console: -t needs a tty number (0 for the console), not \(ttyText)")
            return 2
        }
        if isatty(0) == 1 {
            printError(
                "Connected to \(container.name). Type <Ctrl+\(escape) q> to exit, "
                    + "<Ctrl+\(escape) Ctrl+\(escape)> to enter Ctrl+\(escape) itself.")
        }
        do {
            try container.runConsole(tty: tty, escape: escape)
            return 0
        } catch {
            return fail("console", container.name, error)
        }
    }

    /// `mount -n NAME SOURCE TARGET [-t TYPE] [-o OPTIONS]`: mounts into the running
    /// container (fstab-style options; `-o bind` by default when no type is given).
    static func mount(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, valued: ["-t", "-o"], verb: "mount"),
            let container = container(options, verb: "mount")
        else { return 2 }
        let words = options.name == nil ? Array(options.rest.dropFirst()) : options.rest
        guard words.count == 2 else {
            printError("swiftlxc mount: usage: mount -n NAME SOURCE TARGET [-t TYPE] [-o OPTIONS]")
            return 2
        }
        let type = options.flags["-t"] ?? "none"
        let mountOptions = options.flags["-o"] ?? (type == "none" ? "bind" : "defaults")
        do {
            try container.mount(
                source: words[0], target: words[1], type: type, options: mountOptions)
            return 0
        } catch {
            return fail("mount", container.name, error)
        }
    }

    /// `umount -n NAME TARGET [-l]`: unmounts inside the running container (`-l` lazily).
    static func unmount(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, verb: "umount"),
            let container = container(options, verb: "umount")
        else { return 2 }
        let words = options.name == nil ? Array(options.rest.dropFirst()) : options.rest
        guard words.count == 1 else {
            printError("swiftlxc umount: usage: umount -n NAME TARGET [-l]")
            return 2
        }
        do {
            try container.unmount(
                words[0], flags: options.flags["-l"] != nil ? Int32(MNT_DETACH) : 0)
            return 0
        } catch {
            return fail("umount", container.name, error)
        }
    }

    static func destroy(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, verb: "destroy"),
            let container = container(options, verb: "destroy")
        else { return 2 }
        do {
            if options.flags["-f"] != nil && container.isRunning { try container.stop() }
            try container.destroy()
            return 0
        } catch {
            return fail("destroy", container.name, error)
        }
    }

    static func copy(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, valued: ["-N", "--newname"], verb: "copy"),
            let container = container(options, verb: "copy")
        else { return 2 }
        guard let newName = options.flags["-N"] ?? options.flags["--newname"] else {
            printError("swiftlxc copy: -N NEWNAME is required")
            return 2
        }
        do {
            try container.copy(to: newName)
            return 0
        } catch {
            return fail("copy", container.name, error)
        }
    }

    /// The hidden monitor entry: forks so the starter can reap it at once, then serves the
    /// container and reports "ok" or "error <reason>" on fd 3.
    static func monitor(_ arguments: [String]) -> Int32 {
        guard let options = parse(arguments, verb: "__monitor"),
            let container = container(options, verb: "__monitor")
        else { return 2 }
        let child = fork()
        if child < 0 { return 1 }
        if child > 0 { _exit(0) }
        // The monitor logs where the container's config says (lxc.log.file, lxc.log.level).
        if let configuration = try? container.loadConfiguration() {
            let file = (try? configuration.get("lxc.log.file")).flatMap { $0.isEmpty ? nil : $0 }
            let level = (try? configuration.get("lxc.log.level")).flatMap {
                $0.isEmpty ? nil : $0
            }
            _ = try? Log.initialize(
                LogOptions(
                    name: container.name, lxcpath: options.lxcpath, file: file ?? "none",
                    level: level.flatMap { LogLevel(name: $0) != nil ? $0 : nil },
                    prefix: "swiftlxc", quiet: true))
        }
        // fd 3 carries one report; it must close then, or the starter would wait for the
        // monitor's whole life.
        var report: FileDescriptor? = FileDescriptor(owning: 3)
        _ = container.runMonitor(
            command: options.command, useInit: options.flags["--use-init"] != nil
        ) { error in
            guard let fd = report.take() else { return }
            _ = try? fd.writeAll(error.map { "error \($0)" } ?? "ok")
        }
        return 0
    }
}
