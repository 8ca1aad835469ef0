import LXCSystem

extension OCISpec {
    /// Decodes `config.json` bytes; returns the spec and warnings for unknown keys and fields
    /// the runtime ignores. Throws an `OCIError` naming the JSON path of a bad value, or the
    /// line and column of malformed JSON.
    ///
    /// The document is parsed once into a `JSONValue` tree; building the typed spec from it
    /// records which members were read, and the members left over are the unknown keys.
    public static func decode(_ bytes: [UInt8], file: String? = nil) throws(OCIError)
        -> (spec: OCISpec, warnings: [String])
    {
        let tree: JSONValue
        do {
            tree = try JSONParser.parse(bytes)
        } catch {
            throw OCIError(file: file, path: "", reason: "invalid json at \(error)")
        }
        var context = OCIContext(file: file)
        let spec = try OCISpec(json: tree, context: &context)
        return (spec, context.warnings)
    }
}

/// One step of a JSON path: a member name or an array index.
enum OCIPathStep: Comparable {
    case key(String)
    case index(Int)

    static func render(_ steps: [OCIPathStep]) -> String {
        var text = ""
        for step in steps {
            switch step {
            case .key(let key): text += text.isEmpty ? key : "." + key
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}

/// The state of one decode: the path being read, for errors, and the unknown, ignored and
/// repeated members met so far, for warnings. A value passed `inout` down the tree, so using
/// it needs no runtime exclusivity checks.
struct OCIContext {
    let file: String?
    private(set) var path: [OCIPathStep] = []
    private var unknown: [[OCIPathStep]] = []
    private var ignored: [String] = []
    private var duplicates: [String] = []

    init(file: String?) { self.file = file }

    /// Reads `json` as `T` with `step` appended to the path.
    mutating func read<T: OCIDecodable>(_ json: JSONValue, at step: OCIPathStep)
        throws(OCIError) -> T
    {
        path.append(step)
        let value = try T(json: json, context: &self)
        path.removeLast()
        return value
    }

    func fail(_ reason: String) -> OCIError {
        OCIError(file: file, path: OCIPathStep.render(path), reason: reason)
    }

    mutating func unknownMember(_ key: String) { unknown.append(path + [.key(key)]) }

    mutating func duplicateMember(_ key: String) {
        duplicates.append(OCIPathStep.render(path + [.key(key)]))
    }

    mutating func ignoredMember(_ key: String) {
        ignored.append(OCIPathStep.render(path + [.key(key)]))
    }

    /// Unknown keys in document-tree order (members sorted by name, indices by number), each
    /// once, then the ignored fields, then the keys given more than once.
    var warnings: [String] {
        var lines: [String] = []
        var previous: [OCIPathStep]?
        for steps in unknown.sorted(by: { $0.lexicographicallyPrecedes($1) })
        where steps != previous {
            lines.append("\(OCIPathStep.render(steps)) is not supported and is ignored")
            previous = steps
        }
        for field in ignored.sorted() {
            lines.append("\(field) is not supported and is ignored")
        }
        for field in Set(duplicates).sorted() {
            lines.append("\(field) is given more than once; the last value is used")
        }
        return lines
    }
}

/// A spec type read from a `JSONValue`; `expected` names it in type errors (`an integer`).
protocol OCIDecodable {
    static var expected: String { get }
    init(json: JSONValue, context: inout OCIContext) throws(OCIError)
}

extension OCIDecodable {
    static func mismatch(_ json: JSONValue, _ context: OCIContext) -> OCIError {
        context.fail("expected \(expected), found \(json.kind)")
    }
}

/// A spec object: its initializer reads members from an `OCIObject`; members it does not
/// read are reported as unknown.
protocol OCIObjectDecodable: OCIDecodable {
    init(object: inout OCIObject) throws(OCIError)
}

extension OCIObjectDecodable {
    static var expected: String { "an object" }

    init(json: JSONValue, context: inout OCIContext) throws(OCIError) {
        guard case .object(let members) = json else { throw Self.mismatch(json, context) }
        // The object holds the context while its members are read; swapping moves it
        // without copying the path.
        var object = OCIObject(members: members)
        swap(&object.context, &context)
        try self.init(object: &object)
        object.reportUnread()
        swap(&object.context, &context)
    }
}

/// The members of one JSON object being read into a spec type, and which of them were read.
struct OCIObject {
    let members: [JSONMember]
    var context = OCIContext(file: nil)
    /// Which members were read: a bit each for the first 64, the array beyond.
    private var readBits: UInt64 = 0
    private var readBeyond: [Bool]

    init(members: [JSONMember]) {
        self.members = members
        self.readBeyond = members.count > 64 ? Array(repeating: false, count: members.count) : []
    }

    private func wasRead(_ index: Int) -> Bool {
        index < 64 ? readBits & (1 << index) != 0 : readBeyond[index]
    }

    /// The last member named `key`, marking all of that name read. Duplicates are noted for a
    /// warning; the last one wins as in runc (Go's decoder), where JSONDecoder took the first.
    private mutating func take(_ key: String) -> JSONValue? {
        var found: Int?
        for index in members.indices where members[index].key == key {
            if index < 64 { readBits |= 1 << index } else { readBeyond[index] = true }
            if found != nil { context.duplicateMember(key) }
            found = index
        }
        return found.map { members[$0].value }
    }

    /// A member that must be present and not null.
    mutating func required<T: OCIDecodable>(_ key: String) throws(OCIError) -> T {
        guard let value = take(key) else {
            let path = OCIPathStep.render(context.path + [.key(key)])
            throw OCIError(file: context.file, path: path, reason: "missing required field")
        }
        return try context.read(value, at: .key(key))
    }

    /// A member that may be missing or null.
    mutating func optional<T: OCIDecodable>(_ key: String) throws(OCIError) -> T? {
        guard let value = take(key), value != .null else { return nil }
        return try context.read(value, at: .key(key)) as T
    }

    /// A member the runtime reads but does not act on: a warning says so when it is present.
    mutating func ignored<T: OCIDecodable>(_ key: String) throws(OCIError) -> T? {
        if members.contains(where: { $0.key == key }) { context.ignoredMember(key) }
        return try optional(key)
    }

    mutating func reportUnread() {
        for index in members.indices where !wasRead(index) {
            context.unknownMember(members[index].key)
        }
    }
}

extension String: OCIDecodable {
    static var expected: String { "a string" }

    init(json: JSONValue, context: inout OCIContext) throws(OCIError) {
        guard case .string(let text) = json else { throw Self.mismatch(json, context) }
        self = text
    }
}

extension Bool: OCIDecodable {
    static var expected: String { "a boolean" }

    init(json: JSONValue, context: inout OCIContext) throws(OCIError) {
        guard case .bool(let flag) = json else { throw Self.mismatch(json, context) }
        self = flag
    }
}

extension OCIDecodable where Self: FixedWidthInteger {
    static var expected: String { "an integer" }

    init(json: JSONValue, context: inout OCIContext) throws(OCIError) {
        guard case .number(let number) = json else { throw Self.mismatch(json, context) }
        guard let value = number.exactly(Self.self) else {
            throw context.fail(
                "expected an integer from \(Self.min) to \(Self.max), found \(number)")
        }
        self = value
    }
}

extension Int: OCIDecodable {}
extension Int64: OCIDecodable {}
extension UInt16: OCIDecodable {}
extension UInt32: OCIDecodable {}
extension UInt64: OCIDecodable {}

extension Array: OCIDecodable where Element: OCIDecodable {
    static var expected: String { "an array" }

    init(json: JSONValue, context: inout OCIContext) throws(OCIError) {
        guard case .array(let items) = json else { throw Self.mismatch(json, context) }
        self = []
        reserveCapacity(items.count)
        for index in items.indices {
            append(try context.read(items[index], at: .index(index)))
        }
    }
}

/// A JSON object used as a map (`annotations`, `sysctl`): any key; the last duplicate wins.
extension Dictionary: OCIDecodable where Key == String, Value: OCIDecodable {
    static var expected: String { "an object" }

    init(json: JSONValue, context: inout OCIContext) throws(OCIError) {
        guard case .object(let members) = json else { throw Self.mismatch(json, context) }
        self = [:]
        reserveCapacity(members.count)
        for member in members {
            let value = try context.read(member.value, at: .key(member.key)) as Value
            if updateValue(value, forKey: member.key) != nil { context.duplicateMember(member.key) }
        }
    }
}

// Each spec type reads its members in declaration order, so the first bad member of an
// object is the one reported.

extension OCISpec: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        ociVersion = try object.required("ociVersion")
        process = try object.optional("process")
        root = try object.optional("root")
        hostname = try object.optional("hostname")
        domainname = try object.optional("domainname")
        mounts = try object.optional("mounts")
        hooks = try object.optional("hooks")
        annotations = try object.optional("annotations")
        linux = try object.optional("linux")
    }
}

extension OCISpec.Process: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        terminal = try object.optional("terminal")
        consoleSize = try object.optional("consoleSize")
        user = try object.required("user")
        args = try object.optional("args")
        env = try object.optional("env")
        cwd = try object.required("cwd")
        capabilities = try object.optional("capabilities")
        rlimits = try object.optional("rlimits")
        noNewPrivileges = try object.optional("noNewPrivileges")
        apparmorProfile = try object.optional("apparmorProfile")
        oomScoreAdj = try object.optional("oomScoreAdj")
        selinuxLabel = try object.ignored("selinuxLabel")
    }
}

