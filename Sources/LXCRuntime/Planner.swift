import Glibc
import LXCCapabilities
import LXCConfig
import LXCConsole
import LXCInit
import LXCMount
import LXCSystem

/// A config the runtime cannot carry out, naming the key (or JSON path) and why.
public struct PlanError: Error, Equatable, Sendable, CustomStringConvertible {
    public var key: String
    public var reason: String

    public init(_ key: String, _ reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "\(key): \(reason)" }
}

/// Turns the container model into a launch: the plan the container side performs and what
/// the host does around it. LXC configs and OCI bundles differ in their defaults (LXC's
/// autodev and `lxc.mount.auto`, OCI's explicit mounts and default devices), so each has its
/// entry; everything after that is shared.
public enum Planner {
    /// The flavour of a config's defaults.
    public enum Flavor: Sendable {
        /// An LXC config (`lxc-execute`, `lxc-start`).
        case lxc
        /// An OCI bundle (`crun run`).
        case oci
    }

    /// A launch for `config`. `arguments` replaces the config's command (`lxc-execute -- CMD`),
    /// and `initMode` says whether a minimal init stays as PID 1.
    public static func launch(
        _ config: ContainerConfig, flavor: Flavor, arguments: [String]? = nil,
        initMode: ContainerPlan.InitMode, lxcpath: String = "/var/lib/lxc"
    ) throws(PlanError) -> LaunchRequest {
        try refuseWhatIsNotSupported(config, flavor: flavor)

        let name = config.name.isEmpty ? "container" : config.name
        guard !config.rootfs.path.isEmpty else {
            throw PlanError(
                flavor == .lxc ? "lxc.rootfs.path" : "root.path", "no root filesystem given")
        }
        let rootfsPath = try absoluteRootfs(config.rootfs.path, flavor: flavor)
        let namespaces = try namespaceSet(config, flavor: flavor)

        var rootfs = RootfsPlan(path: rootfsPath)
        do {
            // lxc.rootfs.options: mount flags for the root itself; `ro` makes it read-only.
            let options = try MountOptions(parsing: config.rootfs.options)
            rootfs.readOnly = config.rootfs.readOnly || options.flags & UInt(MS_RDONLY) != 0
            rootfs.attributes = options.attributes & ~UInt64(MOUNT_ATTR_RDONLY)
            rootfs.idmap = options.idmap
            if !options.data.isEmpty || options.bind || options.create != .none {
                throw PlanError(
                    "lxc.rootfs.options",
                    "\((options.data + (options.bind ? ["bind"] : [])).joined(separator: ",")) "
                        + "is not supported for a directory rootfs")
            }
        } catch let error as PlanError {
            throw error
        } catch {
            throw PlanError("lxc.rootfs.options", "\(error)")
        }
        rootfs.propagation = try propagation(config.rootfs.propagation)
        // mknod is refused in a user namespace, and by a device cgroup that denies it: bind
        // the host's nodes instead (decided here, before the stage could fail on it).
        let deviceRules = (config.cgroup.v1 + config.cgroup.v2).contains {
            $0.key.hasPrefix("devices.")
        }
        rootfs.bindDevices = namespaces.contains(.user) || deviceRules
        switch flavor {
        case .lxc:
            rootfs.devTmpfs = config.autodev
            rootfs.defaultDevices = config.autodev
            rootfs.devpts = true
            rootfs.mounts = try autoMounts(config.mountAuto, namespaces: namespaces)
        case .oci:
            rootfs.defaultDevices = true
        }
        for (index, mount) in config.mounts.enumerated() {
            if mount.type == "cgroup" && mount.target == "/sys/fs/cgroup" {
                // One cgroup mount stands for every hierarchy of the host: a tmpfs with each
                // v1 hierarchy and the unified one, or cgroup2 alone on a cgroup2 host.
                rootfs.mounts += try cgroupMounts(
                    cgroup2Only: false, readOnly: mount.options.contains("ro"))
                continue
            }
            rootfs.mounts.append(
                try mountSpec(mount, index: index, rootfs: rootfsPath, flavor: flavor))
        }
        try checkIdmaps(rootfs, namespaces: namespaces, flavor: flavor)
        rootfs.devices = try config.devices.map { device throws(PlanError) in try deviceNode(device)
        }
        rootfs.maskedPaths = config.maskedPaths
        rootfs.readonlyPaths = config.readonlyPaths
        if flavor == .lxc, config.mountAuto.proc == .mixed {
            rootfs.readonlyPaths += ["/proc/sys", "/proc/sysrq-trigger"]
            rootfs.writablePaths += ["/proc/sys/net"]
        }
        if flavor == .lxc, config.mountAuto.sys == .mixed {
            rootfs.writablePaths += ["/sys/devices/virtual/net"]
        }

        let command = arguments ?? config.process.args
        guard !command.isEmpty else {
            throw PlanError(flavor == .lxc ? "lxc.init.cmd" : "process.args", "no command given")
        }
        var plan = ContainerPlan(
            name: name, newNamespaces: namespaces, rootfs: rootfs, arguments: command)
        plan.hostname = config.hostname ?? (flavor == .lxc ? name : nil)
        plan.domainname = config.domainname
        plan.joinNamespaces = try config.namespaces.join.map { join throws(PlanError) in
            let kind = try namespace(join.kind)
            let path = try namespacePath(join.path, kind: kind, lxcpath: lxcpath)
            return ContainerPlan.NamespaceJoin(namespace: kind, path: path)
        }
        plan.sysctls = config.sysctls.map { ($0.key, $0.value) }
        plan.rlimits = try config.process.rlimits.map { limit throws(PlanError) in
            guard let number = resourceNumbers[limit.resource] else {
                throw PlanError("lxc.prlimit.\(limit.resource)", "unknown resource")
            }
            return ContainerPlan.ResourceLimit(
                resource: number, name: limit.resource, soft: limit.soft, hard: limit.hard)
        }
        plan.oomScoreAdj = try oomScoreAdj(config)
        plan.personality = try personality(config.process.personality)
        plan.uid = config.process.uid
        plan.gid = config.process.gid
        plan.additionalGids = config.process.additionalGids
        plan.umask = config.process.umask
        plan.noNewPrivileges = config.process.noNewPrivileges
        plan.environment = environment(config.process.env, flavor: flavor)
        plan.cwd = config.process.cwd.isEmpty ? "/" : config.process.cwd
        plan.capabilities = try capabilities(config.capabilities)
        var warnings = config.warnings
        if var sets = plan.capabilities {
            // The kernel raises an ambient capability only if it is permitted and inheritable;
            // runc and crun skip the others, and so does SwiftLXC, saying so.
            let raisable = sets.ambient.intersection(sets.permitted).intersection(sets.inheritable)
            for skipped in sets.ambient.subtracting(raisable).members {
                warnings.append(
                    "process.capabilities.ambient: \(skipped) is not permitted and inheritable, "
                        + "so it is not raised")
            }
            sets.ambient = raisable
            plan.capabilities = sets
        }
        // setns into a pid namespace applies to children only: the workload must be forked.
        plan.initMode =
            plan.joinNamespaces.contains { $0.namespace == .pid } ? .minimalInit : initMode
        plan.bootOffset = (config.timeOffsets.boot.seconds, config.timeOffsets.boot.nanoseconds)
        plan.monotonicOffset = (
            config.timeOffsets.monotonic.seconds, config.timeOffsets.monotonic.nanoseconds
        )
        plan.hooks = hookSet(config, name: name, rootfs: rootfsPath)
        func commands(_ stage: String) -> [OCIHookCommand] {
            (config.hooks.oci[stage] ?? []).map {
                OCIHookCommand(path: $0.path, args: $0.args, env: $0.env, timeout: $0.timeout)
            }
        }
        plan.ociHooks.createContainer = commands("createContainer")
        plan.ociHooks.startContainer = commands("startContainer")
        var request = LaunchRequest(plan: plan)
        request.warnings = warnings
        if let filter = try seccompFilter(config, flavor: flavor, bounding: plan.capabilities) {
            request.plan.seccompProgram = filter.program
            request.plan.seccompFlags = filter.flags.rawValue
            request.plan.seccompAllowNesting = config.seccomp.allowNesting
            request.warnings += filter.warnings
            request.seccompProxy = config.seccomp.notifyProxy
            request.seccompCookie = config.seccomp.notifyCookie
            request.seccompAgent = config.seccomp.oci?.listenerPath
            request.seccompAgentMetadata = config.seccomp.oci?.listenerMetadata
        }
        switch flavor {
        case .lxc:
            request.cgroup = try lxcCgroup(config, name: name)
            request.monitorCgroup = try lxcMonitorCgroup(config)
            request.networks = networkSpecs(config)
            request.console = consoleOptions(config, warnings: &request.warnings)
            try planTTYs(config, into: &request)
        case .oci:
            request.cgroup = try ociCgroup(config, id: name)
        }
        request.idMappings = config.idmaps
        if namespaces.contains(.user) {
            request.console?.owner = rootOwner(config.idmaps)
            request.ttys?.owner = rootOwner(config.idmaps)
        }
        if namespaces.contains(.user) && request.idMappings.isEmpty {
            throw PlanError(
                flavor == .lxc ? "lxc.idmap" : "linux.uidMappings",
                "a user namespace needs uid and gid mappings")
        }
        return request
    }

