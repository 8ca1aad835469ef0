import CShim
import Glibc
import LXCSystem

/// Everything the container side does to its mount namespace, in order.
public struct RootfsPlan: Sendable, Equatable {
    /// The root filesystem directory, a host path.
    public var path: String
    public var readOnly: Bool = false
    /// `MOUNT_ATTR_*` for the root's own mount (`lxc.rootfs.options` such as `nodev,nosuid`).
    public var attributes: UInt64 = 0
    /// `lxc.rootfs.options` `idmap=`: `container` or a user namespace's path. The host makes
    /// the idmapped tree (only it holds CAP_SYS_ADMIN over the filesystem) and the stage mounts
    /// it on `path` in place of the plain bind.
    public var idmap: String?
    /// Propagation of `/` once pivoted (`MS_SHARED|MS_REC`…); 0 keeps it a slave of the host.
    public var propagation: UInt = 0
    /// Mount a tmpfs on `/dev` before the mounts (LXC's autodev).
    public var devTmpfs: Bool = false
    /// Create the standard nodes, the `/dev/fd` links and `/dev/ptmx` after the mounts.
    public var defaultDevices: Bool = false
    /// Mount a new devpts instance on `/dev/pts` (LXC's autodev; OCI lists it in `mounts`).
    public var devpts: Bool = false
    /// Bind the host's nodes instead of `mknod`, which a user namespace may not do.
    public var bindDevices: Bool = false
    /// Mounts in order: `lxc.mount.auto`, fstab and entries, or OCI's `mounts`.
    public var mounts: [MountSpec] = []
    /// Extra nodes (OCI `linux.devices`).
    public var devices: [DeviceNode] = []
    public var maskedPaths: [String] = []
    public var readonlyPaths: [String] = []
    /// Paths made writable again below a read-only one (LXC's `proc:mixed` keeps
    /// `/proc/sys/net` writable), after `readonlyPaths`.
    public var writablePaths: [String] = []
    /// The host path of the console's terminal (`/dev/pts/N`), bound onto `/dev/console`. It
    /// must be the terminal the stage has as its stdin.
    public var console: String?
    /// The host paths of the `lxc.tty.max` ttys' terminals (`/dev/pts/N`), tty 1 first,
    /// bound onto `/dev/tty1`….
    public var ttys: [String] = []
    /// `lxc.tty.dir`: the ttys are bound in `/dev/<dir>/` and `/dev/ttyN` are symlinks to
    /// them, as LXC makes them.
    public var ttyDirectory: String?

    public init(path: String) {
        self.path = path
    }
}

/// A failure of a caller's step inside the set-up, as text.
public struct HookError: Error, Sendable {
    public var text: String
    /// The step the failure is reported as, and its system-call error when it has one.
    public var step = "lxc.hook"
    public var cause: SyscallError?

    public init(_ text: String) {
        self.text = text
    }

    public init(step: String, _ cause: SyscallError) {
        self.text = "\(step): \(cause)"
        self.step = step
        self.cause = cause
    }
}

/// A failed step of the root filesystem set-up.
public struct RootfsError: Error, Sendable, CustomStringConvertible {
    public var step: String
    public var cause: SyscallError

    public var description: String { "\(step): \(cause)" }
}

/// Performs a `RootfsPlan`. Runs only in the container-side stage: a single-threaded process
/// in its own mount namespace.
///
/// Host paths are opened before `pivot_root` (bind sources become detached trees with
/// `open_tree`); every target is resolved after it, inside the new root with
/// `RESOLVE_IN_ROOT`, so no symlink in the rootfs can send a mount to the host.
public struct RootfsSetup: ~Copyable {
    private let plan: RootfsPlan
    /// Detached bind trees by mount index; an empty slot for filesystem mounts.
    private let trees = DescriptorList()
    /// Host device nodes to bind, by index into `DeviceNode.standard`.
    private let deviceTrees = DescriptorList()
    /// Runs after the mounts are prepared and before `pivot_root` (LXC's mount and autodev
    /// hooks); a thrown error fails the step `lxc.hook`.
    public var beforePivot: () throws(HookError) -> Void = {}
    /// The `/dev` tmpfs (index 0) and devpts (the last index) when the plan asks for them.
    private let devTree = DescriptorList()
    /// The console's terminal as a detached bind, when the plan has one.
    private let consoleTree = DescriptorList()
    /// The ttys' terminals as detached binds, tty 1 first.
    private let ttyTrees = DescriptorList()
    /// The devpts instance's mount once it is on `/dev/pts`, kept for LXC's `devpts_fd`.
    private let devptsMount = DescriptorList()