extension OCISpec.ConsoleSize: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        height = try object.required("height")
        width = try object.required("width")
    }
}

extension OCISpec.User: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        uid = try object.required("uid")
        gid = try object.required("gid")
        umask = try object.optional("umask")
        additionalGids = try object.optional("additionalGids")
    }
}

extension OCISpec.Capabilities: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        bounding = try object.optional("bounding")
        effective = try object.optional("effective")
        inheritable = try object.optional("inheritable")
        permitted = try object.optional("permitted")
        ambient = try object.optional("ambient")
    }
}

extension OCISpec.Rlimit: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        type = try object.required("type")
        soft = try object.required("soft")
        hard = try object.required("hard")
    }
}

extension OCISpec.Root: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        path = try object.required("path")
        readonly = try object.optional("readonly")
    }
}

extension OCISpec.IDMapping: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        containerID = try object.required("containerID")
        hostID = try object.required("hostID")
        size = try object.required("size")
    }
}

extension OCISpec.Mount: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        destination = try object.required("destination")
        type = try object.optional("type")
        source = try object.optional("source")
        options = try object.optional("options")
        uidMappings = try object.optional("uidMappings")
        gidMappings = try object.optional("gidMappings")
    }
}

extension OCISpec.Hook: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        path = try object.required("path")
        args = try object.optional("args")
        env = try object.optional("env")
        timeout = try object.optional("timeout")
    }
}

