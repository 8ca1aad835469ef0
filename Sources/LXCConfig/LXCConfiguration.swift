import Glibc

/// An LXC config: the items set, with LXC 5.0.2's set, get and clear semantics per key, and
/// the text `save` writes (LXC's "unexpanded" config: the lines as loaded or set).
///
/// A failed `set` leaves the configuration as it was. Deliberate differences from LXC: a value
/// LXC stores and then reports as an error (`lxc.autodev = 2`) is refused without being
/// stored, malformed numbers LXC silently reads as a default (`lxc.init.gid = abc`,
/// `lxc.autodev.tmpfs.size = abc`, `lxc.net.0.mtu = abc`) are refused, and
/// `lxc.prlimit.<resource>` must name a resource the kernel knows.
public struct LXCConfiguration: Sendable, Equatable {
    /// The lines `save` writes, without line ends, in order: loaded lines keep their comments
    /// and blank lines; items set through `set` are appended as `key = value`.
    public internal(set) var lines: [String] = []
    /// Notes about lines LXC ignores (not `lxc.` keys), each naming file and line.
    public internal(set) var warnings: [String] = []

    var scalars: [String: String] = [:]
    var lists: [String: [String]] = [:]
    var families: [String: [Pair]] = [:]
    var shares: [String: String] = [:]
    var networks: [Int: Network] = [:]
    var mountAuto = MountAuto()
    var timeBoot = TimeOffsetValue()
    var timeMonotonic = TimeOffsetValue()
    /// The file whose line is being applied, so a relative `lxc.include` resolves beside it.
    var includeBase: String?

    struct Pair: Sendable, Equatable {
        var key: String
        var value: String
    }

    struct TimeOffsetValue: Sendable, Equatable {
        var seconds: Int64 = 0
        var nanoseconds: Int64 = 0
    }

    struct Network: Sendable, Equatable {
        var scalars: [String: String] = [:]
        var lists: [String: [String]] = [:]
        var type: String { scalars["type"] ?? "" }
    }

    /// An empty configuration.
    public init() {}

    // MARK: Key kinds

    static let booleans: [String: String] = [
        "lxc.apparmor.allow_incomplete": "0", "lxc.apparmor.allow_nesting": "0",
        "lxc.autodev": "1", "lxc.cgroup.relative": "0", "lxc.console.rotate": "0",
        "lxc.sched.core": "0", "lxc.ephemeral": "0", "lxc.hook.version": "0",
        "lxc.keyring.session": "0", "lxc.no_new_privs": "0", "lxc.rootfs.managed": "1",
        "lxc.seccomp.allow_nesting": "0", "lxc.start.auto": "0",
    ]
    static let unsignedKeys: Set<String> = [
        "lxc.autodev.tmpfs.size", "lxc.init.gid", "lxc.init.uid", "lxc.monitor.unshare",
        "lxc.pty.max", "lxc.start.delay", "lxc.tty.max",
    ]
    static let signals: [String: String] = [
        "lxc.signal.halt": "0", "lxc.signal.reboot": "0", "lxc.signal.stop": "0",
        "lxc.monitor.signal.pdeath": "9",
    ]
    static let texts: Set<String> = [
        "lxc.apparmor.profile", "lxc.console.logfile", "lxc.console.path", "lxc.execute.cmd",
        "lxc.init.cmd", "lxc.init.cwd", "lxc.log.file", "lxc.mount.fstab", "lxc.rootfs.mount",
        "lxc.rootfs.options", "lxc.seccomp.notify.cookie", "lxc.seccomp.profile",
        "lxc.selinux.context", "lxc.selinux.context.keyring", "lxc.tty.dir", "lxc.uts.name",
    ]
    static let cgroupDirs: Set<String> = [
        "lxc.cgroup.dir", "lxc.cgroup.dir.container", "lxc.cgroup.dir.container.inner",
        "lxc.cgroup.dir.monitor", "lxc.cgroup.dir.monitor.pivot",
    ]
    /// Multi-valued keys LXC reads back one value a line, each ending in a newline.
    static let lineLists: Set<String> = [
        "lxc.apparmor.raw", "lxc.environment", "lxc.environment.hooks", "lxc.environment.runtime",
        "lxc.group", "lxc.mount.entry",
        "lxc.hook.autodev", "lxc.hook.clone", "lxc.hook.destroy", "lxc.hook.mount",
        "lxc.hook.post-stop", "lxc.hook.pre-mount", "lxc.hook.pre-start", "lxc.hook.start",
        "lxc.hook.start-host", "lxc.hook.stop",
    ]
    static let familyRoots = ["lxc.cgroup2", "lxc.cgroup", "lxc.prlimit", "lxc.sysctl", "lxc.proc"]
    static let defaultRootfsMount = "/usr/lib/x86_64-linux-gnu/lxc/rootfs"