    // MARK: - Pieces

    /// `lxc.console.*`: a console unless `lxc.console.path` is `none`.
    private static func consoleOptions(_ config: ContainerConfig, warnings: inout [String])
        -> ConsoleOptions?
    {
        let console = config.console
        if console.path == "none" { return nil }
        if let path = console.path, !path.isEmpty {
            warnings.append(
                "lxc.console.path: the console is not forwarded to \(path); it goes to the "
                    + "ring buffer and lxc.console.logfile")
        }
        var options = ConsoleOptions()
        options.bufferSize = console.bufferSize
        options.logFile = console.logFile.flatMap { $0.isEmpty ? nil : $0 }
        options.logSize = console.logSize
        options.rotate = console.rotate
        return options
    }

    /// `lxc.tty.max` and `lxc.tty.dir`: the monitor makes the terminals and names them in
    /// the plan; the directory is one name under `/dev`.
    private static func planTTYs(_ config: ContainerConfig, into request: inout LaunchRequest)
        throws(PlanError)
    {
        let count = config.console.ttyCount
        guard count >= 0 else { throw PlanError("lxc.tty.max", "\(count) is not a count of ttys") }
        guard count > 0 else { return }
        request.ttys = TTYOptions(count: count)
        if let directory = config.console.ttyDir, !directory.isEmpty {
            guard !directory.contains("/"), directory != ".", directory != ".." else {
                throw PlanError("lxc.tty.dir", "\(directory) is not a directory name under /dev")
            }
            request.plan.rootfs.ttyDirectory = directory
        }
    }

