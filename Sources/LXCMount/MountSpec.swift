import Glibc

/// What to create at a mount target that does not exist yet (LXC's `create=`).
public enum CreateMode: String, Sendable, Equatable {
    case none
    case directory = "dir"
    case file
}

/// One mount, as the container side performs it: LXC's `lxc.mount.entry` and `lxc.mount.auto`,
/// and OCI's `mounts`, all become this.
public struct MountSpec: Sendable, Equatable {
    /// A host path for binds; the filesystem's source (`proc`, `tmpfs`, a device) otherwise.
    public var source: String
    /// The path inside the container; resolved inside its root, never following a link out.
    public var target: String
    /// The filesystem type; `bind` for bind mounts.
    public var type: String
    public var options: MountOptions

    public init(source: String, target: String, type: String, options: MountOptions) {
        self.source = source
        self.target = target
        self.type = type
        self.options = options
    }

    public var isBind: Bool { options.bind || type == "bind" || type == "rbind" }
}

/// Mount options split into what the kernel takes as flags, propagation and data, and
/// LXC's own words (`create=`, `optional`).
public struct MountOptions: Sendable, Equatable {
    /// `MS_*` flags other than propagation and bind.
    public var flags: UInt = 0
    /// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE` or `MS_UNBINDABLE`, with `MS_REC` for `r…`.
    public var propagation: UInt = 0
    public var bind = false
    public var recursive = false
    public var create = CreateMode.none
    public var optional = false
    /// Options handed to the filesystem (`mode=755`, `size=64k`, `newinstance`).
    public var data: [String] = []
    /// LXC's `idmap=`: `container` (the container's user namespace) or the path of a user
    /// namespace (`/proc/PID/ns/user`); the bind becomes an idmapped mount of that namespace.
    public var idmap: String?

    public init() {}

    /// Parses fstab-style option words. Throws for LXC options SwiftLXC does not support.
    public init(parsing words: [String]) throws(MountOptionError) {
        for word in words where !word.isEmpty {
            if let flag = MountOptions.setFlags[word] {
                flags |= flag
            } else if let flag = MountOptions.clearFlags[word] {
                flags &= ~flag
            } else if let kind = MountOptions.propagationFlags[word] {
                propagation = kind
            } else if word == "bind" {
                bind = true
            } else if word == "rbind" {
                bind = true
                recursive = true
            } else if word == "defaults" {
                continue
            } else if word == "optional" {
                optional = true
            } else if word.hasPrefix("create=") {
                guard let mode = CreateMode(rawValue: String(word.dropFirst(7))), mode != .none
                else { throw .invalid(word) }
                create = mode
            } else if word.hasPrefix("idmap=") {
                let value = String(word.dropFirst(6))
                guard value == "container" || (value.hasPrefix("/") && value.count > 1) else {
                    throw .invalid(word)
                }
                idmap = value
            } else if word == "relative" {
                throw .unsupported(word)
            } else {
                data.append(word)
            }
        }
    }

    /// Parses a comma-separated option string.
    public init(parsing text: String) throws(MountOptionError) {
        try self.init(parsing: text.split(separator: ",").map(String.init))
    }

    static let setFlags: [String: UInt] = [
        "ro": UInt(MS_RDONLY), "nosuid": UInt(MS_NOSUID), "nodev": UInt(MS_NODEV),
        "noexec": UInt(MS_NOEXEC), "sync": UInt(MS_SYNCHRONOUS), "dirsync": UInt(MS_DIRSYNC),
        "mand": UInt(MS_MANDLOCK), "noatime": UInt(MS_NOATIME), "nodiratime": UInt(MS_NODIRATIME),
        "relatime": UInt(MS_RELATIME), "strictatime": UInt(MS_STRICTATIME),
        "lazytime": UInt(MS_LAZYTIME), "silent": UInt(MS_SILENT),
    ]

    static let clearFlags: [String: UInt] = [
        "rw": UInt(MS_RDONLY), "suid": UInt(MS_NOSUID), "dev": UInt(MS_NODEV),
        "exec": UInt(MS_NOEXEC), "async": UInt(MS_SYNCHRONOUS), "nomand": UInt(MS_MANDLOCK),
        "atime": UInt(MS_NOATIME), "diratime": UInt(MS_NODIRATIME),
        "norelatime": UInt(MS_RELATIME), "nostrictatime": UInt(MS_STRICTATIME),
        "nolazytime": UInt(MS_LAZYTIME), "loud": UInt(MS_SILENT),
    ]

