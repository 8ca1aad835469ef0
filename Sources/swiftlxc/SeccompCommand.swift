import Glibc
import LXCSeccomp
import LXCSystem

/// `swiftlxc seccomp`: compile LXC and OCI seccomp policies and show what they decide.
enum SeccompCommand {
    static let usage = """
        usage: swiftlxc seccomp compile POLICY [--oci] [--caps CAP,...] [--bpf FILE|-] [--pfc]
               swiftlxc seccomp run-under PROGRAM [--flags N] [--listener-fd N] -- COMMAND...

        compile    parse POLICY (LXC's language, or OCI linux.seccomp json with --oci; --caps
                   is the bounding set the containers profile's filters test), print the
                   decision table and warnings; --bpf writes the BPF program, --pfc prints
                   libseccomp's pseudo filter code
        run-under  diagnostic: set no_new_privs, install the BPF program PROGRAM with flags N
                   (send the listener over the unix socket N), then exec COMMAND
        """

    static func run(_ arguments: [String]) -> Int32 {
        switch arguments.first {
        case "compile": return compile(Array(arguments.dropFirst()))
        case "run-under": return runUnder(Array(arguments.dropFirst()))
        default:
            printError(usage)
            return 2
        }
    }

    static func compile(_ arguments: [String]) -> Int32 {
        var policyPath: String?
        var oci = false
        var pfc = false
        var bpf: String?
        var capabilities: Set<String> = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--oci": oci = true
            case "--pfc": pfc = true
            case "--bpf", "--caps":
                guard index + 1 < arguments.count else {
                    printError(usage)
                    return 2
                }
                index += 1
                if argument == "--bpf" {
                    bpf = arguments[index]
                } else {
                    capabilities = Set(arguments[index].split(separator: ",").map(String.init))
                }
            default:
                guard policyPath == nil, !argument.hasPrefix("--") else {
                    printError(usage)
                    return 2
                }
                policyPath = argument
            }
            index += 1
        }
        guard let policyPath else {
            printError(usage)
            return 2
        }

        let filter: CompiledFilter
        do {
            let policy =
                oci
                ? try OCISeccompPolicy.load(contentsOf: policyPath).policy(
                    file: policyPath, capabilities: capabilities)
                : try LXCPolicyParser.load(contentsOf: policyPath)
            filter = try SeccompCompiler.compile(policy)
        } catch {
            printError("swiftlxc seccomp: \(error)")
            return 1
        }
        // With the program on stdout the table goes to stderr.
        let table = decisionTable(filter)
        if bpf == "-" { printError(table) } else { print(table) }
        if pfc { print(filter.pfc, terminator: "") }
        fflush(nil)
        for warning in filter.warnings { printError("warning: " + warning) }
        if let bpf {
            do {
                if bpf == "-" {
                    try FileDescriptor(owning: dup(STDOUT_FILENO)).writeAll(filter.program)
                } else {
                    let file = try FileDescriptor.open(bpf, O_WRONLY | O_CREAT | O_TRUNC)
                    try file.writeAll(filter.program)
                }
            } catch {
                printError("swiftlxc seccomp: \(error)")
                return 1
            }
        }
        return 0
    }

    /// The decision table: one line per rule and architecture, the default last.
    static func decisionTable(_ filter: CompiledFilter) -> String {
        var rows: [[String]] = [["SYSCALL", "ARCH", "NR", "ACTION", "CONDITIONS", "FROM"]]
        for decision in filter.decisions {
            let conditions = decision.conditions.map(\.description).joined(separator: " && ")
            rows.append([
                decision.syscall, decision.architecture.name, String(decision.number),
                decision.action.description, conditions.isEmpty ? "-" : conditions,
                decision.isEffective ? decision.origin : decision.origin + " (never matches)",
            ])
        }
        let arches = filter.architectures.map(\.name).joined(separator: ",")
        rows.append(["*", arches, "-", filter.defaultAction.description, "-", "default"])
        var widths = [Int](repeating: 0, count: 6)
        for row in rows {
            for (column, cell) in row.enumerated() {
                widths[column] = max(widths[column], cell.count)
            }
        }
        var lines = rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1
                    ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }
        let flags = String(filter.flags.rawValue, radix: 16)
        lines.append("\(filter.instructionCount) instructions, flags 0x\(flags)")
        return lines.joined(separator: "\n")
    }

    /// Installs a compiled program on this process and execs a command under it. A diagnostic
    /// for tests and for trying a policy on one program.
    static func runUnder(_ arguments: [String]) -> Int32 {
        guard let separator = arguments.firstIndex(of: "--"), separator >= 1,
            separator + 1 < arguments.count
        else {
            printError(usage)
            return 2
        }
        let programPath = arguments[0]
        var flags: UInt32 = 0
        var listenerSocket: Int32?
        var index = 1
        while index < separator {
            guard index + 1 < separator else {
                printError(usage)
                return 2
            }
            switch arguments[index] {
            case "--flags":
                guard let value = UInt32(arguments[index + 1]) else {
                    printError(usage)
                    return 2
                }
                flags = value
            case "--listener-fd":
                guard let value = Int32(arguments[index + 1]) else {
                    printError(usage)
                    return 2
                }
                listenerSocket = value
            default:
                printError(usage)
                return 2
            }
            index += 2
        }
        let command = Array(arguments[(separator + 1)...])

        do {
            let program = try FileContents.read(programPath)
            try SeccompInstaller.setNoNewPrivileges()
            if let listener = try SeccompInstaller.install(program: program, flags: flags) {
                guard let listenerSocket else {
                    printError("swiftlxc seccomp: the filter has a listener and no --listener-fd")
                    return 1
                }
                // The socket is the caller's; it is neither owned nor closed here.
                let socket = FileDescriptor(owning: listenerSocket)
                let sent = Result { () throws(SyscallError) in
                    try socket.send([1], descriptors: [listener.rawValue])
                }
                _ = socket.release()
                try sent.get()
            }
        } catch {
            printError("swiftlxc seccomp: \(error)")
            return 1
        }
        let argv = CStringArray(command)
        execvp(command[0], argv.pointers)
        printError("swiftlxc seccomp: execvp \(command[0]): \(Errno.current)")
        return 127
    }
}
