import Glibc
import LXCSystem

/// The log category of this module, as LXC's `cgfsng`.
let log = Logger("cgroup")

/// The file operations on cgroupfs, each failure turned into a `CgroupError` naming the file.
enum CgroupFiles {
    /// Writes `value` in one `write(2)`, as cgroupfs parses one value per write.
    ///
    /// `O_TRUNC` is what a shell's `>` does: cgroupfs ignores it, and a plain-file model of
    /// the tree then holds exactly the last value written.
    static func write(_ value: String, to path: String) throws(CgroupError) {
        log.debug("write \(path) = \(value)")
        let fd = Glibc.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        if fd < 0 {
            let errno = Errno.current
            if errno == .ENOENT {
                throw .unknownFile(lastComponent(of: path), path: path)
            }
            throw .write(path: path, value: value, errno: errno)
        }
        defer { _ = Glibc.close(fd) }

        let bytes = Array(value.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written < 0 {
            throw .write(path: path, value: value, errno: Errno.current)
        }
    }

    /// The whole file as text, without its trailing newline.
    static func read(_ path: String) throws(CgroupError) -> String {
        do {
            var text = try FileContents.readText(path)
            while text.last == "\n" { text.removeLast() }
            return text
        } catch {
            if error.errno == .ENOENT {
                throw .unknownFile(lastComponent(of: path), path: path)
            }
            throw .read(path: path, errno: error.errno)
        }
    }

    /// The file as text, or nil when it does not exist or cannot be read.
    static func readIfPresent(_ path: String) -> String? {
        try? read(path)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `mkdir(2)`; false when the directory already existed.
    static func makeDirectory(_ path: String) throws(CgroupError) -> Bool {
        if mkdir(path, 0o755) == 0 { return true }
        let errno = Errno.current
        if errno == .EEXIST { return false }
        throw .system(SyscallError(errno, call: "mkdir", object: path))
    }

    /// Removes `path` and any cgroups below it, deepest first.
    ///
    /// The kernel answers EBUSY for a moment after the last process left (its exit is still
    /// being accounted), so that is retried for up to about a second.
    static func removeTree(_ path: String) throws(CgroupError) {
        for child in subdirectories(of: path) {
            try removeTree(path + "/" + child)
        }
        var attempts = 0
        while rmdir(path) != 0 {
            let errno = Errno.current
            if errno == .ENOENT { return }
            if errno == .EBUSY && attempts < 100 {
                attempts += 1
                usleep(10_000)
                continue
            }
            throw .system(SyscallError(errno, call: "rmdir", object: path))
        }
    }

    /// Names of the directories directly inside `path` (child cgroups on cgroupfs).
    static func subdirectories(of path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) { names.append(name) }
        }
        return names.sorted()
    }

    /// Pids listed in a `cgroup.procs` file; empty when the file is gone.
    static func processes(in directory: String) -> [pid_t] {
        guard let text = readIfPresent(directory + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Sleeps `milliseconds`; used only in bounded polling loops.
    static func pause(milliseconds: Int) {
        usleep(UInt32(milliseconds * 1000))
    }
}