extension OCISpec.Hooks: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        prestart = try object.optional("prestart")
        createRuntime = try object.optional("createRuntime")
        createContainer = try object.optional("createContainer")
        startContainer = try object.optional("startContainer")
        poststart = try object.optional("poststart")
        poststop = try object.optional("poststop")
    }
}

extension OCISpec.Namespace: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        type = try object.required("type")
        path = try object.optional("path")
    }
}

extension OCISpec.Device: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        type = try object.required("type")
        path = try object.required("path")
        major = try object.optional("major")
        minor = try object.optional("minor")
        fileMode = try object.optional("fileMode")
        uid = try object.optional("uid")
        gid = try object.optional("gid")
    }
}

extension OCISpec.TimeOffset: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        secs = try object.optional("secs")
        nanosecs = try object.optional("nanosecs")
    }
}

extension OCISpec.Personality: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        domain = try object.required("domain")
        flags = try object.optional("flags")
    }
}

extension OCISpec.Linux: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        namespaces = try object.optional("namespaces")
        uidMappings = try object.optional("uidMappings")
        gidMappings = try object.optional("gidMappings")
        timeOffsets = try object.optional("timeOffsets")
        devices = try object.optional("devices")
        cgroupsPath = try object.optional("cgroupsPath")
        resources = try object.optional("resources")
        rootfsPropagation = try object.optional("rootfsPropagation")
        seccomp = try object.optional("seccomp")
        sysctl = try object.optional("sysctl")
        maskedPaths = try object.optional("maskedPaths")
        readonlyPaths = try object.optional("readonlyPaths")
        mountLabel = try object.ignored("mountLabel")
        personality = try object.optional("personality")
        intelRdt = try object.ignored("intelRdt")
    }
}

