import LXCCapabilities
import LXCMount
import LXCSystem

/// What the container-side stage does, in the order it does it. The host side builds it
/// from the container model and sends it over the sync socket; nothing in it is decided
/// inside the container.
public struct ContainerPlan: Sendable, Equatable {
    /// How the workload runs once everything is set up.
    public enum InitMode: Int, Sendable {
        /// The workload replaces the stage and is PID 1 (`crun run`).
        case exec = 0
        /// The stage stays PID 1 as a minimal init: it reaps, forwards signals and exits with
        /// the workload's status (`lxc-execute`).
        case minimalInit = 1
    }

    public struct NamespaceJoin: Sendable, Equatable {
        public var namespace: Namespace
        public var path: String

        public init(namespace: Namespace, path: String) {
            self.namespace = namespace
            self.path = path
        }
    }

    public struct ResourceLimit: Sendable, Equatable {
        /// `RLIMIT_*` number.
        public var resource: Int32
        /// The name the config used (`nofile`), for messages.
        public var name: String
        public var soft: UInt64
        public var hard: UInt64

        public init(resource: Int32, name: String, soft: UInt64, hard: UInt64) {
            self.resource = resource
            self.name = name
            self.soft = soft
            self.hard = hard
        }
    }

    public var name: String
    /// Namespaces the spawn created; the stage refuses work whose namespace is the host's.
    public var newNamespaces: NamespaceSet
    public var joinNamespaces: [NamespaceJoin] = []
    public var rootfs: RootfsPlan
    public var hostname: String?
    public var domainname: String?
    /// Ordered `key`, `value` pairs (`net.ipv4.ip_forward`).
    public var sysctls: [(String, String)] = []
    public var rlimits: [ResourceLimit] = []
    public var oomScoreAdj: Int32?
    public var personality: UInt?
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var additionalGids: [UInt32] = []
    public var umask: UInt32?
    /// nil keeps what the stage has (every capability, for root).
    public var capabilities: CapabilitySets?
    public var noNewPrivileges = false
    public var environment: [String] = []
    public var cwd = "/"
    public var arguments: [String]
    public var initMode = InitMode.exec
    /// A seccomp program compiled on the host (`struct sock_filter` bytes), empty for none.
    public var seccompProgram: [UInt8] = []
    /// `SECCOMP_FILTER_FLAG_*` to install it with (NEW_LISTENER when a rule notifies).
    public var seccompFlags: UInt32 = 0
    /// `lxc.seccomp.allow_nesting`: stack the filter on an already filtered process.
    public var seccompAllowNesting = false
    /// Offsets of a new time namespace, seconds and nanoseconds: boottime, then monotonic.
    public var bootOffset: (Int64, Int64) = (0, 0)
    public var monotonicOffset: (Int64, Int64) = (0, 0)
    /// LXC's hooks of the container side: `pre-mount`, `mount`, `autodev`, `start`.
    public var hooks = HookSet()
    /// OCI's `createContainer` and `startContainer` hooks, which run inside the container.
    public var ociHooks = OCIContainerHooks()
    /// How many files beyond stdio the caller passes (OCI `--preserve-fds`); the workload
    /// gets them as fds 3, 4, …
    public var extraFiles = 0
    /// OCI `create`: the stage's fd of a listening socket (after the extra files), or -1.
    /// After `go` the stage accepts one connection there (`start`) before it runs the
    /// workload, and reports an exec failure on that connection instead of the sync socket.
    public var startGate: Int32 = -1

    public init(name: String, newNamespaces: NamespaceSet, rootfs: RootfsPlan, arguments: [String])
    {
        self.name = name
        self.newNamespaces = newNamespaces
        self.rootfs = rootfs
        self.arguments = arguments
    }

    public static func == (lhs: ContainerPlan, rhs: ContainerPlan) -> Bool {
        lhs.encoded() == rhs.encoded()
    }
}