    /// The host uid and gid that a user namespace maps to the container's root, if mapped.
    private static func rootOwner(_ maps: [IDMapping]) -> (uid: UInt32, gid: UInt32)? {
        func root(_ kind: IDMapping.Kind) -> UInt32? {
            maps.first { $0.kind == kind && $0.containerID == 0 && $0.count > 0 }?.hostID
        }
        guard let uid = root(.user), let gid = root(.group) else { return nil }
        return (uid, gid)
    }

    /// Features whose issues have not landed: refusing them beats running a container
    /// without the limits, network or filter its config asks for.
    private static func refuseWhatIsNotSupported(_ config: ContainerConfig, flavor: Flavor)
        throws(PlanError)
    {
        let known = [
            "pre-start", "pre-mount", "mount", "autodev", "start", "start-host", "stop",
            "post-stop", "clone", "destroy",
        ]
        if let stage = config.hooks.lxc.keys.sorted().first(where: { !known.contains($0) }) {
            throw PlanError("lxc.hook.\(stage)", "this hook is not supported")
        }
        // config.md: every hook's path is absolute (in the runtime's namespace, or for
        // startContainer the container's).
        for stage in config.hooks.oci.keys.sorted() {
            for (index, hook) in (config.hooks.oci[stage] ?? []).enumerated()
            where !hook.path.hasPrefix("/") {
                throw PlanError(
                    "hooks.\(stage)[\(index)].path", "\(hook.path) is not an absolute path")
            }
        }
    }

