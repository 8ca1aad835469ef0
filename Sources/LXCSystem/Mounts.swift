import CShim
import Glibc

/// Mount calls, the classic ones and the new mount API (`open_tree`, `move_mount`, `fsopen`,
/// `fsconfig`, `fsmount`, `mount_setattr`).
public enum Mounts {
    /// `mount(2)`. `data` is the filesystem's option string.
    public static func mount(
        source: String?, target: String, type: String? = nil, flags: UInt = 0,
        data: String? = nil
    ) throws(SyscallError) {
        let result = withOptionalCString(source) { source in
            withOptionalCString(type) { type in
                withOptionalCString(data) { data in
                    Glibc.mount(source, target, type, flags, data)
                }
            }
        }
        _ = try check(result, "mount", describe(source: source, type: type, target: target))
    }

    /// `umount2(2)`.
    public static func unmount(_ target: String, flags: Int32 = 0) throws(SyscallError) {
        _ = try check(umount2(target, flags), "umount2", target)
    }

    /// `pivot_root(2)`: makes `newRoot` the root and moves the old root to `putOld`.
    public static func pivotRoot(_ newRoot: String, putOld: String) throws(SyscallError) {
        let result = newRoot.withCString { new in
            putOld.withCString { old in
                shim_syscall6(
                    Int(SYS_pivot_root), Int(bitPattern: new), Int(bitPattern: old), 0, 0, 0, 0)
            }
        }
        _ = try check(result, "pivot_root", newRoot)
    }

    /// `open_tree(2)`: a mount fd for `path`; with `OPEN_TREE_CLONE` a detached copy.
    public static func openTree(
        _ path: String, relativeTo directory: Int32 = AT_FDCWD, flags: UInt32
    ) throws(SyscallError) -> FileDescriptor {
        let fd = try check(
            open_tree(directory, path, flags | UInt32(OPEN_TREE_CLOEXEC)), "open_tree", path)
        return FileDescriptor(owning: fd)
    }

    /// `move_mount(2)` of a detached mount fd onto `target`.
    public static func move(
        _ mount: borrowing FileDescriptor, to target: String,
        relativeTo directory: Int32 = AT_FDCWD, flags: UInt32 = 0
    ) throws(SyscallError) {
        let result = move_mount(
            mount.rawValue, "", directory, target, flags | UInt32(MOVE_MOUNT_F_EMPTY_PATH))
        _ = try check(result, "move_mount", target)
    }

    /// `mount_setattr(2)` on a mount fd: sets and clears `MOUNT_ATTR_*` flags, optionally
    /// across the whole tree, and an idmapping from a user namespace fd.
    public static func setAttributes(
        _ mount: borrowing FileDescriptor, set: UInt64, clear: UInt64 = 0,
        propagation: UInt64 = 0, userNamespace: Int32? = nil, recursive: Bool = false
    ) throws(SyscallError) {
        var attr = mount_attr()
        attr.attr_set = set
        // The kernel takes an atime mode only with the whole atime field cleared (EINVAL else).
        let atime = UInt64(MOUNT_ATTR__ATIME)
        attr.attr_clr = set & atime != 0 ? clear | atime : clear
        attr.propagation = propagation
        attr.userns_fd = UInt64(userNamespace ?? 0)
        let flags = UInt32(AT_EMPTY_PATH) | (recursive ? UInt32(AT_RECURSIVE) : 0)
        let result = mount_setattr(
            mount.rawValue, "", flags, &attr, MemoryLayout<mount_attr>.size)
        _ = try check(result, "mount_setattr", "fd \(mount.rawValue)")
    }

    /// A new filesystem context from `fsopen(2)`, to be configured and mounted.
    public static func openFilesystem(_ type: String) throws(SyscallError) -> FilesystemContext {
        let fd = try check(fsopen(type, UInt32(FSOPEN_CLOEXEC)), "fsopen", type)
        return FilesystemContext(type: type, fd: FileDescriptor(owning: fd))
    }

    private static func describe(source: String?, type: String?, target: String) -> String {
        let what = type ?? source ?? "none"
        return "\(what) onto \(target)"
    }
}

/// An `fsopen(2)` context. Its errors carry the kernel's own text, read from the context fd.
public struct FilesystemContext: ~Copyable {
    public let type: String
    public let fd: FileDescriptor

    /// `fsconfig(FSCONFIG_SET_STRING)`, or `FSCONFIG_SET_FLAG` when `value` is nil.
    public func set(_ key: String, _ value: String? = nil) throws(SyscallError) {
        let result: Int32
        if let value {
            result = fsconfig(fd.rawValue, FSCONFIG_SET_STRING.rawValue, key, value, 0)
        } else {
            result = fsconfig(fd.rawValue, FSCONFIG_SET_FLAG.rawValue, key, nil, 0)
        }
        if result < 0 { throw failure("fsconfig", "\(type) \(key)") }
    }

    /// `fsconfig(FSCONFIG_CMD_CREATE)` then `fsmount(2)`: a detached mount fd.
    public func mount(attributes: UInt32 = 0) throws(SyscallError) -> FileDescriptor {
        if fsconfig(fd.rawValue, FSCONFIG_CMD_CREATE.rawValue, nil, nil, 0) < 0 {
            throw failure("fsconfig create", type)
        }
        let mount = fsmount(fd.rawValue, UInt32(FSMOUNT_CLOEXEC), attributes)
        if mount < 0 { throw failure("fsmount", type) }
        return FileDescriptor(owning: mount)
    }

    /// Saves errno, then appends the kernel's message log (`e tmpfs: Unknown parameter …`).
    private func failure(_ call: String, _ object: String) -> SyscallError {
        let errno = Errno.current
        var detail = ""
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = buffer.withUnsafeMutableBytes {
                Glibc.read(fd.rawValue, $0.baseAddress, 255)
            }
            if count <= 0 { break }
            detail +=
                (detail.isEmpty ? "" : "; ") + String(decoding: buffer[0..<count], as: UTF8.self)
        }
        let object = detail.isEmpty ? object : "\(object) (\(detail))"
        return SyscallError(errno, call: call, object: object)
    }
}

/// Calls `body` with a C string for `value`, or nil.
@inline(__always)
func withOptionalCString<R>(_ value: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let value else { return body(nil) }
    return value.withCString { body($0) }
}
