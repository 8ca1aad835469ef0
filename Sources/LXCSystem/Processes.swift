import CShim
import Glibc

/// How a process ended.
public enum TerminationStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// The status a shell reports: the exit code, or 128 + the signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    /// Decodes a `waitpid(2)` status word.
    public init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        }
    }
}

/// A process known by a pidfd, which cannot be confused with a later process of the same pid.
public struct PIDFD: ~Copyable, Sendable {
    public let pid: pid_t
    public let fd: FileDescriptor

    public init(pid: pid_t, fd: consuming FileDescriptor) {
        self.pid = pid
        self.fd = fd
    }

    /// `pidfd_open(2)` for `pid`.
    public static func open(_ pid: pid_t) throws(SyscallError) -> PIDFD {
        let fd = try check(pidfd_open(pid, 0), "pidfd_open", "pid \(pid)")
        return PIDFD(pid: pid, fd: FileDescriptor(owning: fd))
    }

    /// `pidfd_send_signal(2)`.
    public func signal(_ signal: Int32) throws(SyscallError) {
        _ = try check(
            pidfd_send_signal(fd.rawValue, signal, nil, 0), "pidfd_send_signal",
            "pid \(pid)")
    }

    /// Whether the process has ended, without waiting (`poll` on the pidfd).
    public func hasExited() -> Bool {
        var entry = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    /// Waits up to `milliseconds` (-1: forever) for the process to end; true when it has.
    public func waitForExit(milliseconds: Int32) throws(SyscallError) -> Bool {
        var entry = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        let ready = try retryingOnInterrupt { () throws(SyscallError) -> Int32 in
            try check(poll(&entry, 1, milliseconds), "poll", "pidfd of pid \(pid)")
        }
        return ready == 1
    }

    /// `waitid(P_PIDFD, WEXITED)`: waits for and reaps the process (it must be our child).
    public func wait() throws(SyscallError) -> TerminationStatus {
        var info = siginfo_t()
        try retryingOnInterrupt { () throws(SyscallError) in
            _ = try check(
                waitid(idtype_t(rawValue: 3), id_t(fd.rawValue), &info, WEXITED),
                "waitid", "pid \(pid)")
        }
        let status = info._sifields._sigchld.si_status
        switch info.si_code {
        case Int32(CLD_EXITED): return .exited(status)
        default: return .signaled(status)
        }
    }
}

/// Process-wide calls that have no better home.
public enum ProcessControl {
    /// `prctl(2)`, which is variadic in C and reached through the fixed-arity shim.
    @discardableResult
    public static func prctl(
        _ option: Int32, _ a2: UInt = 0, _ a3: UInt = 0, _ a4: UInt = 0, _ a5: UInt = 0
    ) throws(SyscallError) -> Int {
        let result = shim_syscall6(
            Int(SYS_prctl), Int(option), Int(bitPattern: a2), Int(bitPattern: a3),
            Int(bitPattern: a4), Int(bitPattern: a5), 0)
        return try check(result, "prctl", "option \(option)")
    }

    /// `memfd_create(2)` with `MFD_CLOEXEC` added.
    public static func memfd(_ name: String, flags: UInt32 = 0) throws(SyscallError)
        -> FileDescriptor
    {
        let fd = try check(memfd_create(name, flags | UInt32(MFD_CLOEXEC)), "memfd_create", name)
        return FileDescriptor(owning: fd)
    }

    /// A memfd holding `bytes`, sealed against every change: what a reader gets is what was
    /// written, and the writer cannot alter it afterwards.
    /// The whole contents of a memfd received from another process (its offset may be
    /// anywhere: the sender wrote it), read with `pread` from the start.
    public static func contents(of memory: borrowing FileDescriptor) throws(SyscallError)
        -> [UInt8]
    {
        var status = stat()
        _ = try check(fstat(memory.rawValue, &status), "fstat", "memfd")
        let count = Int(status.st_size)
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes {
                pread(memory.rawValue, $0.baseAddress! + done, count - done, off_t(done))
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw SyscallError(got < 0 ? .current : .EIO, call: "pread", object: "memfd")
            }
            done += got
        }
        return bytes
    }

    public static func sealedMemfd(_ name: String, contents bytes: [UInt8]) throws(SyscallError)
        -> FileDescriptor
    {
        // MFD_ALLOW_SEALING, F_ADD_SEALS and the seals, which glibc hides behind _GNU_SOURCE.
        let allowSealing: UInt32 = 0x2
        let addSeals: Int32 = 1033
        let seals: Int32 = 0x1 | 0x2 | 0x4 | 0x8  // SEAL, SHRINK, GROW, WRITE
        let memory = try memfd(name, flags: allowSealing)
        try memory.writeAll(bytes)
        _ = try check(fcntl(memory.rawValue, addSeals, seals), "fcntl F_ADD_SEALS", name)
        return memory
    }

    /// A sealed memfd holding a copy of the file at `path` (an executable to run from it):
    /// the copy is made in the kernel (`copy_file_range`, `sendfile` where that is refused)
    /// and sealed against every change, so a process that runs it cannot reach the file.
    public static func sealedMemfd(_ name: String, copying path: String) throws(SyscallError)
        -> FileDescriptor
    {
        let allowSealing: UInt32 = 0x2
        let addSeals: Int32 = 1033
        let seals: Int32 = 0x1 | 0x2 | 0x4 | 0x8  // SEAL, SHRINK, GROW, WRITE
        let source = try FileDescriptor.open(path, O_RDONLY)
        var info = stat()
        _ = try check(fstat(source.rawValue, &info), "fstat", path)
        let memory = try memfd(name, flags: allowSealing)
        var remaining = Int(info.st_size)
        var useSendfile = false
        while remaining > 0 {
            var copied: Int
            if useSendfile {
                copied = sendfile(memory.rawValue, source.rawValue, nil, remaining)
            } else {
                // glibc declares copy_file_range only under _GNU_SOURCE.
                copied = shim_syscall6(
                    Int(SYS_copy_file_range), Int(source.rawValue), 0, Int(memory.rawValue), 0,
                    remaining, 0)
                if copied < 0 && [.EXDEV, .EINVAL, .ENOSYS, .EOPNOTSUPP].contains(Errno.current) {
                    useSendfile = true
                    continue
                }
            }
            if copied < 0 && Errno.current == .EINTR { continue }
            if copied == 0 {
                throw SyscallError(.EIO, call: "copy_file_range", object: "\(path): file shrank")
            }
            _ = try check(copied, useSendfile ? "sendfile" : "copy_file_range", path)
            remaining -= copied
        }
        _ = try check(fcntl(memory.rawValue, addSeals, seals), "fcntl F_ADD_SEALS", name)
        return memory
    }

    /// `close_range(2)`. `closeOnExec` marks the range instead of closing it.
    public static func closeRange(
        from first: UInt32, through last: UInt32 = .max,
        closeOnExec: Bool = false
    ) throws(SyscallError) {
        let flags = closeOnExec ? Int32(CLOSE_RANGE_CLOEXEC) : 0
        _ = try check(close_range(first, last, flags), "close_range", "from fd \(first)")
    }

    /// The number of threads in this process, from `/proc/self/status`.
    public static func threadCount() -> Int {
        guard let status = try? FileContents.readText("/proc/self/status") else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
            return Int(line.dropFirst(8).trimmingSpaces()) ?? -1
        }
        return -1
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