    /// The host's idmapped trees (`DetachedMount.idmappedTrees`), taken in order.
    private let idmapped: DescriptorList
    private var nextIdmapped = 0

    /// `idmapped` holds the trees the host made for `idmap=`: the rootfs's first, then each
    /// idmapped bind in order.
    public init(_ plan: RootfsPlan, idmapped: DescriptorList = DescriptorList()) {
        self.plan = plan
        self.idmapped = idmapped
    }

    /// After `run`, the mount fd of the container's devpts instance (its root, on `/dev/pts`),
    /// or nil when the plan mounts none. The caller owns it; a second call returns nil.
    public func takeDevptsMount() -> FileDescriptor? {
        devptsMount.take(0)
    }

    /// Runs every step. On return the process's root is the container's.
    public mutating func run() throws(RootfsError) {
        try prepare()
        do {
            try beforePivot()
        } catch {
            throw RootfsError(
                step: error.step,
                cause: error.cause ?? SyscallError(.EINVAL, call: "hook", object: error.text))
        }
        try pivot()
        let root = try step("open root") { () throws(SyscallError) in
            try FileDescriptor.open("/", O_PATH | O_DIRECTORY)
        }
        if plan.devTmpfs, let tree = devTree.take(0) {
            try step("mount /dev") { () throws(SyscallError) in
                let target = try resolve("/dev", create: .directory, root: root)
                try moveMount(tree, onto: target, name: "/dev")
            }
        }
        for (index, mount) in plan.mounts.enumerated() {
            try step("mount \(mount.type) onto \(mount.target)") { () throws(SyscallError) in
                try attach(mount, index: index, root: root)
            }
        }
        if plan.defaultDevices || plan.devpts {
            try step("populate /dev") { () throws(SyscallError) in
                try populateDev(root: root)
            }
        }
        for device in plan.devices {
            try step("create device \(device.path)") { () throws(SyscallError) in
                try makeNode(device, root: root, replace: true)
            }
        }
        if let console = plan.console, let tree = consoleTree.take(0) {
            try step("bind \(console) onto /dev/console") { () throws(SyscallError) in
                let target = try resolve("/dev/console", create: .file, root: root)
                try moveMount(tree, onto: target, name: "/dev/console")
            }
        }
        for index in plan.ttys.indices {
            try step("bind \(plan.ttys[index]) onto tty\(index + 1)") { () throws(SyscallError) in
                try bindTTY(index, root: root)
            }
        }
        for path in plan.maskedPaths {
            try step("mask \(path)") { () throws(SyscallError) in try mask(path, root: root) }
        }
        for path in plan.readonlyPaths {
            try step("make \(path) read-only") { () throws(SyscallError) in
                try makeReadOnly(path, root: root)
            }
        }
        for path in plan.writablePaths {
            try step("make \(path) writable") { () throws(SyscallError) in
                try makeReadOnly(path, root: root, readOnly: false)
            }
        }
        try finishRoot()
    }

    // MARK: - Before pivot_root

