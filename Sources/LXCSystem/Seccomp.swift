import CShim
import Glibc

// The system-call half of seccomp: the host compiles policies with libseccomp (LXCSeccomp),
// and the container-side stage, which links neither libseccomp nor Foundation, installs the
// program with these raw calls.

/// Installs a BPF program compiled on the host with `seccomp(2)` itself.
public enum SeccompInstaller {
    /// `SECCOMP_SET_MODE_FILTER` from `<linux/seccomp.h>`.
    static let setModeFilter = 1
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
    static let newListenerFlag: UInt32 = 1 << 3
    /// The kernel's limit on one program (`BPF_MAXINSNS`).
    static let maximumInstructions = 4096

    /// Installs `program` (8-byte `struct sock_filter` instructions in native byte order) on
    /// the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog)`.
    ///
    /// The caller must have set `no_new_privs` or hold CAP_SYS_ADMIN (else EACCES). With
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER` in `flags` the kernel returns the listener, which is
    /// close-on-exec; otherwise the result is nil. Throws `seccomp` errors with the kernel's
    /// errno: EINVAL for a malformed program or flag, EACCES, EBUSY for a second listener.
    public static func install(program: [UInt8], flags: UInt32) throws(SyscallError)
        -> FileDescriptor?
    {
        let count = program.count / 8
        guard program.count % 8 == 0, count > 0, count <= maximumInstructions else {
            throw SyscallError(
                .EINVAL, call: "seccomp", object: "filter program of \(program.count) bytes")
        }
        var instructions = [sock_filter](repeating: sock_filter(), count: count)
        instructions.withUnsafeMutableBytes { target in
            program.withUnsafeBytes { source in target.copyMemory(from: source) }
        }
        let result = instructions.withUnsafeMutableBufferPointer { buffer in
            var fprog = sock_fprog(len: UInt16(count), filter: buffer.baseAddress)
            // The kernel copies the program during the call; fprog and the buffer outlive it.
            return withUnsafeMutablePointer(to: &fprog) { fprog in
                shim_syscall6(
                    Int(SYS_seccomp), setModeFilter, Int(flags), Int(bitPattern: fprog), 0, 0, 0)
            }
        }
        let value = try check(result, "seccomp", "SECCOMP_SET_MODE_FILTER flags \(flags)")
        guard flags & newListenerFlag != 0 else { return nil }
        return FileDescriptor(owning: Int32(value))
    }

    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`, which lets an unprivileged caller install a filter.
    public static func setNoNewPrivileges() throws(SyscallError) {
        try ProcessControl.prctl(PR_SET_NO_NEW_PRIVS, 1)
    }

    /// Whether this process already runs under seccomp (`Seccomp:` in `/proc/self/status` is
    /// not 0). LXC loads no second policy then unless `lxc.seccomp.allow_nesting` is set.
    public static func isFiltered() -> Bool {
        (statusField("Seccomp:") ?? 0) != 0
    }

    /// The number of filters stacked on this process (`Seccomp_filters:`), nil when the
    /// kernel does not say.
    public static func filterCount() -> Int? {
        statusField("Seccomp_filters:")
    }

    private static func statusField(_ name: String) -> Int? {
        guard let status = try? FileContents.readText("/proc/self/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.dropFirst(name.count).filter { $0 != " " && $0 != "\t" })
        }
        return nil
    }
}
