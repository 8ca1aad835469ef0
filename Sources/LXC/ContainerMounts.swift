import Glibc
import LXCMount
import LXCRuntime
import LXCSystem

// MARK: - Mount injection

extension Container {
    /// LXC's `mount`: mounts `source` at `target` inside the running container, as
    /// `mount(2)` would with `type`, `flags` (`MS_BIND`, `MS_REC`, `MS_RDONLY`…) and `data`
    /// (comma-separated filesystem options). A bind of a file makes a file target (LXC's
    /// `mount_injection_file`); missing directories on the way are made.
    ///
    /// The mount is made on the host and attached inside the container's mount namespace by
    /// a short-lived child (`MountInjection`); it is not in the container's config, so it
    /// is gone after a restart.
    public func mount(
        source: String, target: String, type: String = "", flags: UInt = 0, data: String = ""
    ) throws(ContainerError) {
        var options = MountOptions()
        options.flags = flags & ~(UInt(MS_BIND) | UInt(MS_REC))
        options.bind = flags & UInt(MS_BIND) != 0
        options.recursive = flags & UInt(MS_REC) != 0
        options.data = data.split(separator: ",").map(String.init)
        try inject(MountSpec(source: source, target: target, type: type, options: options))
    }

    /// `mount` with an fstab-style option list, as `lxc.mount.entry` takes it
    /// (`bind,ro`, `rbind`, `size=10m`, `create=file`…).
    public func mount(source: String, target: String, type: String = "none", options: String)
        throws(ContainerError)
    {
        let parsed: MountOptions
        do {
            parsed = try MountOptions(parsing: options)
        } catch {
            throw .command(
                "mount \(source) at \(target) in \(name)",
                SyscallError(.EINVAL, call: "mount options", object: "\(error)"))
        }
        try inject(MountSpec(source: source, target: target, type: type, options: parsed))
    }

    /// LXC's `umount`: unmounts `target` inside the running container with `umount2` flags.
    public func unmount(_ target: String, flags: Int32 = 0) throws(ContainerError) {
        let pidfd = try initPIDFD()
        do {
            try MountInjection.detach(target, in: pidfd.rawValue, flags: flags)
        } catch {
            throw .command("unmount \(target) in \(name)", error)
        }
    }

    private func inject(_ mount: MountSpec) throws(ContainerError) {
        let what = "mount \(mount.source) at \(mount.target) in \(name)"
        let pidfd = try initPIDFD()
        do {
            let tree = try DetachedMount.make(mount)
            var create = mount.options.create
            if create == .none {
                create = mount.isBind && !Self.isDirectory(mount.source) ? .file : .directory
            }
            try MountInjection.attach(tree, at: mount.target, in: pidfd.rawValue, create: create)
        } catch {
            throw .command(what, error)
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }
}
