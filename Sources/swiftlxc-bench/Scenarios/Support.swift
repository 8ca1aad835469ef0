import Glibc
import LXCSystem

/// A program on the usual PATH run quietly with exit status 0 required, or the check form
/// that reports the program's own words.
func runProgram(
    _ arguments: [String], devNull: Int32, checked: Bool = false
) throws(BenchError) {
    guard let path = ExternalCommand.find(arguments[0]) else {
        throw BenchError("\(arguments[0]) is not installed")
    }
    let command = ExternalCommand(path: path, arguments: arguments)
    if checked {
        try command.check(devNull: devNull)
    } else {
        try command.runQuietly(devNull: devNull)
    }
}

/// What a program wrote to stdout and stderr; exit status 0 required.
func programOutput(_ arguments: [String], devNull: Int32) throws(BenchError) -> String {
    guard let path = ExternalCommand.find(arguments[0]) else {
        throw BenchError("\(arguments[0]) is not installed")
    }
    let command = ExternalCommand(path: path, arguments: arguments)
    let (status, output) = try command.capture(devNull: devNull)
    guard status == .exited(0) else {
        throw BenchError("\(command.commandLine): \(status): \(output.prefix(200))")
    }
    return output
}

/// The first number of the `/proc` line starting with `key` in `path`, in KiB; nil when the
/// file or the line is missing (a process that has just exited).
func procKiB(_ path: String, key: String) -> UInt64? {
    guard let text = try? FileContents.readText(path) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(key) {
        return UInt64(String(line.dropFirst(key.count).filter(\.isNumber)))
    }
    return nil
}

/// Resident memory of `pid` (VmRSS), in KiB.
func residentKiB(_ pid: pid_t) -> UInt64? {
    procKiB("/proc/\(pid)/status", key: "VmRSS:")
}

/// The processes whose command line, arguments joined by spaces, satisfies `matches`.
func processes(where matches: (String) -> Bool) -> [pid_t] {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var found: [pid_t] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let pid = pid_t(name) else { continue }
        guard let text = try? FileContents.readText("/proc/\(pid)/cmdline") else { continue }
        let line = String(text.map { $0 == "\0" ? " " : $0 })
        if matches(line) { found.append(pid) }
    }
    return found
}

/// Waits up to `milliseconds` for `condition`, polling every millisecond.
func waitFor(milliseconds: Int, _ condition: () -> Bool) -> Bool {
    for _ in 0..<milliseconds {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

/// Samples a contender's runs record on the side (the stop time of a start-and-stop run, the
/// memory of a timed run), so one run can feed a second result group.
final class SampleLog {
    private(set) var values: [UInt64] = []

    func append(_ value: UInt64) { values.append(value) }

    /// The contender's result with these samples: the first `discard` values (the check and
    /// the warm-ups) dropped. A contender that failed keeps its failure.
    func result(like measured: ContenderResult, discard: Int) -> ContenderResult {
        var result = measured
        guard measured.statistics != nil, values.count > discard else { return result }
        let kept = Array(values.dropFirst(discard))
        result.outcome = .measured(Statistics(kept))
        result.samples = kept
        return result
    }
}

extension ContenderResult {
    /// The paired difference `self - other`, run by run: the contenders were alternated, so
    /// run i of each saw the same state of the machine.
    func minus(_ other: ContenderResult, name: String, detail: String) -> ContenderResult {
        var result = ContenderResult(
            name: name, detail: detail, isSwiftLXC: isSwiftLXC, outcome: .skipped("not run"))
        switch (outcome, other.outcome) {
        case (.measured, .measured):
            let count = min(samples.count, other.samples.count)
            let differences = (0..<count).map { Double(samples[$0]) - Double(other.samples[$0]) }
            result.outcome = .measured(Statistics(values: differences))
        case (.failed(let error), _), (_, .failed(let error)): result.outcome = .failed(error)
        case (.skipped(let reason), _), (_, .skipped(let reason)):
            result.outcome = .skipped(reason)
        }
        return result
    }
}