    /// `lxc.namespace.share.<ns>`: a namespace file, a pid, or a running container's name
    /// in `lxcpath`, whose init's namespace is joined.
    private static func namespacePath(_ value: String, kind: Namespace, lxcpath: String)
        throws(PlanError) -> String
    {
        if value.hasPrefix("/") { return value }
        let key = "lxc.namespace.share.\(kind.procName)"
        if let pid = pid_t(value), pid > 0 { return "/proc/\(pid)/ns/\(kind.procName)" }
        do {
            let reply = try CommandClient.send(.initPID, lxcpath: lxcpath, name: value).reply
            guard let pid = reply.payload.first.flatMap({ pid_t($0) }), pid > 0 else {
                throw PlanError(key, "container \(value) has no init")
            }
            return "/proc/\(pid)/ns/\(kind.procName)"
        } catch let error as PlanError {
            throw error
        } catch {
            throw PlanError(key, "container \(value) is not running in \(lxcpath)")
        }
    }

    private static func absoluteRootfs(_ path: String, flavor: Flavor) throws(PlanError) -> String {
        var path = path
        for prefix in ["dir:", "dir"]
        where path.hasPrefix(prefix + "/") || path.hasPrefix(prefix + ":") {
            path = String(path.dropFirst(prefix.count).drop { $0 == ":" })
        }
        guard path.hasPrefix("/") else {
            throw PlanError(
                flavor == .lxc ? "lxc.rootfs.path" : "root.path",
                "\(path) must be an absolute path")
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw PlanError(
                flavor == .lxc ? "lxc.rootfs.path" : "root.path",
                "\(path) is not a directory")
        }
        return path
    }

    private static func namespace(_ kind: ContainerConfig.NamespaceKind) throws(PlanError)
        -> Namespace
    {
        switch kind {
        case .user: return .user
        case .mnt: return .mount
        case .pid: return .pid
        case .uts: return .uts
        case .ipc: return .ipc
        case .net: return .network
        case .cgroup: return .cgroup
        case .time: return .time
        }
    }

    private static func namespaceSet(_ config: ContainerConfig, flavor: Flavor) throws(PlanError)
        -> NamespaceSet
    {
        var set: NamespaceSet
        if !config.namespaces.create.isEmpty {
            set = []
            for kind in config.namespaces.create { set.insert(NamespaceSet([try namespace(kind)])) }
        } else if flavor == .lxc {
            // LXC's default: every namespace; the network one unless a network says `none`.
            set = NamespaceSet([.mount, .pid, .uts, .ipc, .cgroup])
            if !config.networks.contains(where: { $0.type == "none" }) {
                set.insert(NamespaceSet([.network]))
            }
            if !config.idmaps.isEmpty { set.insert(NamespaceSet([.user])) }
        } else {
            set = []
        }
        for kind in config.namespaces.keep {
            set.remove(NamespaceSet([try namespace(kind)]))
        }
        for join in config.namespaces.join {
            set.remove(NamespaceSet([try namespace(join.kind)]))
        }
        // LXC makes a time namespace when an offset is set.
        if flavor == .lxc && config.timeOffsets != ContainerConfig.TimeOffsets() {
            set.insert(NamespaceSet([.time]))
        }
        guard set.contains(.mount) else {
            throw PlanError(
                flavor == .lxc ? "lxc.namespace.keep" : "linux.namespaces",
                "a container needs its own mount namespace")
        }
        return set
    }

    private static func propagation(_ word: String?) throws(PlanError) -> UInt {
        guard let word, !word.isEmpty else { return 0 }
        guard let flags = MountOptions.propagationFlags[word] else {
            throw PlanError("linux.rootfsPropagation", "unknown propagation \(word)")
        }
        return flags
    }

