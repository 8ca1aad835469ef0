import Foundation

/// Where the golden fixtures live: beside this file, so tests need no bundle lookup.
enum Fixtures {
    static let directory: String = {
        let file = #filePath
        guard let slash = file.lastIndex(of: "/") else { return "Fixtures" }
        return String(file[..<slash]) + "/Fixtures"
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: path(name), encoding: .utf8)
    }
}

/// A fresh scratch directory under /tmp.
func scratchDirectory() -> String {
    let path = "/tmp/lxcconfig-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs a program and returns its exit status and standard output.
func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// True when Debian's python3 can import python3-lxc.
let pythonHasLXC: Bool = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return false }
    return (try? run("/usr/bin/python3", ["-c", "import lxc"]).status) == 0
}()
