import Glibc
import LXCSystem

/// The OCI runtime spec's `linux.seccomp`, plus the `archMap`, `includes` and `excludes` of
/// the containers (Docker, podman) default profile, which a runtime resolves first.
///
/// Read it from JSON with `decode(_:file:)`, or fill it from an already decoded spec; then
/// `policy(file:capabilities:)` checks it and gives the policy to compile, with runc's rules:
/// a rule repeating the default action is skipped, unknown syscall names are skipped with a
/// warning, and several conditions on the same argument become one rule each.
public struct OCISeccompPolicy: Decodable, Equatable, Sendable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    /// `SCMP_ARCH_*` names; the native architecture is always covered.
    public var architectures: [String]?
    /// `SECCOMP_FILTER_FLAG_*` names.
    public var flags: [String]?
    public var listenerPath: String?
    public var listenerMetadata: String?
    public var syscalls: [Syscall]?
    /// The containers profile's architecture table: the entry of the native architecture
    /// supplies `architectures` when the profile has none.
    public var archMap: [ArchMapEntry]?

    public init(
        defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil,
        flags: [String]? = nil, listenerPath: String? = nil, listenerMetadata: String? = nil,
        syscalls: [Syscall]? = nil
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.syscalls = syscalls
    }

    /// One entry of `syscalls`.
    public struct Syscall: Decodable, Equatable, Sendable {
        public var names: [String]
        public var action: String
        public var errnoRet: UInt32?
        public var args: [Argument]?
        /// Containers profile only: the rule applies when all of these hold.
        public var includes: ProfileFilter?
        /// Containers profile only: the rule is dropped when any of these holds.
        public var excludes: ProfileFilter?

        public init(
            names: [String], action: String, errnoRet: UInt32? = nil, args: [Argument]? = nil
        ) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
        }
    }

    /// One argument condition; for `SCMP_CMP_MASKED_EQ`, `value` is the mask and `valueTwo`
    /// the value the masked argument must equal.
    public struct Argument: Decodable, Equatable, Sendable {
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64?
        public var op: String

        public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: String) {
            self.index = index
            self.value = value
            self.valueTwo = valueTwo
            self.op = op
        }
    }

    /// `includes`/`excludes` of the containers profile.
    public struct ProfileFilter: Decodable, Equatable, Sendable {
        /// Go architecture names (`amd64`, `arm64`).
        public var arches: [String]?
        /// Capability names (`CAP_SYS_ADMIN`), checked against the bounding set.
        public var caps: [String]?
        /// A kernel version such as `4.8`.
        public var minKernel: String?
    }

    /// An `archMap` entry.
    public struct ArchMapEntry: Decodable, Equatable, Sendable {
        public var architecture: String
        public var subArchitectures: [String]?
    }

    /// Reads JSON holding either the seccomp object itself or a whole `config.json` (its
    /// `linux.seccomp`). Throws naming the JSON path that does not fit.
    public static func decode(_ json: [UInt8], file: String) throws(SeccompError)
        -> OCISeccompPolicy
    {
        let tree: JSONValue
        do {
            tree = try JSONParser.parse(json)
        } catch {
            throw .invalidPolicy(file: file, line: nil, reason: "invalid json at \(error)")
        }
        let reader = PolicyReader(file: file)
        if let seccomp = tree["linux"]?["seccomp"], seccomp != .null {
            return try reader.policy(seccomp, at: "linux.seccomp")
        }
        return try reader.policy(tree, at: "")
    }

    /// Reads `path` with `decode`.
    public static func load(contentsOf path: String) throws(SeccompError) -> OCISeccompPolicy {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path)
        } catch {
            throw .system(error)
        }
        return try decode(bytes, file: path)
    }

    /// Checks the fields and builds the policy. `capabilities` is the container's bounding
    /// set, which the containers profile's `caps` filters test; `kernel` is `major.minor` for
    /// its `minKernel` filters (the running kernel by default).
    public func policy(
        file: String, capabilities: Set<String> = [], kernel: (Int, Int)? = nil,
        native: SeccompArchitecture = .native
    ) throws(SeccompError) -> SeccompPolicy {
        func fail(_ path: String, _ reason: String) -> SeccompError {
            .invalidPolicy(file: file, line: nil, reason: "linux.seccomp.\(path): \(reason)")
        }
        let kernel = kernel ?? Self.runningKernel()

        let fallback: SeccompAction
        switch Self.action(defaultAction, errno: defaultErrnoRet) {
        case .success(let action): fallback = action
        case .failure(let reason): throw fail("defaultAction", reason.description)
        }

        var extra: [SeccompArchitecture] = []
        var names = architectures ?? []
        if architectures == nil,
            let entry = archMap?.first(where: {
                $0.architecture == native.ociName
            })
        {
            names = [entry.architecture] + (entry.subArchitectures ?? [])
        }
        for (index, name) in names.enumerated() {
            guard let arch = SeccompArchitecture.oci(name) else {
                throw fail("architectures[\(index)]", "unknown architecture \"\(name)\"")
            }
            if arch != native && !extra.contains(arch) { extra.append(arch) }
        }

        var filterFlags: SeccompFilterFlags = []
        for (index, name) in (flags ?? []).enumerated() {
            guard let flag = SeccompFilterFlags.ociNames[name] else {
                throw fail("flags[\(index)]", "unknown flag \"\(name)\"")
            }
            filterFlags.insert(flag)
        }

        var rules: [SeccompRule] = []
        for (index, entry) in (syscalls ?? []).enumerated() {
            let path = "syscalls[\(index)]"
            guard Self.applies(entry, capabilities: capabilities, kernel: kernel, native: native)
            else { continue }
            guard !entry.names.isEmpty else { throw fail(path + ".names", "no syscall names") }
            let action: SeccompAction
            switch Self.action(entry.action, errno: entry.errnoRet) {
            case .success(let parsed): action = parsed
            case .failure(let reason): throw fail(path + ".action", reason.description)
            }
            var conditions: [ArgumentCondition] = []
            for (argIndex, argument) in (entry.args ?? []).enumerated() {
                let argPath = "\(path).args[\(argIndex)]"
                guard argument.index < 6 else {
                    throw fail(argPath, "argument index \(argument.index) is not 0 to 5")
                }
                guard let comparison = SeccompComparison(spelling: argument.op),
                    argument.op.hasPrefix("SCMP_CMP_")
                else {
                    throw fail(argPath, "unknown operator \"\(argument.op)\"")
                }
                conditions.append(
                    comparison == .maskedEqual
                        ? ArgumentCondition(
                            index: argument.index, comparison, argument.valueTwo ?? 0,
                            mask: argument.value)
                        : ArgumentCondition(index: argument.index, comparison, argument.value))
            }
            // runc: two conditions on one argument cannot both be one rule's, so each
            // condition becomes a rule of its own.
            let indexes = conditions.map(\.index)
            let split = Set(indexes).count != indexes.count
            let groups = split ? conditions.map { [$0] } : [conditions]
            for name in entry.names {
                for group in groups {
                    rules.append(
                        SeccompRule(
                            syscall: .name(name), action: action, conditions: group,
                            origin: path))
                }
            }
        }

        var policy = SeccompPolicy(
            file: file, dialect: .oci, defaultAction: fallback, extraArchitectures: extra,
            rules: rules, flags: filterFlags)
        policy.listenerPath = listenerPath
        policy.listenerMetadata = listenerMetadata
        if policy.needsListener && (listenerPath ?? "").isEmpty {
            policy.warnings.append(
                "\(file): linux.seccomp: SCMP_ACT_NOTIFY without a listenerPath; "
                    + "the listener fd goes nowhere")
        }
        return policy
    }

    /// An OCI action name with its errno.
    static func action(_ name: String, errno: UInt32?) -> Result<SeccompAction, Reason> {
        let code = UInt16(clamping: errno ?? UInt32(EPERM))
        let action: SeccompAction
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": action = .killThread
        case "SCMP_ACT_KILL_PROCESS": action = .killProcess
        case "SCMP_ACT_TRAP": action = .trap
        case "SCMP_ACT_ERRNO": action = .errno(code)
        case "SCMP_ACT_TRACE": action = .trace(code)
        case "SCMP_ACT_ALLOW": action = .allow
        case "SCMP_ACT_LOG": action = .log
        case "SCMP_ACT_NOTIFY": action = .notify
        default: return .failure(Reason("unknown action \"\(name)\""))
        }
        if let errno, errno > 0xffff {
            return .failure(Reason("errnoRet \(errno) is out of range"))
        }
        if errno != nil, name != "SCMP_ACT_ERRNO", name != "SCMP_ACT_TRACE" {
            return .failure(Reason("errnoRet only goes with SCMP_ACT_ERRNO and SCMP_ACT_TRACE"))
        }
        return .success(action)
    }

    /// Whether a containers profile entry applies, as podman and Docker decide it.
    static func applies(
        _ entry: Syscall, capabilities: Set<String>, kernel: (Int, Int),
        native: SeccompArchitecture
    ) -> Bool {
        func atLeast(_ version: String) -> Bool {
            let parts = version.split(separator: ".").compactMap { Int($0) }
            let wanted = (parts.first ?? 0, parts.dropFirst().first ?? 0)
            return kernel >= wanted
        }
        if let excludes = entry.excludes {
            if excludes.arches?.contains(native.goName) == true { return false }
            if let caps = excludes.caps, caps.contains(where: capabilities.contains) {
                return false
            }
            if let version = excludes.minKernel, atLeast(version) { return false }
        }
        if let includes = entry.includes {
            if let arches = includes.arches, !arches.isEmpty, !arches.contains(native.goName) {
                return false
            }
            if let caps = includes.caps, !caps.allSatisfy(capabilities.contains) { return false }
            if let version = includes.minKernel, !atLeast(version) { return false }
        }
        return true
    }

    static func runningKernel() -> (Int, Int) {
        var name = utsname()
        guard uname(&name) == 0 else { return (0, 0) }
        let release = withUnsafeBytes(of: &name.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let parts = release.split(separator: ".").prefix(2).map {
            Int($0.prefix(while: \.isNumber)) ?? 0
        }
        return (parts.first ?? 0, parts.dropFirst().first ?? 0)
    }
}