    /// Propagation words and their `MS_*` flags.
    public static let propagationFlags: [String: UInt] = [
        "private": UInt(MS_PRIVATE), "rprivate": UInt(MS_PRIVATE) | UInt(MS_REC),
        "slave": UInt(MS_SLAVE), "rslave": UInt(MS_SLAVE) | UInt(MS_REC),
        "shared": UInt(MS_SHARED), "rshared": UInt(MS_SHARED) | UInt(MS_REC),
        "unbindable": UInt(MS_UNBINDABLE), "runbindable": UInt(MS_UNBINDABLE) | UInt(MS_REC),
    ]

    /// The `MOUNT_ATTR_*` bits for `fsmount` and `mount_setattr` that `flags` asks for.
    public var attributes: UInt64 {
        var attributes: UInt64 = 0
        if flags & UInt(MS_RDONLY) != 0 { attributes |= UInt64(MOUNT_ATTR_RDONLY) }
        if flags & UInt(MS_NOSUID) != 0 { attributes |= UInt64(MOUNT_ATTR_NOSUID) }
        if flags & UInt(MS_NODEV) != 0 { attributes |= UInt64(MOUNT_ATTR_NODEV) }
        if flags & UInt(MS_NOEXEC) != 0 { attributes |= UInt64(MOUNT_ATTR_NOEXEC) }
        if flags & UInt(MS_NODIRATIME) != 0 { attributes |= UInt64(MOUNT_ATTR_NODIRATIME) }
        if flags & UInt(MS_NOATIME) != 0 {
            attributes |= UInt64(MOUNT_ATTR_NOATIME)
        } else if flags & UInt(MS_STRICTATIME) != 0 {
            attributes |= UInt64(MOUNT_ATTR_STRICTATIME)
        }
        return attributes
    }

    /// The `MOUNT_ATTR_*` propagation value for `mount_setattr`, or 0 to leave it.
    public var propagationAttribute: UInt64 {
        let kind = propagation & ~UInt(MS_REC)
        return UInt64(kind)
    }
}

/// A mount option SwiftLXC refuses, by the word.
public enum MountOptionError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .invalid(let word): return "invalid mount option \(word)"
        case .unsupported(let word): return "mount option \(word) is not supported"
        }
    }
}

/// A device node to create in the container's `/dev`.
public struct DeviceNode: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case character = "c"
        case block = "b"
        case fifo = "p"
    }

    /// Absolute path inside the container, such as `/dev/null`.
    public var path: String
    public var kind: Kind
    public var major: UInt32
    public var minor: UInt32
    public var mode: mode_t
    public var uid: uid_t
    public var gid: gid_t

    public init(
        path: String, kind: Kind, major: UInt32, minor: UInt32, mode: mode_t = 0o666,
        uid: uid_t = 0, gid: gid_t = 0
    ) {
        self.path = path
        self.kind = kind
        self.major = major
        self.minor = minor
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }

    /// The nodes LXC's autodev and OCI's default devices both create.
    public static let standard: [DeviceNode] = [
        DeviceNode(path: "/dev/null", kind: .character, major: 1, minor: 3),
        DeviceNode(path: "/dev/zero", kind: .character, major: 1, minor: 5),
        DeviceNode(path: "/dev/full", kind: .character, major: 1, minor: 7),
        DeviceNode(path: "/dev/random", kind: .character, major: 1, minor: 8),
        DeviceNode(path: "/dev/urandom", kind: .character, major: 1, minor: 9),
        DeviceNode(path: "/dev/tty", kind: .character, major: 5, minor: 0),
    ]

    /// `makedev`, which is a macro in C.
    public var deviceNumber: dev_t {
        let major = UInt64(self.major)
        let minor = UInt64(self.minor)
        let high = (major & 0xffff_f000) << 32 | (minor & 0xffff_ff00) << 12
        return dev_t(high | (major & 0xfff) << 8 | (minor & 0xff))
    }
}