    /// Where a key lands.
    enum Target: Equatable {
        case top(String)
        case family(root: String, sub: String)
        case share(String)
        case network(index: Int, sub: String?)
    }

    /// LXC's key names before 3.0, with the name that replaced each.
    static let legacyNames: [String: String] = [
        "lxc.aa_profile": "lxc.apparmor.profile",
        "lxc.aa_allow_incomplete": "lxc.apparmor.allow_incomplete",
        "lxc.console": "lxc.console.path", "lxc.devttydir": "lxc.tty.dir",
        "lxc.haltsignal": "lxc.signal.halt", "lxc.id_map": "lxc.idmap",
        "lxc.init_cmd": "lxc.init.cmd", "lxc.init_gid": "lxc.init.gid",
        "lxc.init_uid": "lxc.init.uid", "lxc.logfile": "lxc.log.file",
        "lxc.loglevel": "lxc.log.level", "lxc.mount": "lxc.mount.fstab",
        "lxc.pts": "lxc.pty.max", "lxc.rebootsignal": "lxc.signal.reboot",
        "lxc.rootfs": "lxc.rootfs.path", "lxc.se_context": "lxc.selinux.context",
        "lxc.seccomp": "lxc.seccomp.profile", "lxc.stopsignal": "lxc.signal.stop",
        "lxc.syslog": "lxc.log.syslog", "lxc.tty": "lxc.tty.max", "lxc.utsname": "lxc.uts.name",
        "lxc.limit": "lxc.prlimit",
    ]

    static func target(_ key: String) throws(ValueError) -> Target {
        if ConfigKeys.topNames.contains(key) { return .top(key) }
        for root in familyRoots where key.hasPrefix(root + ".") {
            let sub = String(key.dropFirst(root.count + 1))
            guard !sub.isEmpty else { break }
            if root == "lxc.prlimit", !Values.resources.contains(sub) {
                throw ValueError("unknown resource \(sub)")
            }
            return .family(root: root, sub: sub)
        }
        if key.hasPrefix("lxc.namespace.share.") {
            let name = String(key.dropFirst("lxc.namespace.share.".count))
            guard Values.namespaces.contains(name) else {
                throw ValueError("unknown namespace \(name)")
            }
            return .share(name)
        }
        if key.hasPrefix("lxc.net.") {
            let rest = key.dropFirst("lxc.net.".count)
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, let index = Int(digits), index <= Int(UInt32.max) else {
                throw ValueError("invalid network index")
            }
            let after = rest.dropFirst(digits.count)
            if after.isEmpty { return .network(index: index, sub: nil) }
            let sub = String(after.dropFirst())
            guard after.first == ".", ConfigKeys.networkNames.contains(sub) else {
                throw ValueError("unknown key")
            }
            return .network(index: index, sub: sub)
        }
        if let hint = legacyHint(key) { throw ValueError(hint) }
        throw ValueError("unknown key")
    }