extension OCISpec.IntelRdt: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        closID = try object.optional("closID")
        l3CacheSchema = try object.optional("l3CacheSchema")
        memBwSchema = try object.optional("memBwSchema")
    }
}

extension OCISpec.Resources: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        devices = try object.optional("devices")
        memory = try object.optional("memory")
        cpu = try object.optional("cpu")
        pids = try object.optional("pids")
        blockIO = try object.optional("blockIO")
        hugepageLimits = try object.optional("hugepageLimits")
        unified = try object.optional("unified")
    }
}

extension OCISpec.DeviceRule: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        allow = try object.required("allow")
        type = try object.optional("type")
        major = try object.optional("major")
        minor = try object.optional("minor")
        access = try object.optional("access")
    }
}

extension OCISpec.Memory: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        limit = try object.optional("limit")
        reservation = try object.optional("reservation")
        swap = try object.optional("swap")
        kernel = try object.optional("kernel")
        kernelTCP = try object.optional("kernelTCP")
        swappiness = try object.optional("swappiness")
        disableOOMKiller = try object.optional("disableOOMKiller")
        useHierarchy = try object.optional("useHierarchy")
        checkBeforeUpdate = try object.optional("checkBeforeUpdate")
    }
}

extension OCISpec.CPU: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        shares = try object.optional("shares")
        quota = try object.optional("quota")
        burst = try object.optional("burst")
        period = try object.optional("period")
        realtimeRuntime = try object.optional("realtimeRuntime")
        realtimePeriod = try object.optional("realtimePeriod")
        cpus = try object.optional("cpus")
        mems = try object.optional("mems")
        idle = try object.optional("idle")
    }
}

extension OCISpec.Pids: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        limit = try object.required("limit")
    }
}

extension OCISpec.BlockIO: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        weight = try object.optional("weight")
        leafWeight = try object.optional("leafWeight")
        weightDevice = try object.optional("weightDevice")
        throttleReadBpsDevice = try object.optional("throttleReadBpsDevice")
        throttleWriteBpsDevice = try object.optional("throttleWriteBpsDevice")
        throttleReadIOPSDevice = try object.optional("throttleReadIOPSDevice")
        throttleWriteIOPSDevice = try object.optional("throttleWriteIOPSDevice")
    }
}

extension OCISpec.WeightDevice: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        major = try object.required("major")
        minor = try object.required("minor")
        weight = try object.optional("weight")
        leafWeight = try object.optional("leafWeight")
    }
}

extension OCISpec.ThrottleDevice: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        major = try object.required("major")
        minor = try object.required("minor")
        rate = try object.required("rate")
    }
}

extension OCISpec.HugepageLimit: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        pageSize = try object.required("pageSize")
        limit = try object.required("limit")
    }
}

extension OCISpec.Seccomp: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        defaultAction = try object.required("defaultAction")
        defaultErrnoRet = try object.optional("defaultErrnoRet")
        architectures = try object.optional("architectures")
        flags = try object.optional("flags")
        listenerPath = try object.optional("listenerPath")
        listenerMetadata = try object.optional("listenerMetadata")
        syscalls = try object.optional("syscalls")
    }
}

extension OCISpec.Syscall: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        names = try object.required("names")
        action = try object.required("action")
        errnoRet = try object.optional("errnoRet")
        args = try object.optional("args")
    }
}

extension OCISpec.SyscallArg: OCIObjectDecodable {
    init(object: inout OCIObject) throws(OCIError) {
        index = try object.required("index")
        value = try object.required("value")
        valueTwo = try object.optional("valueTwo")
        op = try object.required("op")
    }
}
