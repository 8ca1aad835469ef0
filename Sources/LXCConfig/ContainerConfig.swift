/// The one container model LXC configs and OCI bundles both become, and the runtime consumes.
/// It holds what to set up, never how: no paths are resolved on the host and nothing runs.
public struct ContainerConfig: Sendable, Equatable {
    /// The container name (LXC's name, or the OCI container id).
    public var name: String = ""
    public var rootfs = Rootfs()
    public var hostname: String?
    public var domainname: String?
    public var process = Process()
    /// LXC's init settings (`lxc.init.*`); OCI bundles fill `process` instead.
    public var initCommand = InitCommand()
    public var capabilities = Capabilities()
    public var namespaces = Namespaces()
    public var idmaps: [IDMap] = []
    public var mounts: [Mount] = []
    public var mountAuto = MountAuto()
    /// `lxc.autodev`: populate a tmpfs `/dev`.
    public var autodev = true
    public var devices: [Device] = []
    public var maskedPaths: [String] = []
    public var readonlyPaths: [String] = []
    /// `lxc.sysctl.*` or OCI `linux.sysctl`, in order.
    public var sysctls: [KeyValue] = []
    /// `lxc.proc.*`: files under `/proc/<init pid>/` to write.
    public var procFiles: [KeyValue] = []
    public var cgroup = Cgroup()
    public var hooks = Hooks()
    public var networks: [Network] = []
    public var seccomp = Seccomp()
    public var timeOffsets = TimeOffsets()
    public var signals = Signals()
    public var console = Console()
    /// OCI annotations.
    public var annotations: [KeyValue] = []
    /// LSM settings: `lxc.apparmor.profile` / `process.apparmorProfile`, SELinux labels.
    public var apparmorProfile: String?
    public var selinuxLabel: String?
    public var mountLabel: String?
    /// What the input said that the runtime will not act on, each naming the key or JSON path.
    public var warnings: [String] = []

    /// An empty model.
    public init() {}

    /// An ordered key and value (sysctls, cgroup files, annotations).
    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The root filesystem.
    public struct Rootfs: Sendable, Equatable {
        /// Host path of the root (LXC `lxc.rootfs.path` without `dir:`, OCI `root.path`
        /// resolved against the bundle).
        public var path: String = ""
        /// `lxc.rootfs.options`, split on commas.
        public var options: [String] = []
        public var readOnly = false
        /// `lxc.rootfs.mount` or nil for the default.
        public var mountPoint: String?
        /// OCI `linux.rootfsPropagation` (`shared`, `slave`, `private`, `rshared`, …).
        public var propagation: String?
        public init() {}
    }

    /// One resource limit; `UInt64.max` means unlimited.
    public struct Rlimit: Sendable, Equatable {
        /// Lowercase resource name without `RLIMIT_`, e.g. `nofile`.
        public var resource: String
        public var soft: UInt64
        public var hard: UInt64
        public init(resource: String, soft: UInt64, hard: UInt64) {
            self.resource = resource
            self.soft = soft
            self.hard = hard
        }
    }

    /// The workload process.
    public struct Process: Sendable, Equatable {
        public var args: [String] = []
        /// `KEY=VALUE` entries.
        public var env: [String] = []
        public var cwd: String = "/"
        public var uid: UInt32 = 0
        public var gid: UInt32 = 0
        public var additionalGids: [UInt32] = []
        public var umask: UInt32?
        public var rlimits: [Rlimit] = []
        public var noNewPrivileges = false
        public var terminal = false
        /// OCI `process.consoleSize` (height, width).
        public var consoleSize: (height: UInt32, width: UInt32)? {
            get { consoleHeight.map { ($0, consoleWidth ?? 0) } }
            set {
                consoleHeight = newValue?.height
                consoleWidth = newValue?.width
            }
        }
        var consoleHeight: UInt32?
        var consoleWidth: UInt32?
        public var oomScoreAdj: Int?
        /// `personality(2)` domain: `LINUX` or `LINUX32` (`lxc.arch`, OCI `linux.personality`).
        public var personality: String?
        public init() {}
    }