    /// The message for a pre-3.0 key, naming the key to use instead.
    static func legacyHint(_ key: String) -> String? {
        if key.hasPrefix("lxc.network") {
            var rest = Substring(key.dropFirst("lxc.network".count))
            var index = "[i]"
            if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
                if !digits.isEmpty {
                    index = String(digits)
                    rest = rest.dropFirst(digits.count).drop(while: { $0 == "." })
                }
            }
            var sub = String(rest)
            if sub == "ipv4" || sub == "ipv6" { sub += ".address" }
            let replacement = sub.isEmpty ? "lxc.net.\(index)" : "lxc.net.\(index).\(sub)"
            return "legacy key, use \(replacement)"
        }
        for (old, new) in legacyNames {
            if key == old { return "legacy key, use \(new)" }
            if key.hasPrefix(old + "."), old == "lxc.limit" {
                return "legacy key, use \(new)" + key.dropFirst(old.count)
            }
        }
        return nil
    }

    // MARK: set, get, clear

    /// `set_config_item`: sets `key` to `value`; an empty value clears where LXC clears.
    /// Throws a `ConfigError` naming key and value, and then changes nothing.
    public mutating func set(_ key: String, _ value: String) throws(ConfigError) {
        var copy = self
        do {
            try copy.apply(key, value, includeDepth: 0)
        } catch let error as ValueError {
            throw ConfigError(key: key, value: value, reason: error.reason)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(key: key, value: value, reason: "\(error)")
        }
        copy.recordSet(key, value)
        self = copy
    }

    /// Keeps the saved text in step with a `set` made through the API, as liblxc does.
    private mutating func recordSet(_ key: String, _ value: String) {
        if value.isEmpty {
            removeLines(key, withSubkeys: false)
            return
        }
        let replaces =
            Self.booleans[key] != nil || Self.unsignedKeys.contains(key)
            || Self.signals[key] != nil || Self.texts.contains(key)
            || Self.cgroupDirs.contains(key) || key == "lxc.rootfs.path"
        if replaces { removeLines(key, withSubkeys: false) }
        lines.append("\(key) = \(value)")
    }

    private mutating func removeLines(_ key: String, withSubkeys: Bool) {
        lines.removeAll { line in
            guard let lineKey = Self.lineKey(line) else { return false }
            return lineKey == key || (withSubkeys && lineKey.hasPrefix(key + "."))
        }
    }

    static func lineKey(_ line: String) -> String? {
        let text = Values.trimmed(Substring(line))
        guard text.hasPrefix("lxc."), let equals = text.firstIndex(of: "=") else { return nil }
        return Values.trimmed(text[..<equals])
    }

    /// `get_config_item`: the value as LXC 5.0.2 reads it back, byte for byte (multi-valued
    /// keys one value a line). Throws for keys that cannot be read.
    public func get(_ key: String) throws(ConfigError) -> String {
        do {
            return try read(key)
        } catch {
            throw ConfigError(key: key, value: "", reason: error.reason)
        }
    }

    /// `clear_config_item`: clears the key; a family name clears all its members.
    public mutating func clear(_ key: String) throws(ConfigError) {
        do {
            try erase(key)
        } catch {
            throw ConfigError(key: key, value: "", reason: error.reason)
        }
        let family =
            key == "lxc.net" || key == "lxc.hook" || key.hasPrefix("lxc.net.")
            || Self.familyRoots.contains(key)
        removeLines(key, withSubkeys: family)
    }

    mutating func apply(_ key: String, _ value: String, includeDepth: Int) throws {
        switch try Self.target(key) {
        case .top(let name): try setTop(name, value, includeDepth: includeDepth)
        case .family(let root, let sub): try setFamily(root, sub, value)
        case .share(let name):
            if value.isEmpty { shares[name] = nil } else { shares[name] = value }
        case .network(let index, let sub):
            guard let sub else { throw ValueError("unknown key") }
            try setNetwork(index, sub, value)
        }
    }

    private mutating func setTop(_ key: String, _ value: String, includeDepth: Int) throws {
        if let defaultValue = Self.booleans[key] {
            _ = defaultValue
            if value.isEmpty {
                scalars[key] = nil
            } else {
                scalars[key] = try Values.bool(value) ? "1" : "0"
            }
            return
        }
        if Self.unsignedKeys.contains(key) {
            if value.isEmpty {
                scalars[key] = nil
            } else {
                let number = try Values.unsigned(value)
                // uid_t and gid_t print as signed ints in LXC, so (uid_t)-1 reads back -1.
                if key == "lxc.init.uid" || key == "lxc.init.gid" {
                    scalars[key] = String(Int32(truncatingIfNeeded: number))
                } else {
                    scalars[key] = String(number)
                }
            }
            return
        }
        if Self.signals[key] != nil {
            scalars[key] = value.isEmpty ? nil : String(try Values.signal(value))
            return
        }
        if Self.texts.contains(key) {
            scalars[key] = value.isEmpty ? nil : value
            return
        }
        if Self.cgroupDirs.contains(key) {
            scalars[key] = value.isEmpty ? nil : try Values.cgroupDir(value)
            return
        }
        if Self.lineLists.contains(key) {
            if value.isEmpty {
                lists[key] = nil
            } else if key.hasPrefix("lxc.environment") {
                lists[key, default: []].append(try Self.environmentEntry(value))
            } else {
                lists[key, default: []].append(value)
            }
            return
        }
        switch key {
        case "lxc.arch":
            scalars[key] = value.isEmpty ? nil : try Values.arch(value)
        case "lxc.start.order":
            scalars[key] = value.isEmpty ? nil : String(try Values.signed(value))
        case "lxc.console.buffer.size", "lxc.console.size":
            scalars[key] = value.isEmpty ? nil : String(try Values.consoleSize(value))
        case "lxc.log.level":
            scalars[key] = value.isEmpty ? nil : try Values.logLevel(value)
        case "lxc.log.syslog":
            guard value.isEmpty || Values.syslogFacilities.contains(value) else {
                throw ValueError("unknown syslog facility")
            }
            scalars[key] = value.isEmpty ? nil : value
        case "lxc.rootfs.path":
            scalars[key] = value.isEmpty ? nil : Self.rootfsPath(value)
        case "lxc.seccomp.notify.proxy":
            // Kept as written; the model needs the `@` of an abstract name LXC's get drops.
            if !value.isEmpty { _ = try Self.proxyPath(value) }
            scalars[key] = value.isEmpty ? nil : value
        case "lxc.cap.drop", "lxc.cap.keep":
            if value.isEmpty {
                lists[key] = nil
                return
            }
            if key == "lxc.cap.keep", Values.words(value).contains("none") {
                lists[key] = nil
                return
            }
            var names: [String] = []
            for word in Values.words(value) { names.append(try Values.lxcCapability(word)) }
            lists[key, default: []].append(contentsOf: names)
        case "lxc.idmap":
            if value.isEmpty {
                lists[key] = nil
            } else {
                lists[key, default: []].append(try Values.idmap(value))
            }
        case "lxc.init.groups":
            if value.isEmpty {
                lists[key] = nil
                return
            }
            var groups: [String] = []
            for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                groups.append(String(try Values.unsigned(String(part))))
            }
            lists[key, default: []].append(contentsOf: groups)
        case "lxc.mount.auto":
            if value.isEmpty { mountAuto = MountAuto() } else { try mountAuto.apply(value) }
        case "lxc.namespace.clone", "lxc.namespace.keep":
            if value.isEmpty {
                lists[key] = nil
                return
            }
            let other = key == "lxc.namespace.clone" ? "lxc.namespace.keep" : "lxc.namespace.clone"
            guard lists[other] == nil else {
                throw ValueError("lxc.namespace.clone and lxc.namespace.keep exclude each other")
            }
            let names = try Values.namespaceList(value)
            let merged = Set(names + (lists[key] ?? []))
            lists[key] = Values.namespaces.filter { merged.contains($0) }
        case "lxc.time.offset.boot", "lxc.time.offset.monotonic":
            var offset = key.hasSuffix("boot") ? timeBoot : timeMonotonic
            if value.isEmpty {
                offset = TimeOffsetValue()
            } else {
                let parsed = try Values.timeOffset(value)
                if let seconds = parsed.seconds { offset.seconds = seconds }
                if let nanos = parsed.nanos { offset.nanoseconds = nanos }
            }
            if key.hasSuffix("boot") { timeBoot = offset } else { timeMonotonic = offset }
        case "lxc.net":
            guard value.isEmpty else { throw ValueError("only an empty value is allowed") }
            networks = [:]
        case "lxc.hook":
            throw ValueError("set a hook by its stage, e.g. lxc.hook.pre-start")
        case "lxc.include":
            try include(value, depth: includeDepth)
        default:
            if Self.familyRoots.contains(key) {
                guard value.isEmpty else { throw ValueError("name a member, e.g. \(key).<name>") }
                families[key] = nil
                return
            }
            throw ValueError("unknown key")
        }
    }

    static func environmentEntry(_ value: String) throws(ValueError) -> String {
        if value.contains("=") { return value }
        // A bare name copies the caller's value, as LXC does at load time.
        guard let found = getenv(value) else {
            throw ValueError("variable not set in the caller's environment")
        }
        return value + "=" + String(cString: found)
    }

    static func rootfsPath(_ value: String) -> String {
        value.hasPrefix("dir:") ? String(value.dropFirst(4)) : value
    }

    static func proxyPath(_ value: String) throws(ValueError) -> String {
        guard value.hasPrefix("unix:") else { throw ValueError("expected unix:<path>") }
        let path = value.dropFirst(5)
        if path.hasPrefix("@") { return String(path.dropFirst()) }
        guard path.hasPrefix("/") else { throw ValueError("proxy path must start with / or @") }
        return String(path)
    }

    private mutating func setFamily(_ root: String, _ sub: String, _ value: String) throws {
        if root == "lxc.prlimit" { _ = try Values.limit(value) }
        var pairs = families[root] ?? []
        if value.isEmpty, root != "lxc.cgroup", root != "lxc.cgroup2" {
            pairs.removeAll { $0.key == sub }
        } else if root != "lxc.cgroup", root != "lxc.cgroup2",
            let index = pairs.firstIndex(where: { $0.key == sub })
        {
            // sysctl, proc and prlimit entries are replaced in place; cgroup items append.
            pairs[index].value = value
        } else {
            pairs.append(Pair(key: sub, value: value))
        }
        families[root] = pairs.isEmpty ? nil : pairs
    }

    private static let networkTypes: Set<String> = [
        "veth", "macvlan", "ipvlan", "vlan", "phys", "empty", "none",
    ]
    private static let networkLists: Set<String> = [
        "ipv4.address", "ipv6.address", "veth.ipv4.route", "veth.ipv6.route",
        "veth.vlan.tagged.id",
    ]

    private mutating func setNetwork(_ index: Int, _ sub: String, _ value: String) throws {
        var network = networks[index] ?? Network()
        if value.isEmpty {
            if Self.networkLists.contains(sub) {
                network.lists[sub] = nil
            } else {
                network.scalars[sub] = nil
            }
            networks[index] = network
            return
        }
        switch sub {
        case "type":
            guard Self.networkTypes.contains(value) else {
                throw ValueError("unknown network type")
            }
            network.scalars[sub] = value
        case "flags":
            // LXC sets IFF_UP whatever the value says.
            network.scalars[sub] = "up"
        case "hwaddr":
            network.scalars[sub] = Self.randomizedMAC(value)
        case "mtu", "veth.n_rxqueues", "veth.n_txqueues":
            network.scalars[sub] = String(try Values.unsigned(value))
        case "l2proxy":
            network.scalars[sub] = try Values.bool(value) ? "1" : "0"
        case "vlan.id":
            network.scalars[sub] = String(try Values.unsigned(value, max: 4095))
        case "veth.vlan.id":
            if value == "none" {
                network.scalars[sub] = "-1"
            } else {
                let id = try Values.unsigned(value, max: 4094)
                guard id >= 1 else { throw ValueError("number out of range") }
                network.scalars[sub] = String(id)
            }
        case "veth.vlan.tagged.id":
            let id = try Values.unsigned(value, max: 4094)
            guard id >= 1 else { throw ValueError("number out of range") }
            network.lists[sub, default: []].append(String(id))
        case "veth.mode":
            try Self.oneOf(value, ["bridge", "router"], "veth mode")
            network.scalars[sub] = value
        case "macvlan.mode":
            try Self.oneOf(value, ["private", "vepa", "bridge", "passthru"], "macvlan mode")
            network.scalars[sub] = value
        case "ipvlan.mode":
            try Self.oneOf(value, ["l2", "l3", "l3s"], "ipvlan mode")
            network.scalars[sub] = value
        case "ipvlan.isolation":
            try Self.oneOf(value, ["bridge", "private", "vepa"], "ipvlan isolation")
            network.scalars[sub] = value
        case "ipv4.address", "ipv6.address":
            let family = sub == "ipv4.address" ? AF_INET : AF_INET6
            let address = try Values.addressWithPrefix(value, family: family, requirePrefix: false)
            network.lists[sub, default: []].append(address)
        case "veth.ipv4.route", "veth.ipv6.route":
            let family = sub == "veth.ipv4.route" ? AF_INET : AF_INET6
            let route = try Values.addressWithPrefix(value, family: family, requirePrefix: true)
            network.lists[sub, default: []].append(route)
        case "ipv4.gateway", "ipv6.gateway":
            let family = sub == "ipv4.gateway" ? AF_INET : AF_INET6
            guard value == "auto" || value == "dev" || Values.isAddress(value, family: family)
            else { throw ValueError("invalid gateway") }
            network.scalars[sub] = value
        default:
            network.scalars[sub] = value
        }
        networks[index] = network
    }

    private static func oneOf(_ value: String, _ allowed: [String], _ what: String)
        throws(ValueError)
    {
        guard allowed.contains(value) else { throw ValueError("unknown \(what)") }
    }

    /// Replaces each `x` or `X` of a MAC address with a random hex digit, as LXC does.
    static func randomizedMAC(_ value: String) -> String {
        let digits = Array("0123456789abcdef")
        return String(value.map { $0 == "x" || $0 == "X" ? digits[Int.random(in: 0..<16)] : $0 })
    }

    private func read(_ key: String) throws(ValueError) -> String {
        switch try Self.target(key) {
        case .top(let name): return try readTop(name)
        case .family(let root, let sub):
            let values = (families[root] ?? []).filter { $0.key == sub }.map(\.value)
            if root == "lxc.cgroup" || root == "lxc.cgroup2" {
                return values.map { $0 + "\n" }.joined()
            }
            return values.last ?? ""
        case .share(let name): return shares[name] ?? ""
        case .network(let index, let sub):
            guard let sub, let network = networks[index] else {
                throw ValueError("no such network")
            }
            if let list = network.lists[sub] { return list.joined(separator: "\n") }
            if let value = network.scalars[sub] { return value }
            return Self.networkDefault(sub, type: network.type)
        }
    }

    private static func networkDefault(_ sub: String, type: String) -> String {
        switch sub {
        case "veth.mode": return type == "veth" ? "bridge" : ""
        case "macvlan.mode": return type == "macvlan" ? "private" : ""
        case "ipvlan.mode": return type == "ipvlan" ? "l3" : ""
        case "ipvlan.isolation": return type == "ipvlan" ? "bridge" : ""
        case "l2proxy", "vlan.id", "veth.vlan.id", "veth.n_rxqueues", "veth.n_txqueues":
            return "0"
        default: return ""
        }
    }

    private func readTop(_ key: String) throws(ValueError) -> String {
        if key == "lxc.seccomp.notify.proxy", let value = scalars[key] {
            return try Self.proxyPath(value)
        }
        if let value = scalars[key] { return value }
        if let value = Self.booleans[key] { return value }
        if let value = Self.signals[key] { return value }
        if Self.unsignedKeys.contains(key) { return "0" }
        if Self.cgroupDirs.contains(key) { return "(null)" }
        if Self.lineLists.contains(key) {
            return (lists[key] ?? []).map { $0 + "\n" }.joined()
        }
        switch key {
        case "lxc.start.order", "lxc.console.buffer.size", "lxc.console.size": return "0"
        case "lxc.log.level": return "NOTSET"
        case "lxc.rootfs.mount": return Self.defaultRootfsMount
        case "lxc.cap.drop", "lxc.cap.keep", "lxc.namespace.clone", "lxc.namespace.keep":
            return (lists[key] ?? []).map { $0 + "\n" }.joined()
        case "lxc.idmap": return (lists[key] ?? []).joined(separator: "\n")
        case "lxc.init.groups": return (lists[key] ?? []).joined(separator: ",")
        case "lxc.mount.auto": return mountAuto.lxcReadBack
        case "lxc.time.offset.boot":
            return timeBoot.seconds != 0
                ? "\(timeBoot.seconds) s\n" : "\(timeBoot.nanoseconds) ns\n"
        case "lxc.time.offset.monotonic":
            return timeMonotonic.seconds != 0
                ? "\(timeMonotonic.seconds)s\n" : "\(timeMonotonic.nanoseconds)ns\n"
        case "lxc.net":
            return networks.keys.sorted().map { (networks[$0]?.type ?? "") + "\n" }.joined()
        case "lxc.hook", "lxc.include":
            throw ValueError("cannot be read")
        default:
            if Self.familyRoots.contains(key) {
                return (families[key] ?? []).map { "\(key).\($0.key) = \($0.value)\n" }.joined()
            }
            return ""
        }
    }

    private mutating func erase(_ key: String) throws(ValueError) {
        switch try Self.target(key) {
        case .top(let name):
            switch name {
            case "lxc.net": networks = [:]
            case "lxc.hook":
                for hook in Self.lineLists where hook.hasPrefix("lxc.hook.") { lists[hook] = nil }
            case "lxc.mount.auto": mountAuto = MountAuto()
            case "lxc.time.offset.boot": timeBoot = TimeOffsetValue()
            case "lxc.time.offset.monotonic": timeMonotonic = TimeOffsetValue()
            case "lxc.include": break
            default:
                scalars[name] = nil
                lists[name] = nil
                families[name] = nil
            }
        case .family(let root, let sub):
            families[root]?.removeAll { $0.key == sub }
            if families[root]?.isEmpty == true { families[root] = nil }
        case .share(let name): shares[name] = nil
        case .network(let index, let sub):
            guard let sub else {
                networks[index] = nil
                return
            }
            networks[index]?.scalars[sub] = nil
            networks[index]?.lists[sub] = nil
        }
    }

    // MARK: keys

    /// `get_keys`: with no prefix the top-level keys; with `lxc.net.N` the sub-keys that apply
    /// to that network's type; with a group name (`lxc.cgroup`, `lxc.hook`, …) LXC's sub-key
    /// list. Throws for a prefix LXC does not list.
    public func keys(_ prefix: String? = nil) throws(ConfigError) -> [String] {
        guard let prefix else { return ConfigKeys.top.map(\.name) }
        if prefix.hasPrefix("lxc.net.") {
            guard case .network(let index, nil)? = try? Self.target(prefix),
                let network = networks[index]
            else { throw ConfigError(key: prefix, value: "", reason: "no such network") }
            var names = ["type", "script.up", "script.down"]
            if network.type != "empty", !network.type.isEmpty {
                names += [
                    "flags", "link", "name", "hwaddr", "mtu", "ipv6.address", "ipv6.gateway",
                    "ipv4.address", "ipv4.gateway",
                ]
            }
            switch network.type {
            case "veth":
                names += ["veth.pair", "veth.ipv4.route", "veth.ipv6.route", "veth.vlan.id"]
            case "macvlan": names += ["macvlan.mode"]
            case "ipvlan": names += ["ipvlan.mode", "ipvlan.isolation"]
            case "vlan": names += ["vlan.id"]
            default: break
            }
            return names
        }
        guard let names = Self.subkeyLists[prefix] else {
            throw ConfigError(key: prefix, value: "", reason: "no sub-keys")
        }
        return names
    }

    /// `lxc_list_subkeys` of LXC 5.0.2, verbatim (it lists `autodevtmpfssize` under hooks).
    static let subkeyLists: [String: [String]] = [
        "lxc.apparmor": ["allow_incomplete", "allow_nesting", "profile", "raw"],
        "lxc.cgroup": ["dir"],
        "lxc.selinux": ["context", "context.keyring"],
        "lxc.mount": ["auto", "entry", "fstab"],
        "lxc.rootfs": ["mount", "options", "path"],
        "lxc.uts": ["name"],
        "lxc.hook": [
            "autodev", "autodevtmpfssize", "clone", "destroy", "mount", "post-stop", "pre-mount",
            "pre-start", "start-host", "start", "stop",
        ],
        "lxc.cap": ["drop", "keep"],
        "lxc.console": ["logfile", "path"],
        "lxc.seccomp": ["profile"],
        "lxc.signal": ["halt", "reboot", "stop"],
        "lxc.start": ["auto", "delay", "order"],
        "lxc.monitor": ["unshare"],
        "lxc.keyring": ["session"],
    ]
}