    /// `lxc.mount.auto` as mounts, in LXC's order: proc, sys, cgroup.
    private static func autoMounts(_ auto: MountAuto, namespaces: NamespaceSet) throws(PlanError)
        -> [MountSpec]
    {
        var mounts: [MountSpec] = []
        func add(_ source: String, _ target: String, _ type: String, _ options: String)
            throws(PlanError)
        {
            do {
                mounts.append(
                    MountSpec(
                        source: source, target: target, type: type,
                        options: try MountOptions(parsing: options + ",create=dir")))
            } catch {
                throw PlanError("lxc.mount.auto", error.description)
            }
        }
        if auto.proc != nil {
            try add("proc", "/proc", "proc", "nosuid,nodev,noexec")
        }
        switch auto.sys {
        case .mixed?, .ro?:
            try add("sysfs", "/sys", "sysfs", "ro,nosuid,nodev,noexec")
        case .rw?:
            try add("sysfs", "/sys", "sysfs", "nosuid,nodev,noexec")
        case nil:
            break
        }
        if let cgroup = auto.cgroup, cgroup.kind == .cgroup2 {
            // LXC 4.0.12: every cgroup2 token is forced, and mounts the unified hierarchy as
            // the container's cgroup namespace sees it, so it needs that namespace.
            guard namespaces.contains(.cgroup) else {
                throw PlanError(
                    "lxc.mount.auto",
                    "cgroup2 needs a cgroup namespace, and lxc.namespace.keep keeps the caller's")
            }
            guard hostHasUnifiedHierarchy() else {
                throw PlanError(
                    "lxc.mount.auto", "cgroup2: no unified cgroup hierarchy is mounted on the host")
            }
            mounts += try cgroupMounts(cgroup2Only: true, readOnly: cgroup.mode == .ro)
        } else if let cgroup = auto.cgroup {
            let readOnly = cgroup.mode != .rw
            mounts += try cgroupMounts(cgroup2Only: false, readOnly: readOnly)
        }
        if auto.sharedMounts != nil {
            throw PlanError("lxc.mount.auto", "shmounts is not supported yet")
        }
        return mounts
    }

    /// True when the host has a cgroup2 (unified) hierarchy mounted, alone or beside v1 ones.
    private static func hostHasUnifiedHierarchy() -> Bool {
        let info = (try? FileContents.readText("/proc/self/mountinfo")) ?? ""
        return info.split(separator: "\n").contains { $0.contains(" - cgroup2 ") }
    }

    /// The host's cgroup hierarchies, mounted again inside the container's cgroup namespace.
    /// Read-only unless `rw` was asked: until the container has cgroups of its own, their
    /// roots are the caller's.
    private static func cgroupMounts(cgroup2Only: Bool, readOnly: Bool) throws(PlanError)
        -> [MountSpec]
    {
        let ro = readOnly ? "ro," : ""
        let info = (try? FileContents.readText("/proc/self/mountinfo")) ?? ""
        var v1: [(String, [String])] = []
        var unified: String?
        for line in info.split(separator: "\n") {
            // mountinfo: optional fields end at a lone "-", then type, source, options.
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-") else { continue }
            let left = fields[..<dash]
            let right = Array(fields[(dash + 1)...])
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = String(left[left.startIndex + 4])
            guard mountPoint.hasPrefix("/sys/fs/cgroup") else { continue }
            if right[0] == "cgroup2" {
                unified = mountPoint
            } else if right[0] == "cgroup" {
                let controllers = right[2].split(separator: ",").map(String.init).filter {
                    !["rw", "ro", "relatime", "nosuid", "nodev", "noexec"].contains($0)
                }
                v1.append((mountPoint, controllers))
            }
        }
        var mounts: [MountSpec] = []
        func spec(_ source: String, _ target: String, _ type: String, _ options: String)
            throws(PlanError) -> MountSpec
        {
            do {
                return MountSpec(
                    source: source, target: target, type: type,
                    options: try MountOptions(parsing: options))
            } catch {
                throw PlanError("lxc.mount.auto", error.description)
            }
        }
        if cgroup2Only || v1.isEmpty {
            mounts.append(
                try spec(
                    "cgroup2", "/sys/fs/cgroup", "cgroup2",
                    ro + "nosuid,nodev,noexec,create=dir"))
            return mounts
        }
        mounts.append(
            try spec(
                "tmpfs", "/sys/fs/cgroup", "tmpfs",
                "nosuid,nodev,noexec,mode=755,create=dir"))
        for (mountPoint, controllers) in v1 {
            let data = controllers.joined(separator: ",")
            mounts.append(
                try spec(
                    "cgroup", mountPoint, "cgroup",
                    ro + "nosuid,nodev,noexec,create=dir," + data))
        }
        if let unified, unified != "/sys/fs/cgroup" {
            mounts.append(
                try spec("cgroup2", unified, "cgroup2", ro + "nosuid,nodev,noexec,create=dir"))
        }
        return mounts
    }

