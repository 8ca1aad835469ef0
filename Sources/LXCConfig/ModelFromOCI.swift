import LXCSystem

extension ContainerConfig {
    /// The model of an OCI bundle's `config.json`; a relative `root.path` is resolved against
    /// `bundle`. Throws an `OCIError` for unknown capability or namespace names.
    public init(oci spec: OCISpec, bundle: String, name: String = "", warnings: [String] = [])
        throws(OCIError)
    {
        self.init()
        self.name = name
        self.warnings = warnings
        if let root = spec.root {
            let base = bundle.hasSuffix("/") ? String(bundle.dropLast()) : bundle
            rootfs.path = root.path.hasPrefix("/") ? root.path : base + "/" + root.path
            rootfs.readOnly = root.readonly ?? false
        }
        hostname = spec.hostname
        domainname = spec.domainname
        annotations = (spec.annotations ?? [:]).sorted { $0.key < $1.key }.map {
            KeyValue($0.key, $0.value)
        }
        autodev = false

        if let oci = spec.process {
            process.args = oci.args ?? []
            process.env = oci.env ?? []
            process.cwd = oci.cwd
            process.uid = oci.user.uid
            process.gid = oci.user.gid
            process.additionalGids = oci.user.additionalGids ?? []
            process.umask = oci.user.umask
            process.terminal = oci.terminal ?? false
            process.noNewPrivileges = oci.noNewPrivileges ?? false
            process.oomScoreAdj = oci.oomScoreAdj
            if let size = oci.consoleSize { process.consoleSize = (size.height, size.width) }
            for limit in oci.rlimits ?? [] {
                var resource = limit.type.lowercased()
                if resource.hasPrefix("rlimit_") { resource.removeFirst(7) }
                guard Values.resources.contains(resource) else {
                    throw OCIError(path: "process.rlimits", reason: "unknown rlimit \(limit.type)")
                }
                process.rlimits.append(
                    Rlimit(resource: resource, soft: limit.soft, hard: limit.hard))
            }
            if let caps = oci.capabilities {
                var sets = Capabilities.OCISets()
                sets.bounding = try Self.kernelNames(caps.bounding, "bounding")
                sets.effective = try Self.kernelNames(caps.effective, "effective")
                sets.permitted = try Self.kernelNames(caps.permitted, "permitted")
                sets.inheritable = try Self.kernelNames(caps.inheritable, "inheritable")
                sets.ambient = try Self.kernelNames(caps.ambient, "ambient")
                capabilities.oci = sets
            }
            apparmorProfile = oci.apparmorProfile
            selinuxLabel = oci.selinuxLabel
        }

        for (index, mount) in (spec.mounts ?? []).enumerated() {
            var model = Mount(
                source: mount.source ?? "", target: mount.destination, type: mount.type ?? "",
                options: mount.options ?? [])
            model.uidMappings = Self.idmaps(mount.uidMappings, .user)
            model.gidMappings = Self.idmaps(mount.gidMappings, .group)
            guard mount.destination.hasPrefix("/") else {
                throw OCIError(path: "mounts[\(index)].destination", reason: "must be absolute")
            }
            mounts.append(model)
        }

        if let ociHooks = spec.hooks {
            let stages: [(String, [OCISpec.Hook]?)] = [
                ("prestart", ociHooks.prestart), ("createRuntime", ociHooks.createRuntime),
                ("createContainer", ociHooks.createContainer),
                ("startContainer", ociHooks.startContainer), ("poststart", ociHooks.poststart),
                ("poststop", ociHooks.poststop),
            ]
            for (stage, list) in stages {
                for hook in list ?? [] {
                    var model = Hook(path: hook.path, args: hook.args ?? [hook.path])
                    model.env = hook.env ?? []
                    model.timeout = hook.timeout
                    hooks.oci[stage, default: []].append(model)
                }
            }
        }

        guard let linux = spec.linux else { return }
        for (index, namespace) in (linux.namespaces ?? []).enumerated() {
            guard let kind = Self.namespaceKinds[namespace.type] else {
                throw OCIError(
                    path: "linux.namespaces[\(index)].type",
                    reason: "unknown namespace \(namespace.type)")
            }
            if let path = namespace.path {
                namespaces.join.append(Namespaces.Join(kind: kind, path: path))
            } else {
                namespaces.create.append(kind)
            }
        }
        idmaps = Self.idmaps(linux.uidMappings, .user) + Self.idmaps(linux.gidMappings, .group)
        for (index, device) in (linux.devices ?? []).enumerated() {
            guard ["c", "b", "u", "p"].contains(device.type) else {
                throw OCIError(
                    path: "linux.devices[\(index)].type", reason: "unknown device type")
            }
            var model = Device(
                path: device.path, type: device.type, major: device.major ?? 0,
                minor: device.minor ?? 0)
            model.fileMode = device.fileMode
            model.uid = device.uid
            model.gid = device.gid
            devices.append(model)
        }
        cgroup.path = linux.cgroupsPath
        cgroup.resources = linux.resources
        cgroup.v2 = (linux.resources?.unified ?? [:]).sorted { $0.key < $1.key }.map {
            KeyValue($0.key, $0.value)
        }
        rootfs.propagation = linux.rootfsPropagation
        seccomp.oci = linux.seccomp
        sysctls = (linux.sysctl ?? [:]).sorted { $0.key < $1.key }.map {
            KeyValue($0.key, $0.value)
        }
        maskedPaths = linux.maskedPaths ?? []
        readonlyPaths = linux.readonlyPaths ?? []
        mountLabel = linux.mountLabel
        process.personality = linux.personality?.domain
        for (clock, offset) in linux.timeOffsets ?? [:] {
            let value = TimeOffset(seconds: offset.secs ?? 0, nanoseconds: offset.nanosecs ?? 0)
            switch clock {
            case "boottime": timeOffsets.boot = value
            case "monotonic": timeOffsets.monotonic = value
            default:
                throw OCIError(path: "linux.timeOffsets.\(clock)", reason: "unknown clock")
            }
        }
    }

    /// Reads and decodes `config.json` and builds the model; the bundle is its directory.
    public init(ociFile path: String, name: String = "") throws(OCIError) {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path)
        } catch {
            throw OCIError(file: path, path: "", reason: "cannot read: \(error.errno)")
        }
        let (spec, warnings) = try OCISpec.decode(bytes, file: path)
        let bundle = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        do {
            try self.init(
                oci: spec, bundle: bundle.isEmpty ? "/" : bundle, name: name,
                warnings: warnings)
        } catch {
            var located = error
            located.file = path
            throw located
        }
    }

    static let namespaceKinds: [String: NamespaceKind] = [
        "pid": .pid, "network": .net, "mount": .mnt, "ipc": .ipc, "uts": .uts, "user": .user,
        "cgroup": .cgroup, "time": .time,
    ]

    static func kernelNames(_ names: [String]?, _ set: String) throws(OCIError) -> [String] {
        var result: [String] = []
        for name in names ?? [] {
            do {
                result.append(try Values.kernelCapability(name))
            } catch {
                throw OCIError(path: "process.capabilities.\(set)", reason: error.reason)
            }
        }
        return result
    }

    static func idmaps(_ list: [OCISpec.IDMapping]?, _ kind: IDMap.Kind) -> [IDMap] {
        (list ?? []).map {
            IDMap(kind: kind, containerID: $0.containerID, hostID: $0.hostID, count: $0.size)
        }
    }
}
