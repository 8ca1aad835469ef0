import LXCSystem

extension ContainerConfig {
    /// The model of a parsed LXC config. Throws a `ConfigError` for values only the model
    /// checks: malformed `lxc.mount.entry` lines and an unreadable `lxc.mount.fstab`.
    public init(lxc config: LXCConfiguration, name: String = "") throws(ConfigError) {
        self.init()
        self.name = name
        let scalars = config.scalars
        let lists = config.lists
        let families = config.families

        rootfs.path = scalars["lxc.rootfs.path"] ?? ""
        rootfs.options = (scalars["lxc.rootfs.options"] ?? "").split(separator: ",").map(
            String.init)
        rootfs.mountPoint = scalars["lxc.rootfs.mount"]
        hostname = scalars["lxc.uts.name"]

        initCommand.args = Values.words(scalars["lxc.init.cmd"] ?? "")
        initCommand.uid = scalars["lxc.init.uid"].flatMap { Int32($0) }.map {
            UInt32(bitPattern: $0)
        }
        initCommand.gid = scalars["lxc.init.gid"].flatMap { Int32($0) }.map {
            UInt32(bitPattern: $0)
        }
        initCommand.cwd = scalars["lxc.init.cwd"]
        initCommand.groups = (lists["lxc.init.groups"] ?? []).compactMap { UInt32($0) }

        if !initCommand.args.isEmpty {
            process.args = initCommand.args
        } else if let execute = scalars["lxc.execute.cmd"] {
            process.args = Values.words(execute)
        } else {
            process.args = ["/sbin/init"]
        }
        // lxc.environment reaches the init and the hooks; .runtime only the init, .hooks only
        // the hooks, each after the shared ones (LXC 7.0).
        let sharedEnvironment = lists["lxc.environment"] ?? []
        process.env = sharedEnvironment + (lists["lxc.environment.runtime"] ?? [])
        hooks.lxcEnvironment = sharedEnvironment + (lists["lxc.environment.hooks"] ?? [])
        process.cwd = initCommand.cwd ?? "/"
        process.uid = initCommand.uid ?? 0
        process.gid = initCommand.gid ?? 0
        process.additionalGids = initCommand.groups
        process.noNewPrivileges = scalars["lxc.no_new_privs"] == "1"
        for pair in families["lxc.prlimit"] ?? [] {
            if let limit = try? Values.limit(pair.value) {
                process.rlimits.append(
                    Rlimit(resource: pair.key, soft: limit.soft, hard: limit.hard))
            }
        }
        for pair in families["lxc.proc"] ?? [] {
            procFiles.append(KeyValue(pair.key, pair.value))
            if pair.key == "oom_score_adj" { process.oomScoreAdj = Int(pair.value) }
        }
        if let arch = scalars["lxc.arch"] {
            process.personality = arch == "i686" ? "LINUX32" : "LINUX"
        }

        for name in lists["lxc.cap.drop"] ?? [] {
            if let kernel = try? Values.kernelCapability(name) { capabilities.drop.append(kernel) }
        }
        for name in lists["lxc.cap.keep"] ?? [] {
            if let kernel = try? Values.kernelCapability(name) { capabilities.keep.append(kernel) }
        }

        namespaces.create = (lists["lxc.namespace.clone"] ?? []).compactMap {
            NamespaceKind(rawValue: $0)
        }
        namespaces.keep = (lists["lxc.namespace.keep"] ?? []).compactMap {
            NamespaceKind(rawValue: $0)
        }
        for kind in NamespaceKind.allCases {
            if let path = config.shares[kind.rawValue] {
                namespaces.join.append(Namespaces.Join(kind: kind, path: path))
            }
        }

        for line in lists["lxc.idmap"] ?? [] {
            let parts = Values.words(line)
            guard parts.count == 4, let kind = IDMap.Kind(rawValue: parts[0]),
                let inside = UInt32(parts[1]), let outside = UInt32(parts[2]),
                let count = UInt32(parts[3])
            else { continue }
            idmaps.append(IDMap(kind: kind, containerID: inside, hostID: outside, count: count))
        }

        if let fstab = scalars["lxc.mount.fstab"] {
            let text: String
            do {
                text = try FileContents.readText(fstab)
            } catch {
                throw ConfigError(
                    key: "lxc.mount.fstab", value: fstab, reason: "cannot read: \(error.errno)")
            }
            for (offset, line) in LXCConfiguration.splitLines(text).enumerated() {
                let trimmed = Values.trimmed(line)
                guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
                do {
                    mounts.append(try Self.fstabMount(trimmed))
                } catch {
                    throw ConfigError(
                        file: fstab, line: offset + 1, key: "lxc.mount.fstab", value: trimmed,
                        reason: error.reason)
                }
            }
        }
        for entry in lists["lxc.mount.entry"] ?? [] {
            do {
                mounts.append(try Self.fstabMount(entry))
            } catch {
                throw ConfigError(key: "lxc.mount.entry", value: entry, reason: error.reason)
            }
        }
        mountAuto = config.mountAuto
        autodev = scalars["lxc.autodev"] != "0"

        sysctls = (families["lxc.sysctl"] ?? []).map { KeyValue($0.key, $0.value) }
        cgroup.v1 = (families["lxc.cgroup"] ?? []).map { KeyValue($0.key, $0.value) }
        cgroup.v2 = (families["lxc.cgroup2"] ?? []).map { KeyValue($0.key, $0.value) }
        cgroup.dir = scalars["lxc.cgroup.dir"]
        cgroup.containerDir = scalars["lxc.cgroup.dir.container"]
        cgroup.containerInnerDir = scalars["lxc.cgroup.dir.container.inner"]
        cgroup.monitorDir = scalars["lxc.cgroup.dir.monitor"]
        cgroup.monitorPivotDir = scalars["lxc.cgroup.dir.monitor.pivot"]
        cgroup.relative = scalars["lxc.cgroup.relative"] == "1"

        for key in LXCConfiguration.lineLists.sorted() where key.hasPrefix("lxc.hook.") {
            let stage = String(key.dropFirst("lxc.hook.".count))
            for command in lists[key] ?? [] {
                let args = Values.words(command)
                guard let path = args.first else { continue }
                hooks.lxc[stage, default: []].append(Hook(path: path, args: args))
            }
        }
        hooks.lxcVersion = scalars["lxc.hook.version"] == "1" ? 1 : 0

        for index in config.networks.keys.sorted() {
            guard let stored = config.networks[index] else { continue }
            networks.append(Self.network(index, stored))
        }

        seccomp.profilePath = scalars["lxc.seccomp.profile"]
        seccomp.allowNesting = scalars["lxc.seccomp.allow_nesting"] == "1"
        seccomp.notifyProxy = scalars["lxc.seccomp.notify.proxy"].map { String($0.dropFirst(5)) }
        seccomp.notifyCookie = scalars["lxc.seccomp.notify.cookie"]

        timeOffsets.boot = TimeOffset(
            seconds: config.timeBoot.seconds, nanoseconds: config.timeBoot.nanoseconds)
        timeOffsets.monotonic = TimeOffset(
            seconds: config.timeMonotonic.seconds, nanoseconds: config.timeMonotonic.nanoseconds)

        signals.halt = scalars["lxc.signal.halt"].flatMap { Int($0) }
        signals.reboot = scalars["lxc.signal.reboot"].flatMap { Int($0) }
        signals.stop = scalars["lxc.signal.stop"].flatMap { Int($0) }

        console.path = scalars["lxc.console.path"]
        console.logFile = scalars["lxc.console.logfile"]
        console.bufferSize = scalars["lxc.console.buffer.size"].flatMap { UInt64($0) } ?? 0
        console.logSize = scalars["lxc.console.size"].flatMap { UInt64($0) } ?? 0
        console.rotate = scalars["lxc.console.rotate"] == "1"
        console.ttyCount = scalars["lxc.tty.max"].flatMap { Int($0) } ?? 0
        console.ttyDir = scalars["lxc.tty.dir"]
        console.ptyMax = scalars["lxc.pty.max"].flatMap { Int($0) } ?? 0

        apparmorProfile = scalars["lxc.apparmor.profile"]
        selinuxLabel = scalars["lxc.selinux.context"]
        warnings = config.warnings
    }