    /// `lxc.init.*`.
    public struct InitCommand: Sendable, Equatable {
        /// `lxc.init.cmd` split on white space; empty means LXC's default `/sbin/init`.
        public var args: [String] = []
        public var uid: UInt32?
        public var gid: UInt32?
        public var cwd: String?
        public var groups: [UInt32] = []
        public init() {}
    }

    /// Capabilities, either LXC's drop/keep lists or the five OCI sets; names in kernel
    /// spelling (`CAP_SYS_ADMIN`).
    public struct Capabilities: Sendable, Equatable {
        public var drop: [String] = []
        /// LXC `lxc.cap.keep`: when non-empty, every other capability is dropped.
        public var keep: [String] = []
        /// The OCI sets; nil for LXC configs.
        public var oci: OCISets?
        public init() {}

        public struct OCISets: Sendable, Equatable {
            public var bounding: [String] = []
            public var effective: [String] = []
            public var permitted: [String] = []
            public var inheritable: [String] = []
            public var ambient: [String] = []
            public init() {}
        }
    }

    /// Namespace kinds, spelled as LXC spells them.
    public enum NamespaceKind: String, Sendable, Equatable, CaseIterable {
        case user
        case mnt
        case pid
        case uts
        case ipc
        case net
        case cgroup
        case time
    }

    /// Which namespaces to create, keep or join.
    public struct Namespaces: Sendable, Equatable {
        /// To create (`lxc.namespace.clone`, or OCI namespaces without a path). Empty for an
        /// LXC config means LXC's default: every kind the config needs.
        public var create: [NamespaceKind] = []
        /// `lxc.namespace.keep`: inherited from the caller.
        public var keep: [NamespaceKind] = []
        /// To join: `lxc.namespace.share.<ns>` (a container name or a `/proc/<pid>/ns` path) or
        /// an OCI namespace path.
        public var join: [Join] = []
        public init() {}

        public struct Join: Sendable, Equatable {
            public var kind: NamespaceKind
            public var path: String
            public init(kind: NamespaceKind, path: String) {
                self.kind = kind
                self.path = path
            }
        }
    }

