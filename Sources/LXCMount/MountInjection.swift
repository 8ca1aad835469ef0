import CShim
import Glibc
import LXCSystem

/// Mounts added to and removed from a running container (LXC's `mount_injection`).
///
/// The mount is made on the host as a detached tree (`DetachedMount`), so the source is
/// resolved with the host's view and the kernel checks it there. A vfork-style child
/// (`shim_inject` in `CShim`) then joins the container's mount namespace through its init's
/// pidfd and attaches the tree with `move_mount` onto a target resolved inside the
/// container's root with `RESOLVE_IN_ROOT`: no symlink in the container can send the
/// mount to a host path. The caller's own namespaces never change.
public enum MountInjection {
    /// Attaches `tree` at `target` inside the container of `pidfd`. Missing components of
    /// the target are made per `create` (the last one a file for `.file`).
    public static func attach(
        _ tree: borrowing FileDescriptor, at target: String, in pidfd: Int32,
        create: CreateMode = .directory
    ) throws(SyscallError) {
        try run(pidfd: pidfd, tree: tree.rawValue, target: target, create: create, flags: 0)
    }

    /// Unmounts `target` inside the container of `pidfd` with `umount2` flags
    /// (`MNT_DETACH`, `MNT_FORCE`…).
    public static func detach(_ target: String, in pidfd: Int32, flags: Int32 = 0)
        throws(SyscallError)
    {
        try run(pidfd: pidfd, tree: -1, target: target, create: .none, flags: flags)
    }

    private static func run(
        pidfd: Int32, tree: Int32, target: String, create: CreateMode, flags: Int32
    ) throws(SyscallError) {
        guard target.hasPrefix("/") else {
            throw SyscallError(
                .EINVAL, call: "mount injection", object: "\(target) is not absolute")
        }
        let createMode: Int32
        switch create {
        case .none: createMode = Int32(SHIM_INJECT_CREATE_NONE.rawValue)
        case .directory: createMode = Int32(SHIM_INJECT_CREATE_DIRECTORY.rawValue)
        case .file: createMode = Int32(SHIM_INJECT_CREATE_FILE.rawValue)
        }
        var result = shim_inject_result()
        let status = target.withCString { path in
            var request = shim_inject_request(
                pidfd: pidfd, tree_fd: tree, target: path, create: createMode, umount_flags: flags)
            return shim_inject(&request, &result)
        }
        guard status != 0 else { return }
        let call: String
        switch UInt32(result.stage) {
        case SHIM_INJECT_STAGE_SETNS.rawValue: call = "setns"
        case SHIM_INJECT_STAGE_TARGET.rawValue: call = "openat2"
        case SHIM_INJECT_STAGE_MOUNT.rawValue: call = tree >= 0 ? "move_mount" : "umount2"
        default: call = "clone"
        }
        throw SyscallError(
            Errno(rawValue: result.error), call: call, object: "\(target) in the container")
    }
}