    /// `idmap=` only on binds, and `idmap=container` only with a new user namespace (the host
    /// makes the trees from the stage's before it could join another).
    private static func checkIdmaps(_ rootfs: RootfsPlan, namespaces: NamespaceSet, flavor: Flavor)
        throws(PlanError)
    {
        let key = flavor == .lxc ? "lxc.mount.entry" : "mounts"
        let noUserNamespace = "idmap=container needs a new user namespace (lxc.idmap)"
        if rootfs.idmap == "container" && !namespaces.contains(.user) {
            throw PlanError("lxc.rootfs.options", noUserNamespace)
        }
        for mount in rootfs.mounts {
            guard let value = mount.options.idmap else { continue }
            if !mount.isBind {
                throw PlanError(key, "\(mount.target): idmap= needs a bind mount")
            }
            if value == "container" && !namespaces.contains(.user) {
                throw PlanError(key, "\(mount.target): \(noUserNamespace)")
            }
        }
    }

    private static func mountSpec(
        _ mount: ContainerConfig.Mount, index: Int, rootfs: String, flavor: Flavor
    ) throws(PlanError) -> MountSpec {
        let key = flavor == .lxc ? "lxc.mount.entry" : "mounts[\(index)]"
        if !mount.uidMappings.isEmpty || !mount.gidMappings.isEmpty {
            throw PlanError(key, "idmapped mounts are not supported yet")
        }
        var options: MountOptions
        do {
            options = try MountOptions(parsing: mount.options)
        } catch {
            throw PlanError(key, "\(mount.target): \(error)")
        }
        if mount.type == "bind" || mount.type == "rbind" {
            options.bind = true
            if mount.type == "rbind" { options.recursive = true }
        }
        // LXC targets are relative to the rootfs; some configs spell the rootfs path out.
        var target = mount.target
        if target.hasPrefix(rootfs + "/") { target = String(target.dropFirst(rootfs.count)) }
        if !target.hasPrefix("/") { target = "/" + target }
        // A bind's source is a host path; OCI allows one relative to the bundle.
        if options.bind && !mount.source.hasPrefix("/") {
            throw PlanError(key, "bind source \(mount.source) must be an absolute path")
        }
        // OCI runtimes create every missing destination: a file for a bind of a file.
        if flavor == .oci && options.create == .none {
            var info = stat()
            let isFile =
                options.bind && stat(mount.source, &info) == 0 && (info.st_mode & S_IFMT) != S_IFDIR
            options.create = isFile ? .file : .directory
        }
        return MountSpec(source: mount.source, target: target, type: mount.type, options: options)
    }

    private static func deviceNode(_ device: ContainerConfig.Device) throws(PlanError) -> DeviceNode
    {
        let kind: DeviceNode.Kind
        switch device.type {
        case "c", "u": kind = .character
        case "b": kind = .block
        case "p": kind = .fifo
        default: throw PlanError("linux.devices", "\(device.path): unknown type \(device.type)")
        }
        guard device.path.hasPrefix("/dev/"),
            let major = UInt32(exactly: device.major), let minor = UInt32(exactly: device.minor)
        else {
            throw PlanError("linux.devices", "\(device.path): invalid path or numbers")
        }
        return DeviceNode(
            path: device.path, kind: kind, major: major, minor: minor,
            mode: mode_t(device.fileMode ?? 0o666), uid: device.uid ?? 0, gid: device.gid ?? 0)
    }

