import Glibc
import LXCSystem

/// The machine and software a report was measured on: numbers from different machines are
/// not comparable, so every report carries these.
struct MachineInfo {
    var cpuModel: String
    var cores: Int
    var kernel: String
    var memoryMiB: Int
    var transparentHugePages: String
    /// UTC, ISO 8601.
    var date: String
    /// Program name and its version line, in report order.
    var versions: [(name: String, version: String)]
    /// The 1, 5 and 15 minute load averages when the bench began and when it ended: on a
    /// shared machine they say how much else was running.
    var loadAtStart: String
    var loadAtEnd = ""

    /// The first three fields of /proc/loadavg.
    static func loadAverage() -> String {
        let text = (try? FileContents.readText("/proc/loadavg")) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func collect(swiftlxcPath: String, devNull: Int32) -> MachineInfo {
        let cpuinfo = (try? FileContents.readText("/proc/cpuinfo")) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { String($0.trimmingPrefix(" ")) } ?? "unknown"

        let meminfo = (try? FileContents.readText("/proc/meminfo")) ?? ""
        let memoryKiB =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Int(String($0.filter(\.isNumber))) } ?? 0

        var names = utsname()
        uname(&names)
        let kernel = withUnsafeBytes(of: &names.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }

        // The bracketed word is the mode in force: "always [madvise] never".
        let thpText =
            (try? FileContents.readText("/sys/kernel/mm/transparent_hugepage/enabled")) ?? ""
        let thp = thpText.split(separator: "[").last?.split(separator: "]").first.map(String.init)

        let versionCommands: [(String, String?, [String])] = [
            ("swift", ExternalCommand.find("swift"), ["swift", "--version"]),
            (
                "swiftlxc", access(swiftlxcPath, X_OK) == 0 ? swiftlxcPath : nil,
                ["swiftlxc", "version"]
            ),
            ("crun", ExternalCommand.find("crun"), ["crun", "--version"]),
            ("runc", ExternalCommand.find("runc"), ["runc", "--version"]),
            ("lxc", ExternalCommand.find("lxc-execute"), ["lxc-execute", "--version"]),
        ]
        let versions = versionCommands.map { name, path, arguments in
            guard let path else { return (name, "not installed") }
            let command = ExternalCommand(path: path, arguments: arguments)
            guard let (status, output) = try? command.capture(devNull: devNull),
                status == .exited(0),
                let first = output.split(separator: "\n").first
            else { return (name, "unknown") }
            return (name, String(first))
        }

        return MachineInfo(
            cpuModel: model, cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), kernel: kernel,
            memoryMiB: memoryKiB / 1024, transparentHugePages: thp ?? "unknown",
            date: utcNow(), versions: versions, loadAtStart: loadAverage())
    }

    private static func utcNow() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