    private mutating func prepare() throws(RootfsError) {
        // Nothing mounted from here on may propagate back to the host.
        try step("make / a slave of the host") { () throws(SyscallError) in
            try Mounts.mount(
                source: nil, target: "/", flags: UInt(MS_REC) | UInt(MS_SLAVE))
        }
        if let value = plan.idmap {
            let tree = try takeIdmapped("lxc.rootfs.options idmap=\(value)")
            try step("mount the idmapped root filesystem \(plan.path)") { () throws(SyscallError) in
                let target = try FileDescriptor.open(plan.path, O_PATH | O_DIRECTORY)
                try moveMount(tree, onto: target, name: plan.path)
            }
        } else {
            try step("bind the root filesystem \(plan.path)") { () throws(SyscallError) in
                try Mounts.mount(
                    source: plan.path, target: plan.path, type: "bind",
                    flags: UInt(MS_BIND) | UInt(MS_REC))
            }
        }
        // Every mount is made here, detached, and only attached after pivot_root. proc and
        // sysfs must be created while the host's instances are still visible in this mount
        // namespace: in a user namespace the kernel refuses them as too revealing otherwise.
        if plan.devTmpfs {
            try step("mount /dev") { () throws(SyscallError) in
                devTree.append(
                    try makeFilesystem(
                        type: "tmpfs", source: "tmpfs", data: ["mode=755", "size=500000"],
                        attributes: UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)))
            }
        }
        for mount in plan.mounts {
            if let value = mount.options.idmap {
                trees.append(try takeIdmapped("lxc.mount.entry idmap=\(value) for \(mount.target)"))
                continue
            }
            try step("mount \(mount.type) onto \(mount.target)") { () throws(SyscallError) in
                do throws(SyscallError) {
                    trees.append(try detachedMount(for: mount))
                } catch  where mount.options.optional {
                    trees.appendEmpty()
                }
            }
        }
        if plan.devpts {
            try step("mount /dev/pts") { () throws(SyscallError) in
                devTree.append(
                    try makeFilesystem(
                        type: "devpts", source: "devpts",
                        data: ["newinstance", "ptmxmode=0666", "mode=0620"],
                        attributes: UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)))
            }
        }
        if let console = plan.console {
            try step("open the console \(console)") { () throws(SyscallError) in
                consoleTree.append(try openConsole(console))
            }
        }
        for path in plan.ttys {
            try step("open the tty \(path)") { () throws(SyscallError) in
                ttyTrees.append(try openTTY(path))
            }
        }
        if plan.bindDevices && plan.defaultDevices {
            for device in DeviceNode.standard {
                try step("open host device \(device.path)") { () throws(SyscallError) in
                    deviceTrees.append(
                        try Mounts.openTree(device.path, flags: UInt32(OPEN_TREE_CLONE)))
                }
            }
        }
    }

    /// The host's next idmapped tree; a missing one fails `step`.
    private mutating func takeIdmapped(_ step: String) throws(RootfsError) -> FileDescriptor {
        defer { nextIdmapped += 1 }
        guard let tree = idmapped.take(nextIdmapped) else {
            throw RootfsError(
                step: step,
                cause: SyscallError(
                    .EBADF, call: "recvmsg", object: "no idmapped tree from the host"))
        }
        return tree
    }

    /// A detached bind of the console's terminal. The path is the host's name for the
    /// terminal the stage has as stdin: a different device behind it (the host's devpts is
    /// not the one the name came from) is refused rather than given to the container.
    private func openConsole(_ path: String) throws(SyscallError) -> FileDescriptor {
        let tree = try Mounts.openTree(path, flags: UInt32(OPEN_TREE_CLONE))
        var bound = stat()
        var stdin = stat()
        _ = try check(fstat(tree.rawValue, &bound), "fstat", path)
        _ = try check(fstat(0, &stdin), "fstat", "stdin")
        guard bound.st_mode & S_IFMT == S_IFCHR, bound.st_rdev == stdin.st_rdev else {
            throw SyscallError(
                .ENXIO, call: "open_tree", object: "\(path) is not the console on stdin")
        }
        return tree
    }

    /// A detached bind of a tty's terminal. Nothing on stdin to compare with: the tree must
    /// at least be a pty peer (majors 136 to 143), not some other node the path came to name.
    private func openTTY(_ path: String) throws(SyscallError) -> FileDescriptor {
        let tree = try Mounts.openTree(path, flags: UInt32(OPEN_TREE_CLONE))
        var bound = stat()
        _ = try check(fstat(tree.rawValue, &bound), "fstat", path)
        let major = (bound.st_rdev >> 8) & 0xfff
        guard bound.st_mode & S_IFMT == S_IFCHR, (136...143).contains(major) else {
            throw SyscallError(.ENXIO, call: "open_tree", object: "\(path) is not a pty")
        }
        return tree
    }

    private func pivot() throws(RootfsError) {
        try step("pivot_root into \(plan.path)") { () throws(SyscallError) in
            _ = try check(chdir(plan.path), "chdir", plan.path)
            // pivot_root(".", ".") stacks the old root on the new one; detaching "." then
            // drops the old root without needing a directory for it inside the rootfs.
            try Mounts.pivotRoot(".", putOld: ".")
            try Mounts.unmount(".", flags: Int32(MNT_DETACH))
            _ = try check(chdir("/"), "chdir", "/")
        }
    }

    // MARK: - After pivot_root

    private func attach(_ mount: MountSpec, index: Int, root: borrowing FileDescriptor)
        throws(SyscallError)
    {
        guard let tree = trees.take(index) else { return }  // optional and absent
        let target: FileDescriptor
        do {
            target = try resolve(mount.target, create: mount.options.create, root: root)
        } catch  where mount.options.optional && error.errno == .ENOENT {
            return
        }
        try moveMount(tree, onto: target, name: mount.target)
        if mount.options.propagation != 0 {
            try setPropagation(mount.options, at: mount.target, root: root)
        }
    }

    /// Opens `path` inside the root as an `O_PATH` fd, creating what `create` asks for.
    /// `directory` decides what a `create=`-less missing target would be (unused then).
    private func resolve(
        _ path: String, create: CreateMode, root: borrowing FileDescriptor,
        directory: Bool = true
    ) throws(SyscallError) -> FileDescriptor {
        let resolveFlags: ResolveFlags = [.inRoot, .noMagicLinks]
        let relative = String(path.drop { $0 == "/" })
        if relative.isEmpty { return try root.duplicate() }
        do {
            return try root.openAt2(relative, O_PATH, resolve: resolveFlags)
        } catch  where error.errno == .ENOENT && create != .none {
            let components = relative.split(separator: "/")
            var parent = try root.duplicate()
            for (index, component) in components.enumerated() {
                let name = String(component)
                let isLast = index == components.count - 1
                if isLast && create == .file {
                    let made = mknodat(parent.rawValue, name, S_IFREG | 0o644, 0)
                    if made < 0 && Errno.current != .EEXIST {
                        throw SyscallError(.current, call: "mknodat", object: path)
                    }
                } else if mkdirat(parent.rawValue, name, 0o755) < 0
                    && Errno.current != .EEXIST
                {
                    throw SyscallError(.current, call: "mkdirat", object: path)
                }
                let sofar = components[0...index].joined(separator: "/")
                let flags = isLast ? O_PATH : O_PATH | O_DIRECTORY
                parent = try root.openAt2(sofar, flags, resolve: resolveFlags)
            }
            return parent
        }
    }

    private func isDirectory(_ fd: borrowing FileDescriptor) -> Bool {
        var info = stat()
        return fstat(fd.rawValue, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private func moveMount(
        _ tree: borrowing FileDescriptor, onto target: borrowing FileDescriptor, name: String
    ) throws(SyscallError) {
        let flags = UInt32(MOVE_MOUNT_F_EMPTY_PATH) | UInt32(MOVE_MOUNT_T_EMPTY_PATH)
        _ = try check(move_mount(tree.rawValue, "", target.rawValue, "", flags), "move_mount", name)
    }

    private func makeFilesystem(
        type: String, source: String, data: [String], attributes: UInt64
    ) throws(SyscallError) -> FileDescriptor {
        try DetachedMount.filesystem(type: type, source: source, data: data, attributes: attributes)
    }

    private func detachedMount(for mount: MountSpec) throws(SyscallError) -> FileDescriptor {
        try DetachedMount.make(mount)
    }

    private func setPropagation(
        _ options: MountOptions, at path: String, root: borrowing FileDescriptor
    ) throws(SyscallError) {
        let target = try resolve(path, create: .none, root: root)
        var attr = mount_attr()
        attr.propagation = options.propagationAttribute
        let flags =
            UInt32(AT_EMPTY_PATH)
            | (options.propagation & UInt(MS_REC) != 0
                ? UInt32(AT_RECURSIVE) : 0)
        let result = mount_setattr(target.rawValue, "", flags, &attr, MemoryLayout<mount_attr>.size)
        _ = try check(result, "mount_setattr", path)
    }

    private func populateDev(root: borrowing FileDescriptor) throws(SyscallError) {
        if plan.defaultDevices {
            for (index, device) in DeviceNode.standard.enumerated() {
                if plan.bindDevices, let tree = deviceTrees.take(index) {
                    let target = try resolve(device.path, create: .file, root: root)
                    try moveMount(tree, onto: target, name: device.path)
                } else {
                    try makeNode(device, root: root, replace: false)
                }
            }
        }
        if plan.devpts, let tree = devTree.take(devTree.count - 1) {
            let target = try resolve("/dev/pts", create: .directory, root: root)
            try moveMount(tree, onto: target, name: "/dev/pts")
            _ = devptsMount.append(tree)
        }
        let dev = try resolve("/dev", create: .none, root: root)
        let links = [
            ("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
        ]
        let devDirectory = try dev.openAt(".", O_RDONLY | O_DIRECTORY)
        for (name, destination) in links {
            if symlinkat(destination, devDirectory.rawValue, name) < 0 && Errno.current != .EEXIST {
                throw SyscallError(.current, call: "symlinkat", object: "/dev/\(name)")
            }
        }
    }

    /// Binds tty `index + 1` onto `/dev/ttyN`, or onto `/dev/<dir>/ttyN` with `/dev/ttyN` a
    /// symlink to it (whatever `/dev/ttyN` was is replaced, as LXC does).
    private func bindTTY(_ index: Int, root: borrowing FileDescriptor) throws(SyscallError) {
        guard let tree = ttyTrees.take(index) else { return }
        let name = "tty\(index + 1)"
        guard let directory = plan.ttyDirectory else {
            let target = try resolve("/dev/" + name, create: .file, root: root)
            try moveMount(tree, onto: target, name: "/dev/" + name)
            return
        }
        let target = try resolve("/dev/\(directory)/\(name)", create: .file, root: root)
        try moveMount(tree, onto: target, name: "/dev/\(directory)/\(name)")
        let dev = try resolve("/dev", create: .none, root: root)
        let devDirectory = try dev.openAt(".", O_RDONLY | O_DIRECTORY)
        if unlinkat(devDirectory.rawValue, name, 0) < 0 && Errno.current != .ENOENT {
            throw SyscallError(.current, call: "unlinkat", object: "/dev/" + name)
        }
        _ = try check(
            symlinkat("\(directory)/\(name)", devDirectory.rawValue, name), "symlinkat",
            "/dev/" + name)
    }

    /// `mknod` of `device` inside the root. An existing node is kept unless `replace`.
    private func makeNode(_ device: DeviceNode, root: borrowing FileDescriptor, replace: Bool)
        throws(SyscallError)
    {
        let parentPath = String(
            device.path[..<(device.path.lastIndex(of: "/") ?? device.path.startIndex)])
        let name = String(device.path.split(separator: "/").last ?? "")
        let parentPath2 = parentPath.isEmpty ? "/" : parentPath
        let parent = try resolve(parentPath2, create: .directory, root: root)
        let directory = try parent.openAt(".", O_RDONLY | O_DIRECTORY)
        let kind: mode_t
        switch device.kind {
        case .character: kind = S_IFCHR
        case .block: kind = S_IFBLK
        case .fifo: kind = S_IFIFO
        }
        if replace { _ = unlinkat(directory.rawValue, name, 0) }
        if mknodat(directory.rawValue, name, kind | (device.mode & 0o7777), device.deviceNumber) < 0
        {
            if Errno.current == .EEXIST && !replace { return }
            throw SyscallError(.current, call: "mknodat", object: device.path)
        }
        // mknod applies the umask; the node must have exactly the asked mode.
        _ = try check(
            fchmodat(directory.rawValue, name, device.mode & 0o7777, 0), "fchmodat",
            device.path)
        _ = try check(
            fchownat(directory.rawValue, name, device.uid, device.gid, 0), "fchownat",
            device.path)
    }

    /// Hides `path`: `/dev/null` over a file, an empty read-only tmpfs over a directory.
    private func mask(_ path: String, root: borrowing FileDescriptor) throws(SyscallError) {
        let target: FileDescriptor
        do {
            target = try resolve(path, create: .none, root: root)
        } catch  where error.errno == .ENOENT {
            return
        }
        if isDirectory(target) {
            let empty = try makeFilesystem(
                type: "tmpfs", source: "tmpfs", data: ["size=0", "mode=0555"],
                attributes: UInt64(MOUNT_ATTR_RDONLY))
            try moveMount(empty, onto: target, name: path)
        } else {
            let null = try Mounts.openTree("/dev/null", flags: UInt32(OPEN_TREE_CLONE))
            try moveMount(null, onto: target, name: path)
        }
    }

    /// Binds `path` onto itself and makes the copy read-only (or writable), submounts included.
    private func makeReadOnly(
        _ path: String, root: borrowing FileDescriptor, readOnly: Bool = true
    ) throws(SyscallError) {
        let target: FileDescriptor
        do {
            target = try resolve(path, create: .none, root: root)
        } catch  where error.errno == .ENOENT {
            return
        }
        let flags = UInt32(OPEN_TREE_CLONE) | UInt32(AT_RECURSIVE) | UInt32(AT_EMPTY_PATH)
        let tree = try Mounts.openTree("", relativeTo: target.rawValue, flags: flags)
        let flag = UInt64(MOUNT_ATTR_RDONLY)
        try Mounts.setAttributes(
            tree, set: readOnly ? flag : 0, clear: readOnly ? 0 : flag, recursive: true)
        try moveMount(tree, onto: target, name: path)
    }

    private func finishRoot() throws(RootfsError) {
        if plan.attributes != 0 {
            try step("set the root's mount options") { () throws(SyscallError) in
                var attr = mount_attr()
                attr.attr_set = plan.attributes
                let result = mount_setattr(AT_FDCWD, "/", 0, &attr, MemoryLayout<mount_attr>.size)
                _ = try check(result, "mount_setattr", "/")
            }
        }
        if plan.readOnly {
            try step("make / read-only") { () throws(SyscallError) in
                var attr = mount_attr()
                attr.attr_set = UInt64(MOUNT_ATTR_RDONLY)
                let result = mount_setattr(AT_FDCWD, "/", 0, &attr, MemoryLayout<mount_attr>.size)
                _ = try check(result, "mount_setattr", "/")
            }
        }
        if plan.propagation != 0 {
            try step("set / propagation") { () throws(SyscallError) in
                try Mounts.mount(source: nil, target: "/", flags: plan.propagation)
            }
        }
    }

    private func step<T: ~Copyable>(_ name: String, _ body: () throws(SyscallError) -> T)
        throws(RootfsError) -> T
    {
        do {
            return try body()
        } catch {
            throw RootfsError(step: name, cause: error)
        }
    }
}
