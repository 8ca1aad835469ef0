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
}
