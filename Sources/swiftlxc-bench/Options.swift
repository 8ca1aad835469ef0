import Glibc

/// The command line of `swiftlxc-bench`.
struct Options {
    var runs = 100
    var warmups = 5
    var settleMilliseconds = 0
    var runsLog: String?
    var quick = false
    var swiftlxcPath: String?
    var peersDirectory = "/var/tmp/swiftlxc-bench"
    /// Where latest.{json,svg,md} go; nil writes nothing.
    var outputDirectory: String? = "Docs/benchmarks"
    var only: Set<String>?
    var largeParentMiB = 2048
    var commit: String?

    static let usage = """
        usage: swiftlxc-bench [options]

        Measures SwiftLXC against crun, runc and LXC on this machine and writes
        latest.json, latest.svg and latest.md. Run Scripts/peers.sh first (as root).

        options:
          --runs N          measured runs per contender (default 100)
          --warmup N        discarded warm-up runs per contender (default 5)
          --quick           smoke mode: 10 runs, 2 warm-ups
          --settle-ms N     pause N ms before every run (default 0)
          --runs-log FILE   one line per run: group, round, contender, predecessor, sample
          --swiftlxc PATH   the swiftlxc binary (default: next to this binary)
          --peers DIR       what Scripts/peers.sh prepared (default /var/tmp/swiftlxc-bench)
          --out DIR         report directory (default Docs/benchmarks)
          --no-write        print the table only
          --only A,B        run only these scenarios (spawn, start, ...)
          --large-mib N     size the spawn scenario grows the process to (default 2048)
          --commit TEXT     the source revision, recorded in the report
          --help            print this text
        """

    /// Parses `arguments` (without argv[0]); the error text names the bad argument.
    static func parse(_ arguments: [String]) throws(BenchError) -> Options {
        var options = Options()
        var runsGiven = false
        var warmupsGiven = false
        var remaining = arguments[...]

        func value(for flag: String) throws(BenchError) -> String {
            guard let next = remaining.popFirst() else {
                throw BenchError("\(flag) needs a value")
            }
            return next
        }
        func count(for flag: String, minimum: Int) throws(BenchError) -> Int {
            let text = try value(for: flag)
            guard let number = Int(text), number >= minimum else {
                throw BenchError("\(flag) wants a number of at least \(minimum), not \(text)")
            }
            return number
        }

        while let argument = remaining.popFirst() {
            switch argument {
            case "--runs":
                options.runs = try count(for: argument, minimum: 1)
                runsGiven = true
            case "--warmup":
                options.warmups = try count(for: argument, minimum: 0)
                warmupsGiven = true
            case "--quick": options.quick = true
            case "--settle-ms": options.settleMilliseconds = try count(for: argument, minimum: 0)
            case "--runs-log": options.runsLog = try value(for: argument)
            case "--swiftlxc": options.swiftlxcPath = try value(for: argument)
            case "--peers": options.peersDirectory = try value(for: argument)
            case "--out": options.outputDirectory = try value(for: argument)
            case "--no-write": options.outputDirectory = nil
            case "--only":
                options.only = Set(try value(for: argument).split(separator: ",").map(String.init))
            case "--large-mib": options.largeParentMiB = try count(for: argument, minimum: 1)
            case "--commit": options.commit = try value(for: argument)
            case "--help", "-h": throw BenchError(usage)
            default: throw BenchError("unknown argument \(argument)\n\(usage)")
            }
        }
        if options.quick {
            if !runsGiven { options.runs = 10 }
            if !warmupsGiven { options.warmups = 2 }
        }
        return options
    }

    /// `swiftlxc` in the directory of this binary: SwiftPM puts both products there.
    static func defaultSwiftLXCPath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return ".build/release/swiftlxc" }
        let path = String(
            decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return ".build/release/swiftlxc" }
        return path[..<slash] + "/swiftlxc"
    }
}