// MARK: - Wire form

extension ContainerPlan {
    /// The plan as bytes for the sync socket.
    public func encoded() -> [UInt8] {
        var w = WireWriter()
        w.write(name)
        w.write(newNamespaces.rawValue)
        w.write(joinNamespaces) { w, join in
            w.write(join.namespace.rawValue)
            w.write(join.path)
        }
        w.write(rootfs.path)
        w.write(rootfs.readOnly)
        w.write(rootfs.attributes)
        w.write(rootfs.propagation)
        w.write(rootfs.devTmpfs)
        w.write(rootfs.defaultDevices)
        w.write(rootfs.devpts)
        w.write(rootfs.bindDevices)
        w.write(rootfs.idmap)
        w.write(rootfs.mounts) { w, mount in
            w.write(mount.source)
            w.write(mount.target)
            w.write(mount.type)
            let options = mount.options
            w.write(options.flags)
            w.write(options.propagation)
            w.write(options.bind)
            w.write(options.recursive)
            w.write(options.create.rawValue)
            w.write(options.optional)
            w.write(options.data)
            w.write(options.idmap)
        }
        w.write(rootfs.devices) { w, device in
            w.write(device.path)
            w.write(device.kind.rawValue)
            w.write(device.major)
            w.write(device.minor)
            w.write(UInt32(device.mode))
            w.write(device.uid)
            w.write(device.gid)
        }
        w.write(rootfs.maskedPaths)
        w.write(rootfs.readonlyPaths)
        w.write(rootfs.writablePaths)
        w.write(rootfs.console)
        w.write(rootfs.ttys)
        w.write(rootfs.ttyDirectory)
        w.write(hostname)
        w.write(domainname)
        w.write(sysctls) { w, pair in
            w.write(pair.0)
            w.write(pair.1)
        }
        w.write(rlimits) { w, limit in
            w.write(limit.resource)
            w.write(limit.name)
            w.write(limit.soft)
            w.write(limit.hard)
        }
        w.write(oomScoreAdj != nil)
        w.write(oomScoreAdj ?? 0)
        w.write(personality != nil)
        w.write(personality ?? 0)
        w.write(uid)
        w.write(gid)
        w.write(additionalGids) { $0.write($1) }
        w.write(umask != nil)
        w.write(umask ?? 0)
        w.write(capabilities != nil)
        if let capabilities {
            for set in [
                capabilities.bounding, capabilities.effective, capabilities.permitted,
                capabilities.inheritable, capabilities.ambient,
            ] {
                w.write(set.mask)
            }
        }
        w.write(noNewPrivileges)
        w.write(environment)
        w.write(cwd)
        w.write(arguments)
        w.write(initMode.rawValue)
        w.append(bytes: seccompProgram)
        w.write(seccompFlags)
        w.write(seccompAllowNesting)
        for value in [bootOffset.0, bootOffset.1, monotonicOffset.0, monotonicOffset.1] {
            w.write(value)
        }
        w.write(extraFiles)
        w.write(startGate)
        hooks.encode(into: &w)
        ociHooks.encode(into: &w)
        return w.bytes
    }

