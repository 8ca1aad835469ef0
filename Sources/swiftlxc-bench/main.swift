import Glibc
import LXCSystem

// swiftlxc-bench: runs the scenarios, prints the table and writes the report files.
// It stays single-threaded (no Dispatch, no async): the spawn scenario forks, and a fork of a
// multithreaded process may inherit a lock held by another thread. The one exception, the
// seccomp-notify scenario's proxy thread, is joined before that scenario returns.

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    progress(error.message)
    exit(error.message == Options.usage ? 0 : 2)
}

let devNull: FileDescriptor
do {
    devNull = try FileDescriptor.open("/dev/null", O_RDWR)
} catch {
    progress("\(error)")
    exit(1)
}
if let path = options.runsLog {
    do {
        Harness.runLog = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC)
    } catch {
        progress("\(path): \(error)")
        exit(1)
    }
}
if getuid() != 0 { progress("not root: namespaces and peer runtimes will fail") }

let settings = RunSettings(
    runs: options.runs, warmups: options.warmups,
    settleMilliseconds: options.settleMilliseconds)
let swiftlxcPath = options.swiftlxcPath ?? Options.defaultSwiftLXCPath()
let machine = MachineInfo.collect(swiftlxcPath: swiftlxcPath, devNull: devNull.rawValue)
let context = BenchContext(
    settings: settings, swiftlxcPath: swiftlxcPath, peersDirectory: options.peersDirectory,
    largeParentMiB: options.largeParentMiB, devNull: devNull)

var groups: [ScenarioResult] = []
for scenario in Scenarios.all where options.only?.contains(scenario.id) ?? true {
    progress("scenario \(scenario.id)")
    for group in scenario.run(context) {
        if let reason = group.skipped { print("skipped: \(group.id): \(reason)") }
        groups.append(group)
    }
}

var finished = machine
finished.loadAtEnd = MachineInfo.loadAverage()
let report = Report(
    machine: finished, settings: settings, quick: options.quick, commit: options.commit,
    groups: groups)
print(report.text(), terminator: "")

if let directory = options.outputDirectory {
    do {
        try writeReport(report, to: directory)
        progress("wrote \(directory)/latest.{json,svg,md}")
    } catch {
        progress("\(error)")
        exit(1)
    }
}

/// Writes the three report files, creating `directory` and its parents when needed.
func writeReport(_ report: Report, to directory: String) throws(SyscallError) {
    var prefix = directory.hasPrefix("/") ? "" : "."
    for component in directory.split(separator: "/") {
        prefix += "/\(component)"
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw SyscallError(.current, call: "mkdir", object: prefix)
        }
    }
    let files = [
        ("latest.json", report.json()), ("latest.svg", report.svg()),
        ("latest.md", report.markdown()),
    ]
    for (name, text) in files {
        let path = "\(directory)/\(name)"
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try fd.writeAll(text)
        } catch {
            throw SyscallError(error.errno, call: "write", object: path)
        }
    }
}
