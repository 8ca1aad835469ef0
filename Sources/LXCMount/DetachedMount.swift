import CShim
import Glibc
import LXCSystem

/// Mounts made with the new mount API before they are attached anywhere: nobody can see or
/// race them until `move_mount` puts them in place, and their attributes are already set.
public enum DetachedMount {
    /// A detached mount for `mount`: a clone of the bind source (recursive for `rbind`), or a
    /// new filesystem, with the mount's attributes.
    public static func make(_ mount: MountSpec) throws(SyscallError) -> FileDescriptor {
        guard mount.isBind else {
            return try filesystem(
                type: mount.type, source: mount.source, data: mount.options.data,
                attributes: mount.options.attributes)
        }
        var flags = UInt32(OPEN_TREE_CLONE)
        if mount.options.recursive { flags |= UInt32(AT_RECURSIVE) }
        let tree = try Mounts.openTree(mount.source, flags: flags)
        // Attributes go on the detached copy, before anyone can see it.
        if mount.options.attributes != 0 {
            try Mounts.setAttributes(
                tree, set: mount.options.attributes, recursive: mount.options.recursive)
        }
        return tree
    }

    /// `fsopen`, `fsconfig` for the source and each `key=value` or flag of `data`, `fsmount`.
    /// The kernel's own message for a refused option comes back in the error.
    public static func filesystem(
        type: String, source: String, data: [String], attributes: UInt64
    ) throws(SyscallError) -> FileDescriptor {
        let context = try Mounts.openFilesystem(type)
        if !source.isEmpty && source != "none" {
            try context.set("source", source)
        }
        for option in data {
            if let equals = option.firstIndex(of: "=") {
                let key = String(option[..<equals])
                try context.set(key, String(option[option.index(after: equals)...]))
            } else {
                try context.set(option)
            }
        }
        return try context.mount(attributes: UInt32(truncatingIfNeeded: attributes))
    }

    /// An idmapped clone of `source` (recursive with its submounts) for the user namespace
    /// `userNamespace`, with `attributes` set on it. The kernel wants CAP_SYS_ADMIN over the
    /// filesystem's own user namespace, so the host makes it, never the stage.
    public static func idmapped(
        _ source: String, recursive: Bool, attributes: UInt64,
        userNamespace: borrowing FileDescriptor
    ) throws(SyscallError) -> FileDescriptor {
        var flags = UInt32(OPEN_TREE_CLONE)
        if recursive { flags |= UInt32(AT_RECURSIVE) }
        let tree = try Mounts.openTree(source, flags: flags)
        try Mounts.setAttributes(
            tree, set: attributes | UInt64(MOUNT_ATTR_IDMAP), userNamespace: userNamespace.rawValue,
            recursive: recursive)
        return tree
    }

    /// The host's part of `idmap=`: the idmapped trees `plan` asks for, the rootfs's first and
    /// then each idmapped bind in order, as the stage takes them (`RootfsSetup(_:idmapped:)`).
    /// `container` is the container's user namespace (`/proc/PID/ns/user`, maps written). An
    /// `optional` bind whose source cannot be opened is dropped from `plan`.
    public static func idmappedTrees(for plan: inout RootfsPlan, container: String)
        throws(RootfsError) -> DescriptorList
    {
        let trees = DescriptorList()
        func namespace(_ value: String, key: String) throws(RootfsError) -> FileDescriptor {
            let path = value == "container" ? container : value
            do throws(SyscallError) {
                let fd = try FileDescriptor.open(path, O_RDONLY)
                // The kernel's EINVAL for any other file would not say what is wrong.
                var link = [UInt8](repeating: 0, count: 64)
                let count = link.withUnsafeMutableBytes {
                    readlink(
                        "/proc/self/fd/\(fd.rawValue)",
                        $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
                }
                guard count > 0, link[0..<count].starts(with: Array("user:[".utf8)) else {
                    throw SyscallError(
                        .EINVAL, call: "open", object: "\(path) is not a user namespace")
                }
                return fd
            } catch {
                throw RootfsError(
                    step: "\(key) idmap=\(value): open the user namespace", cause: error)
            }
        }
        if let value = plan.idmap {
            let userns = try namespace(value, key: "lxc.rootfs.options")
            do {
                trees.append(
                    try idmapped(plan.path, recursive: true, attributes: 0, userNamespace: userns))
            } catch {
                throw RootfsError(
                    step: "lxc.rootfs.options idmap=\(value): idmapped mount of \(plan.path)",
                    cause: error)
            }
        }
        var kept: [MountSpec] = []
        for mount in plan.mounts {
            guard let value = mount.options.idmap else {
                kept.append(mount)
                continue
            }
            let userns = try namespace(value, key: "lxc.mount.entry")
            do {
                trees.append(
                    try idmapped(
                        mount.source, recursive: mount.options.recursive,
                        attributes: mount.options.attributes, userNamespace: userns))
                kept.append(mount)
            } catch  where mount.options.optional {
                continue
            } catch {
                throw RootfsError(
                    step: "lxc.mount.entry idmap=\(value): idmapped mount of \(mount.source)",
                    cause: error)
            }
        }
        plan.mounts = kept
        return trees
    }
}