    /// Decodes what `encoded()` wrote.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        let name = try r.readString()
        let namespaces = NamespaceSet(rawValue: try r.readInt32())
        let joins = try r.readArray { r throws(WireError) -> NamespaceJoin in
            let kind = try r.readString()
            guard let namespace = Namespace(rawValue: kind) else {
                throw WireError("unknown namespace \(kind)")
            }
            return NamespaceJoin(namespace: namespace, path: try r.readString())
        }
        var rootfs = RootfsPlan(path: try r.readString())
        rootfs.readOnly = try r.readBool()
        rootfs.attributes = try r.readUInt64()
        rootfs.propagation = try r.readUInt()
        rootfs.devTmpfs = try r.readBool()
        rootfs.defaultDevices = try r.readBool()
        rootfs.devpts = try r.readBool()
        rootfs.bindDevices = try r.readBool()
        rootfs.idmap = try r.readOptionalString()
        rootfs.mounts = try r.readArray { r throws(WireError) -> MountSpec in
            let source = try r.readString()
            let target = try r.readString()
            let type = try r.readString()
            var options = MountOptions()
            options.flags = try r.readUInt()
            options.propagation = try r.readUInt()
            options.bind = try r.readBool()
            options.recursive = try r.readBool()
            let create = try r.readString()
            guard let mode = CreateMode(rawValue: create) else {
                throw WireError("unknown create mode \(create)")
            }
            options.create = mode
            options.optional = try r.readBool()
            options.data = try r.readStrings()
            options.idmap = try r.readOptionalString()
            return MountSpec(source: source, target: target, type: type, options: options)
        }
        rootfs.devices = try r.readArray { r throws(WireError) -> DeviceNode in
            let path = try r.readString()
            let kindName = try r.readString()
            guard let kind = DeviceNode.Kind(rawValue: kindName) else {
                throw WireError("unknown device kind \(kindName)")
            }
            return DeviceNode(
                path: path, kind: kind, major: try r.readUInt32(), minor: try r.readUInt32(),
                mode: try r.readUInt32(), uid: try r.readUInt32(), gid: try r.readUInt32())
        }
        rootfs.maskedPaths = try r.readStrings()
        rootfs.readonlyPaths = try r.readStrings()
        rootfs.writablePaths = try r.readStrings()
        rootfs.console = try r.readOptionalString()
        rootfs.ttys = try r.readStrings()
        rootfs.ttyDirectory = try r.readOptionalString()
        self.init(name: name, newNamespaces: namespaces, rootfs: rootfs, arguments: [])
        joinNamespaces = joins
        hostname = try r.readOptionalString()
        domainname = try r.readOptionalString()
        sysctls = try r.readArray { r throws(WireError) in (try r.readString(), try r.readString())
        }
        rlimits = try r.readArray { r throws(WireError) -> ResourceLimit in
            ResourceLimit(
                resource: try r.readInt32(), name: try r.readString(), soft: try r.readUInt64(),
                hard: try r.readUInt64())
        }
        let hasOOM = try r.readBool()
        let oom = try r.readInt32()
        oomScoreAdj = hasOOM ? oom : nil
        let hasPersonality = try r.readBool()
        let persona = try r.readUInt()
        personality = hasPersonality ? persona : nil
        uid = try r.readUInt32()
        gid = try r.readUInt32()
        additionalGids = try r.readArray { r throws(WireError) in try r.readUInt32() }
        let hasUmask = try r.readBool()
        let mask = try r.readUInt32()
        umask = hasUmask ? mask : nil
        if try r.readBool() {
            var sets: [CapabilitySet] = []
            for _ in 0..<5 { sets.append(CapabilitySet(mask: try r.readUInt64())) }
            capabilities = CapabilitySets(
                bounding: sets[0], effective: sets[1], permitted: sets[2], inheritable: sets[3],
                ambient: sets[4])
        }
        noNewPrivileges = try r.readBool()
        environment = try r.readStrings()
        cwd = try r.readString()
        arguments = try r.readStrings()
        guard let mode = InitMode(rawValue: try r.readInt()) else {
            throw WireError("unknown init mode")
        }
        initMode = mode
        seccompProgram = try r.readBytes()
        seccompFlags = try r.readUInt32()
        seccompAllowNesting = try r.readBool()
        bootOffset = (try r.readInt64(), try r.readInt64())
        monotonicOffset = (try r.readInt64(), try r.readInt64())
        extraFiles = try r.readInt()
        startGate = try r.readInt32()
        hooks = try HookSet(decoding: &r)
        ociHooks = try OCIContainerHooks(decoding: &r)
        guard r.isAtEnd else { throw WireError("trailing bytes") }
    }
}