    private static func capabilities(_ caps: ContainerConfig.Capabilities) throws(PlanError)
        -> CapabilitySets?
    {
        func parse(_ names: [String], _ key: String) throws(PlanError) -> [Capability] {
            try names.map { name throws(PlanError) in
                guard let capability = Capability(name: name) else {
                    throw PlanError(key, "unknown capability \(name)")
                }
                return capability
            }
        }
        if let oci = caps.oci {
            return CapabilitySets(
                bounding: CapabilitySet(try parse(oci.bounding, "process.capabilities.bounding")),
                effective: CapabilitySet(
                    try parse(oci.effective, "process.capabilities.effective")),
                permitted: CapabilitySet(
                    try parse(oci.permitted, "process.capabilities.permitted")),
                inheritable: CapabilitySet(
                    try parse(oci.inheritable, "process.capabilities.inheritable")),
                ambient: CapabilitySet(try parse(oci.ambient, "process.capabilities.ambient")))
        }
        if caps.drop.isEmpty && caps.keep.isEmpty { return nil }
        return CapabilitySets.lxc(
            drop: try parse(caps.drop, "lxc.cap.drop"), keep: try parse(caps.keep, "lxc.cap.keep"),
            available: CapabilitySets.currentBoundingSet())
    }

    private static func oomScoreAdj(_ config: ContainerConfig) throws(PlanError) -> Int32? {
        if let value = config.process.oomScoreAdj {
            guard let score = Int32(exactly: value), (-1000...1000).contains(score) else {
                throw PlanError("process.oomScoreAdj", "\(value) is outside -1000…1000")
            }
            return score
        }
        for entry in config.procFiles where entry.key == "oom_score_adj" {
            guard let score = Int32(entry.value), (-1000...1000).contains(score) else {
                throw PlanError("lxc.proc.oom_score_adj", "\(entry.value) is outside -1000…1000")
            }
            return score
        }
        if let other = config.procFiles.first(where: { $0.key != "oom_score_adj" }) {
            throw PlanError("lxc.proc.\(other.key)", "only lxc.proc.oom_score_adj is supported yet")
        }
        return nil
    }

    private static func personality(_ name: String?) throws(PlanError) -> UInt? {
        guard let name else { return nil }
        switch name.uppercased() {
        case "LINUX", "X86_64", "AMD64": return 0
        case "LINUX32", "I686", "I386", "X86": return 0x0008
        default: throw PlanError("lxc.arch", "unknown personality \(name)")
        }
    }

    private static func environment(_ env: [String], flavor: Flavor) -> [String] {
        guard flavor == .lxc else { return env }
        // LXC gives the init a PATH and `container=lxc` unless the config sets them.
        var result = env
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            result.insert(
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", at: 0)
        }
        if !env.contains(where: { $0.hasPrefix("container=") }) {
            result.append("container=lxc")
        }
        return result
    }

    /// LXC's hooks with the environment LXC gives them.
    public static func hookSet(_ config: ContainerConfig, name: String, rootfs: String)
        -> HookSet
    {
        var hooks = HookSet()
        hooks.name = name
        hooks.version = config.hooks.lxcVersion
        hooks.commands = config.hooks.lxc.mapValues { $0.map(\.args) }
        // lxc.environment and lxc.environment.hooks, never lxc.environment.runtime.
        hooks.environment =
            config.hooks.lxcEnvironment + [
                "LXC_NAME=\(name)", "LXC_ROOTFS_PATH=\(rootfs)", "LXC_ROOTFS_MOUNT=\(rootfs)",
                "LXC_CGNS_AWARE=1",
            ]
        return hooks
    }

    /// `RLIMIT_*` by LXC's lowercase name.
    static let resourceNumbers: [String: Int32] = [
        "as": 9, "core": 4, "cpu": 0, "data": 2, "fsize": 1, "locks": 10, "memlock": 8,
        "msgqueue": 12, "nice": 13, "nofile": 7, "nproc": 6, "rss": 5, "rtprio": 14,
        "rttime": 15, "sigpending": 11, "stack": 3,
    ]
}
