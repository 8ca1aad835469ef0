import Glibc
import LXCSystem

/// `lxc.console.logfile`: the console's output appended to a file, limited to
/// `lxc.console.size` bytes when that is set. A full file is renamed to `<path>.1` and begun
/// again when `lxc.console.rotate` is set, and emptied otherwise, as LXC does.
public final class ConsoleLogFile {
    public let path: String
    /// The size limit in bytes; 0 for none.
    public let sizeLimit: Int
    public let rotate: Bool
    private var fd: Int32

    /// Opens (creating, mode 0600) `path` for appending.
    public init(path: String, sizeLimit: UInt64 = 0, rotate: Bool = false) throws(SyscallError) {
        self.path = path
        self.sizeLimit = Int(clamping: sizeLimit)
        self.rotate = rotate
        fd = try Self.open(path)
    }

    deinit {
        _ = close(fd)
    }

    private static func open(_ path: String) throws(SyscallError) -> Int32 {
        try check(
            Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600), "open",
            "console log file \(path)")
    }

    /// Appends `bytes`, rotating or emptying the file when the limit is reached. Of a write
    /// longer than the whole limit only the newest `sizeLimit` bytes are kept.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SyscallError) {
        guard var source = bytes.baseAddress, bytes.count > 0 else { return }
        var length = bytes.count
        guard sizeLimit > 0 else {
            try writeAll(source, length)
            return
        }
        var status = stat()
        _ = try check(fstat(fd, &status), "fstat", path)
        let left = max(0, sizeLimit - Int(status.st_size))
        if length <= left {
            try writeAll(source, length)
            return
        }
        try writeAll(source, left)
        source += left
        length -= left
        try startOver()
        if length > sizeLimit {
            source += length - sizeLimit
            length = sizeLimit
        }
        try writeAll(source, length)
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws(SyscallError) {
        var failure: SyscallError?
        bytes.withUnsafeBytes { buffer in
            do throws(SyscallError) {
                try write(buffer)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// The full file becomes `<path>.1` (rotate) or is emptied.
    private func startOver() throws(SyscallError) {
        guard rotate else {
            _ = try check(ftruncate(fd, 0), "ftruncate", path)
            return
        }
        _ = close(fd)
        fd = -1
        _ = try check(rename(path, path + ".1"), "rename", "\(path) to \(path).1")
        fd = try Self.open(path)
    }

    private func writeAll(_ start: UnsafeRawPointer, _ length: Int) throws(SyscallError) {
        var offset = 0
        while offset < length {
            let written = Glibc.write(fd, start + offset, length - offset)
            if written < 0 && errno == EINTR { continue }
            offset += try check(written, "write", path)
        }
    }
}
