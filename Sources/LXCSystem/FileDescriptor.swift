import CShim
import Glibc

/// An open file descriptor that closes itself when its owner ends.
///
/// It is `~Copyable`: exactly one owner exists. Pass it `borrowing` to use it, and `consuming`
/// to hand it on; `release()` ends ownership explicitly (for an fd map or a C caller).
public struct FileDescriptor: ~Copyable, Sendable {
    /// The kernel's number for the descriptor. Valid while this owner lives.
    public let rawValue: Int32

    /// Takes ownership of `rawValue`; it will be closed when this value ends.
    public init(owning rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        // close(2) must not be retried on EINTR on Linux: the fd is gone either way.
        _ = Glibc.close(rawValue)
    }

    /// Hands the number on without closing it; the caller now owns it.
    public consuming func release() -> Int32 {
        let value = rawValue
        discard self
        return value
    }

    /// Closes now and reports the error that `deinit` would have dropped.
    public consuming func close() throws(SyscallError) {
        let value = release()
        _ = try check(Glibc.close(value), "close", "fd \(value)")
    }

    /// A new descriptor for the same open file (`F_DUPFD_CLOEXEC`).
    public borrowing func duplicate(atLeast minimum: Int32 = 0) throws(SyscallError)
        -> FileDescriptor
    {
        let fd = try check(fcntl(rawValue, F_DUPFD_CLOEXEC, minimum), "fcntl F_DUPFD_CLOEXEC")
        return FileDescriptor(owning: fd)
    }

    /// Sets or clears `FD_CLOEXEC`.
    public borrowing func setCloseOnExec(_ on: Bool) throws(SyscallError) {
        _ = try check(fcntl(rawValue, F_SETFD, on ? FD_CLOEXEC : 0), "fcntl F_SETFD")
    }

    /// Sets or clears `O_NONBLOCK`.
    public borrowing func setNonBlocking(_ on: Bool) throws(SyscallError) {
        let flags = try check(fcntl(rawValue, F_GETFL), "fcntl F_GETFL")
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        _ = try check(fcntl(rawValue, F_SETFL, wanted), "fcntl F_SETFL")
    }
}

// MARK: - Opening

/// Flags for `openat2(2)`'s `resolve` field.
public struct ResolveFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Absolute paths and `..` stay inside the directory, as if it were `/`.
    public static let inRoot = ResolveFlags(rawValue: UInt64(RESOLVE_IN_ROOT))
    /// Fail with EXDEV when resolution would leave the directory.
    public static let beneath = ResolveFlags(rawValue: UInt64(RESOLVE_BENEATH))
    /// Refuse `/proc/<pid>/fd`-style magic links.
    public static let noMagicLinks = ResolveFlags(rawValue: UInt64(RESOLVE_NO_MAGICLINKS))
    /// Refuse every symlink.
    public static let noSymlinks = ResolveFlags(rawValue: UInt64(RESOLVE_NO_SYMLINKS))
    /// Refuse crossing a mount point.
    public static let noCrossingMounts = ResolveFlags(rawValue: UInt64(RESOLVE_NO_XDEV))
}

extension FileDescriptor {
    /// `open(2)` with `O_CLOEXEC` always added.
    public static func open(
        _ path: String, _ flags: Int32, mode: mode_t = 0o644
    ) throws(SyscallError) -> FileDescriptor {
        let fd = try check(Glibc.open(path, flags | O_CLOEXEC, mode), "open", path)
        return FileDescriptor(owning: fd)
    }

    /// `openat(2)` relative to this directory, with `O_CLOEXEC` always added.
    public borrowing func openAt(
        _ path: String, _ flags: Int32, mode: mode_t = 0o644
    ) throws(SyscallError) -> FileDescriptor {
        let fd = try check(Glibc.openat(rawValue, path, flags | O_CLOEXEC, mode), "openat", path)
        return FileDescriptor(owning: fd)
    }