/// Builds an `OCISeccompPolicy` from a parsed JSON tree, naming the path of a value that
/// does not fit (`syscalls[0]: missing action`).
private struct PolicyReader {
    let file: String

    func fail(_ path: String, _ reason: String) -> SeccompError {
        .invalidPolicy(file: file, line: nil, reason: (path.isEmpty ? "" : path + ": ") + reason)
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func object(_ json: JSONValue, at path: String) throws(SeccompError) -> JSONValue {
        guard case .object = json else { throw fail(path, "wrong type") }
        return json
    }

    func string(_ json: JSONValue?, at path: String) throws(SeccompError) -> String? {
        guard let json, json != .null else { return nil }
        guard case .string(let text) = json else { throw fail(path, "wrong type") }
        return text
    }

    func required(_ json: JSONValue, _ key: String, at path: String) throws(SeccompError)
        -> String
    {
        guard let text = try string(json[key], at: join(path, key)) else {
            throw fail(path, "missing \(key)")
        }
        return text
    }

    func integer<T: FixedWidthInteger>(_ json: JSONValue?, _ type: T.Type, at path: String)
        throws(SeccompError) -> T?
    {
        guard let json, json != .null else { return nil }
        guard case .number(let number) = json, let value = number.exactly(T.self) else {
            throw fail(path, "wrong type")
        }
        return value
    }

    func strings(_ json: JSONValue?, at path: String) throws(SeccompError) -> [String]? {
        guard let json, json != .null else { return nil }
        guard case .array(let items) = json else { throw fail(path, "wrong type") }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw fail("\(path)[\(index)]", "wrong type")
            }
            result.append(text)
        }
        return result
    }

    func array(_ json: JSONValue?, at path: String) throws(SeccompError) -> [JSONValue]? {
        guard let json, json != .null else { return nil }
        guard case .array(let items) = json else { throw fail(path, "wrong type") }
        return items
    }

    func policy(_ json: JSONValue, at path: String) throws(SeccompError) -> OCISeccompPolicy {
        let json = try object(json, at: path)
        var policy = OCISeccompPolicy(
            defaultAction: try required(json, "defaultAction", at: path),
            defaultErrnoRet: try integer(
                json["defaultErrnoRet"], UInt32.self, at: join(path, "defaultErrnoRet")),
            architectures: try strings(json["architectures"], at: join(path, "architectures")),
            flags: try strings(json["flags"], at: join(path, "flags")),
            listenerPath: try string(json["listenerPath"], at: join(path, "listenerPath")),
            listenerMetadata: try string(
                json["listenerMetadata"], at: join(path, "listenerMetadata")))
        if let entries = try array(json["archMap"], at: join(path, "archMap")) {
            var map: [OCISeccompPolicy.ArchMapEntry] = []
            for (index, entry) in entries.enumerated() {
                let at = join(path, "archMap") + "[\(index)]"
                let entry = try object(entry, at: at)
                map.append(
                    OCISeccompPolicy.ArchMapEntry(
                        architecture: try required(entry, "architecture", at: at),
                        subArchitectures: try strings(
                            entry["subArchitectures"], at: join(at, "subArchitectures"))))
            }
            policy.archMap = map
        }
        if let rules = try array(json["syscalls"], at: join(path, "syscalls")) {
            var syscalls: [OCISeccompPolicy.Syscall] = []
            for (index, rule) in rules.enumerated() {
                syscalls.append(try syscall(rule, at: join(path, "syscalls") + "[\(index)]"))
            }
            policy.syscalls = syscalls
        }
        return policy
    }

    func syscall(_ json: JSONValue, at path: String) throws(SeccompError)
        -> OCISeccompPolicy.Syscall
    {
        let json = try object(json, at: path)
        guard let names = try strings(json["names"], at: join(path, "names")) else {
            throw fail(path, "missing names")
        }
        var rule = OCISeccompPolicy.Syscall(
            names: names, action: try required(json, "action", at: path),
            errnoRet: try integer(json["errnoRet"], UInt32.self, at: join(path, "errnoRet")))
        if let arguments = try array(json["args"], at: join(path, "args")) {
            var args: [OCISeccompPolicy.Argument] = []
            for (index, argument) in arguments.enumerated() {
                let at = join(path, "args") + "[\(index)]"
                let argument = try object(argument, at: at)
                guard
                    let position = try integer(
                        argument["index"], UInt32.self, at: join(at, "index"))
                else { throw fail(at, "missing index") }
                guard let value = try integer(argument["value"], UInt64.self, at: join(at, "value"))
                else { throw fail(at, "missing value") }
                args.append(
                    OCISeccompPolicy.Argument(
                        index: position, value: value,
                        valueTwo: try integer(
                            argument["valueTwo"], UInt64.self, at: join(at, "valueTwo")),
                        op: try required(argument, "op", at: at)))
            }
            rule.args = args
        }
        rule.includes = try filter(json["includes"], at: join(path, "includes"))
        rule.excludes = try filter(json["excludes"], at: join(path, "excludes"))
        return rule
    }

    func filter(_ json: JSONValue?, at path: String) throws(SeccompError)
        -> OCISeccompPolicy.ProfileFilter?
    {
        guard let json, json != .null else { return nil }
        let object = try object(json, at: path)
        return OCISeccompPolicy.ProfileFilter(
            arches: try strings(object["arches"], at: join(path, "arches")),
            caps: try strings(object["caps"], at: join(path, "caps")),
            minKernel: try string(object["minKernel"], at: join(path, "minKernel")))
    }
}