    /// One id mapping of a user namespace.
    public struct IDMap: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable {
            case user = "u"
            case group = "g"
        }
        public var kind: Kind
        public var containerID: UInt32
        public var hostID: UInt32
        public var count: UInt32
        public init(kind: Kind, containerID: UInt32, hostID: UInt32, count: UInt32) {
            self.kind = kind
            self.containerID = containerID
            self.hostID = hostID
            self.count = count
        }
    }

    /// A mount from `lxc.mount.entry`, a `lxc.mount.fstab` line or an OCI mount.
    public struct Mount: Sendable, Equatable {
        public var source: String
        /// The target as given: relative to the rootfs for LXC entries, absolute for OCI.
        public var target: String
        public var type: String
        /// Options as written, including LXC's `create=dir|file`, `optional`, `bind`,
        /// `rbind`, `ro` and propagation words.
        public var options: [String]
        public var uidMappings: [IDMap] = []
        public var gidMappings: [IDMap] = []
        public init(source: String, target: String, type: String, options: [String]) {
            self.source = source
            self.target = target
            self.type = type
            self.options = options
        }
    }

    /// An OCI device node to create.
    public struct Device: Sendable, Equatable {
        public var path: String
        /// `c`, `b`, `u` or `p`.
        public var type: String
        public var major: Int64
        public var minor: Int64
        public var fileMode: UInt32?
        public var uid: UInt32?
        public var gid: UInt32?
        public init(path: String, type: String, major: Int64, minor: Int64) {
            self.path = path
            self.type = type
            self.major = major
            self.minor = minor
        }
    }

    /// Cgroup placement and limits.
    public struct Cgroup: Sendable, Equatable {
        /// `lxc.cgroup.<file>` pairs (v1), in order.
        public var v1: [KeyValue] = []
        /// `lxc.cgroup2.<file>` pairs, and OCI `resources.unified`, in order.
        public var v2: [KeyValue] = []
        /// `lxc.cgroup.dir`.
        public var dir: String?
        public var containerDir: String?
        public var containerInnerDir: String?
        public var monitorDir: String?
        public var monitorPivotDir: String?
        /// `lxc.cgroup.relative`.
        public var relative = false
        /// OCI `linux.cgroupsPath`.
        public var path: String?
        /// OCI `linux.resources`.
        public var resources: OCISpec.Resources?
        public init() {}
    }

    /// One hook command.
    public struct Hook: Sendable, Equatable {
        public var path: String
        /// argv including argv[0]; LXC hooks are split on white space.
        public var args: [String]
        public var env: [String] = []
        public var timeout: Int?
        public init(path: String, args: [String]) {
            self.path = path
            self.args = args
        }
    }

    /// Hooks by stage.
    public struct Hooks: Sendable, Equatable {
        /// LXC stage name (`pre-start`, `mount`, …) to commands, in order.
        public var lxc: [String: [Hook]] = [:]
        /// `lxc.hook.version`: 1 passes the details as environment variables.
        public var lxcVersion = 0
        /// `lxc.environment` then `lxc.environment.hooks`: what LXC's hooks get besides `LXC_*`.
        public var lxcEnvironment: [String] = []
        /// OCI hooks by stage name (`prestart`, `createRuntime`, …).
        public var oci: [String: [Hook]] = [:]
        public init() {}
    }

    /// One network of `lxc.net.N`.
    public struct Network: Sendable, Equatable {
        public var index: Int
        public var type: String = ""
        public var up = false
        public var link: String?
        public var name: String?
        public var hwaddr: String?
        public var mtu: UInt32?
        public var ipv4Addresses: [String] = []
        public var ipv6Addresses: [String] = []
        public var ipv4Gateway: String?
        public var ipv6Gateway: String?
        public var vethPair: String?
        public var vethMode: String?
        public var vethIPv4Routes: [String] = []
        public var vethIPv6Routes: [String] = []
        public var vethVlanID: Int?
        public var vethTaggedVlanIDs: [UInt16] = []
        public var macvlanMode: String?
        public var ipvlanMode: String?
        public var ipvlanIsolation: String?
        public var vlanID: UInt16?
        public var l2proxy = false
        public var scriptUp: String?
        public var scriptDown: String?
        public init(index: Int) { self.index = index }
    }

    /// Seccomp: an LXC policy file or an OCI filter.
    public struct Seccomp: Sendable, Equatable {
        public var profilePath: String?
        public var allowNesting = false
        /// `lxc.seccomp.notify.proxy` without `unix:` (an abstract name keeps its `@`).
        public var notifyProxy: String?
        public var notifyCookie: String?
        public var oci: OCISpec.Seccomp?
        public init() {}
    }

    /// A clock offset of a time namespace.
    public struct TimeOffset: Sendable, Equatable {
        public var seconds: Int64 = 0
        public var nanoseconds: Int64 = 0
        public init(seconds: Int64 = 0, nanoseconds: Int64 = 0) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }
    }

    public struct TimeOffsets: Sendable, Equatable {
        public var boot = TimeOffset()
        public var monotonic = TimeOffset()
        public init() {}
    }

    /// Signals sent to the init, as numbers; nil means the runtime's default.
    public struct Signals: Sendable, Equatable {
        public var halt: Int?
        public var reboot: Int?
        public var stop: Int?
        public init() {}
    }

    /// `lxc.console.*`, `lxc.tty.*`, `lxc.pty.max`.
    public struct Console: Sendable, Equatable {
        public var path: String?
        public var logFile: String?
        /// Ring buffer size in bytes (0 for none).
        public var bufferSize: UInt64 = 0
        public var logSize: UInt64 = 0
        public var rotate = false
        public var ttyCount = 0
        public var ttyDir: String?
        public var ptyMax = 0
        public init() {}
    }
}