    /// `openat2(2)`: opens `path` relative to this directory under `resolve`'s rules.
    ///
    /// With `.inRoot`, symlinks and `..` are resolved as if this directory were the root, so a
    /// container's rootfs cannot send the runtime to a host path.
    public borrowing func openAt2(
        _ path: String, _ flags: Int32, mode: mode_t = 0, resolve: ResolveFlags
    ) throws(SyscallError) -> FileDescriptor {
        var how = open_how()
        how.flags = UInt64(UInt32(bitPattern: flags | O_CLOEXEC))
        how.mode =
            (flags & O_CREAT) != 0 || (flags & O_TMPFILE_FLAG) == O_TMPFILE_FLAG
            ? UInt64(mode) : 0
        how.resolve = resolve.rawValue
        // EAGAIN means a rename or mount raced with the `..` checks: the kernel asks for a
        // retry. Other containers mounting at the same time make this common.
        for _ in 0..<1000 {
            let fd = withUnsafePointer(to: &how) { how in
                path.withCString { path in
                    // The kernel reads `size` bytes of open_how; both stay alive for the call.
                    shim_syscall6(
                        Int(SYS_openat2), Int(rawValue), Int(bitPattern: path),
                        Int(bitPattern: how), MemoryLayout<open_how>.size, 0, 0)
                }
            }
            if fd < 0 && Errno.current == .EAGAIN { continue }
            return FileDescriptor(owning: Int32(try check(fd, "openat2", path)))
        }
        throw SyscallError(.EAGAIN, call: "openat2", object: path)
    }
}

/// `O_TMPFILE` as the kernel spells it (`__O_TMPFILE | O_DIRECTORY`); glibc hides it.
let O_TMPFILE_FLAG: Int32 = 0o20_000_000 | O_DIRECTORY

// MARK: - Reading and writing

extension FileDescriptor {
    /// One `read(2)` into `buffer`, retried on EINTR. Returns the count; 0 is end of file.
    public borrowing func read(into buffer: UnsafeMutableRawBufferPointer) throws(SyscallError)
        -> Int
    {
        try retryingOnInterrupt { () throws(SyscallError) -> Int in
            try check(Glibc.read(rawValue, buffer.baseAddress, buffer.count), "read")
        }
    }

    /// Reads until end of file.
    public borrowing func readAll(chunk: Int = 4096) throws(SyscallError) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let count = try retryingOnInterrupt { () throws(SyscallError) -> Int in
                let count = buffer.withUnsafeMutableBytes {
                    Glibc.read(rawValue, $0.baseAddress, $0.count)
                }
                return try check(count, "read")
            }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
        }
    }

    /// Writes every byte, looping over short writes and EINTR.
    public borrowing func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SyscallError) {
        var offset = 0
        while offset < bytes.count {
            let written = try retryingOnInterrupt { () throws(SyscallError) -> Int in
                try check(
                    Glibc.write(rawValue, bytes.baseAddress! + offset, bytes.count - offset),
                    "write")
            }
            offset += written
        }
    }

    /// Writes every byte of `bytes`.
    public borrowing func writeAll(_ bytes: [UInt8]) throws(SyscallError) {
        var offset = 0
        while offset < bytes.count {
            let written = try retryingOnInterrupt { () throws(SyscallError) -> Int in
                let count = bytes.withUnsafeBytes {
                    Glibc.write(rawValue, $0.baseAddress! + offset, $0.count - offset)
                }
                return try check(count, "write")
            }
            offset += written
        }
    }

    /// Writes the UTF-8 of `text`.
    public borrowing func writeAll(_ text: String) throws(SyscallError) {
        try writeAll(Array(text.utf8))
    }
}

// MARK: - Whole files

/// Small helpers for the one-value files of procfs, sysfs and cgroupfs.
public enum FileContents {
    /// The whole file as bytes.
    public static func read(_ path: String) throws(SyscallError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        do {
            return try fd.readAll()
        } catch {
            throw SyscallError(error.errno, call: "read", object: path)
        }
    }

    /// The whole file as UTF-8 text.
    public static func readText(_ path: String) throws(SyscallError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Writes `text` in one `write(2)`, as kernel interface files expect.
    public static func write(_ text: String, to path: String, flags: Int32 = O_WRONLY)
        throws(SyscallError)
    {
        let fd = try FileDescriptor.open(path, flags)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) }
        _ = try check(written, "write", path)
    }
}
