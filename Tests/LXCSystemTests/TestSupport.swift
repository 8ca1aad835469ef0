import Glibc

@testable import LXCSystem

/// A directory under /tmp removed with its contents when the value ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/swiftlxc-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw SyscallError(.current, call: "mkdtemp", object: "/tmp")
        }
        path = String(cString: made)
    }

    deinit {
        _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", path]))
    }

    /// Writes `text` to `relative`, creating parent directories.
    func write(_ text: String, to relative: String) throws {
        let components = relative.split(separator: "/").dropLast()
        var current = path
        for component in components {
            current += "/\(component)"
            _ = mkdir(current, 0o755)
        }
        try FileContents.write(text, to: "\(path)/\(relative)", flags: O_WRONLY | O_CREAT | O_TRUNC)
    }
}

/// Runs `request` with its stdout captured, and returns the output and how it ended.
func runCapturing(_ request: SpawnRequest) throws -> (output: String, status: TerminationStatus) {
    let pipe = try Pipe()
    var request = request
    request.fileMap = [-1, pipe.writeEnd.rawValue, 2]
    let child = try Spawn.start(request)
    try pipe.writeEnd.close()
    let output = try pipe.readEnd.readAll()
    return (String(decoding: output, as: UTF8.self), try child.wait())
}