    /// An fstab-style line: `source target type options [dump pass]`.
    static func fstabMount(_ line: String) throws(ValueError) -> Mount {
        let parts = Values.words(line)
        guard parts.count >= 3, parts.count <= 6 else {
            throw ValueError("expected <source> <target> <type> [<options> [<dump> <pass>]]")
        }
        let options = parts.count > 3 ? parts[3].split(separator: ",").map(String.init) : []
        return Mount(
            source: unescape(parts[0]), target: unescape(parts[1]), type: parts[2],
            options: options)
    }

    /// fstab's octal escapes (`\040` for a space).
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 3 < bytes.count + 0,
                let value = UInt8(
                    String(decoding: bytes[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                result.append(value)
                index += 4
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    static func network(_ index: Int, _ stored: LXCConfiguration.Network) -> Network {
        let s = stored.scalars
        let l = stored.lists
        var network = Network(index: index)
        network.type = stored.type
        network.up = s["flags"] == "up"
        network.link = s["link"]
        network.name = s["name"]
        network.hwaddr = s["hwaddr"]
        network.mtu = s["mtu"].flatMap { UInt32($0) }
        network.ipv4Addresses = l["ipv4.address"] ?? []
        network.ipv6Addresses = l["ipv6.address"] ?? []
        network.ipv4Gateway = s["ipv4.gateway"]
        network.ipv6Gateway = s["ipv6.gateway"]
        network.vethPair = s["veth.pair"]
        network.vethMode = s["veth.mode"]
        network.vethIPv4Routes = l["veth.ipv4.route"] ?? []
        network.vethIPv6Routes = l["veth.ipv6.route"] ?? []
        network.vethVlanID = s["veth.vlan.id"].flatMap { Int($0) }
        network.vethTaggedVlanIDs = (l["veth.vlan.tagged.id"] ?? []).compactMap { UInt16($0) }
        network.macvlanMode = s["macvlan.mode"]
        network.ipvlanMode = s["ipvlan.mode"]
        network.ipvlanIsolation = s["ipvlan.isolation"]
        network.vlanID = s["vlan.id"].flatMap { UInt16($0) }
        network.l2proxy = s["l2proxy"] == "1"
        network.scriptUp = s["script.up"]
        network.scriptDown = s["script.down"]
        return network
    }
}
