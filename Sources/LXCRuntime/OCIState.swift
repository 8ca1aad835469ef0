import Glibc
import LXCCgroups
import LXCConfig
import LXCSystem

/// A failure of an OCI lifecycle verb; the text names the container, the file or the call.
public struct OCIRuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The states of the OCI runtime spec (runtime.md), and runc's `paused`.
public enum OCIStatus: String, Sendable {
    case creating, created, running, paused, stopped
}

/// What `create` records for the later verbs in `<root>/<id>/state.json`.
public struct OCIContainerRecord: Sendable, Equatable {
    public var id: String
    /// The init's pid in the runtime's pid namespace.
    public var pid: pid_t
    /// Field 22 of `/proc/<pid>/stat` when the init was made: a recycled pid has another.
    public var startTime: UInt64
    public var bundle: String
    public var rootfs: String
    /// RFC 3339, UTC, as runc's `created`.
    public var created: String
    public var annotations: [ContainerConfig.KeyValue]
    public var cgroup: CgroupRecord?
    /// The hooks the later verbs run: `poststart` (start) and `poststop` (delete).
    public var hooks: [String: [ContainerConfig.Hook]]

    public init(
        id: String, pid: pid_t, startTime: UInt64, bundle: String, rootfs: String,
        created: String, annotations: [ContainerConfig.KeyValue] = [],
        cgroup: CgroupRecord? = nil, hooks: [String: [ContainerConfig.Hook]] = [:]
    ) {
        self.id = id
        self.pid = pid
        self.startTime = startTime
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.annotations = annotations
        self.cgroup = cgroup
        self.hooks = hooks
    }

    /// The state JSON of the runtime spec (what `state` prints and hooks read on stdin);
    /// `pid` is 0 once stopped, as runc reports it.
    public func stateJSON(status: OCIStatus, pretty: Bool = false) -> String {
        let annotationText = annotations.map {
            "\(JSONText.quote($0.key)):\(JSONText.quote($0.value))"
        }
        let pairs: [(String, String)] = [
            ("ociVersion", JSONText.quote("1.0.2")), ("id", JSONText.quote(id)),
            ("pid", "\(status == .stopped ? 0 : pid)"), ("status", JSONText.quote(status.rawValue)),
            ("bundle", JSONText.quote(bundle)), ("rootfs", JSONText.quote(rootfs)),
            ("created", JSONText.quote(created)), ("owner", JSONText.quote("")),
            ("annotations", "{" + annotationText.joined(separator: ",") + "}"),
        ]
        if pretty {
            let body = pairs.map { "  \(JSONText.quote($0.0)): \($0.1)" }.joined(separator: ",\n")
            return "{\n" + body + "\n}"
        }
        return "{" + pairs.map { "\(JSONText.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// The whole record, for `state.json`.
    func encoded() -> String {
        func strings(_ list: [String]) -> String {
            "[" + list.map(JSONText.quote).joined(separator: ",") + "]"
        }
        var text = "{\"id\":\(JSONText.quote(id)),\"pid\":\(pid),\"startTime\":\(startTime)"
        text += ",\"bundle\":\(JSONText.quote(bundle)),\"rootfs\":\(JSONText.quote(rootfs))"
        text += ",\"created\":\(JSONText.quote(created)),\"annotations\":["
        text += annotations.map { strings([$0.key, $0.value]) }.joined(separator: ",") + "]"
        if let cgroup {
            text += ",\"cgroup\":{\"path\":\(JSONText.quote(cgroup.path))"
            if let inner = cgroup.inner { text += ",\"inner\":\(JSONText.quote(inner))" }
            text += ",\"members\":["
            text += cgroup.members.map { member in
                "{\"mountPoint\":\(JSONText.quote(member.mountPoint)),"
                    + "\"limit\":\(JSONText.quote(member.limitDirectory)),"
                    + "\"payload\":\(JSONText.quote(member.payloadDirectory)),"
                    + "\"created\":\(strings(member.created))}"
            }.joined(separator: ",")
            text += "]}"
        }
        text += ",\"hooks\":{"
        text += hooks.keys.sorted().map { stage in
            JSONText.quote(stage) + ":["
                + (hooks[stage] ?? []).map { hook in
                    "{\"path\":\(JSONText.quote(hook.path)),\"args\":\(strings(hook.args)),"
                        + "\"env\":\(strings(hook.env)),\"timeout\":\(hook.timeout.map { "\($0)" } ?? "null")}"
                }.joined(separator: ",") + "]"
        }.joined(separator: ",")
        return text + "}}\n"
    }

    init(decoding bytes: [UInt8], file: String) throws(OCIRuntimeError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw OCIRuntimeError("\(file): \(error)")
        }
        func bad(_ key: String) -> OCIRuntimeError {
            OCIRuntimeError("\(file): \(key) is missing or invalid")
        }
        func string(_ value: JSONValue?, _ key: String) throws(OCIRuntimeError) -> String {
            guard case .string(let text)? = value else { throw bad(key) }
            return text
        }
        func strings(_ value: JSONValue?, _ key: String) throws(OCIRuntimeError) -> [String] {
            guard case .array(let items)? = value else { throw bad(key) }
            var result: [String] = []
            for item in items { result.append(try string(item, key)) }
            return result
        }
        func number(_ value: JSONValue?, _ key: String) throws(OCIRuntimeError) -> UInt64 {
            guard case .number(let number)? = value, let result = number.exactly(UInt64.self) else {
                throw bad(key)
            }
            return result
        }
        id = try string(value["id"], "id")
        guard let pidValue = pid_t(exactly: try number(value["pid"], "pid")) else {
            throw bad("pid")
        }
        pid = pidValue
        startTime = try number(value["startTime"], "startTime")
        bundle = try string(value["bundle"], "bundle")
        rootfs = try string(value["rootfs"], "rootfs")
        created = try string(value["created"], "created")
        annotations = []
        if case .array(let pairs)? = value["annotations"] {
            for pair in pairs {
                let items = try strings(pair, "annotations")
                guard items.count == 2 else { throw bad("annotations") }
                annotations.append(ContainerConfig.KeyValue(items[0], items[1]))
            }
        }
        cgroup = nil
        if let group = value["cgroup"] {
            var members: [CgroupRecord.Member] = []
            guard case .array(let list)? = group["members"] else { throw bad("cgroup.members") }
            for member in list {
                members.append(
                    CgroupRecord.Member(
                        mountPoint: try string(member["mountPoint"], "cgroup.members"),
                        limitDirectory: try string(member["limit"], "cgroup.members"),
                        payloadDirectory: try string(member["payload"], "cgroup.members"),
                        created: try strings(member["created"], "cgroup.members")))
            }
            let inner: String? =
                group["inner"] == nil ? nil : try string(group["inner"], "cgroup.inner")
            cgroup = CgroupRecord(
                path: try string(group["path"], "cgroup.path"), inner: inner, members: members)
        }
        hooks = [:]
        if case .object(let stages)? = value["hooks"] {
            for stage in stages {
                guard case .array(let list) = stage.value else { throw bad("hooks") }
                for item in list {
                    var hook = ContainerConfig.Hook(
                        path: try string(item["path"], "hooks"),
                        args: try strings(item["args"], "hooks"))
                    hook.env = try strings(item["env"], "hooks")
                    if case .number(let seconds)? = item["timeout"] {
                        hook.timeout = seconds.exactly(Int.self)
                    }
                    hooks[stage.key, default: []].append(hook)
                }
            }
        }
    }

    /// The init's pidfd when the init is still the process `create` made and has not ended:
    /// the pidfd is opened first and the start time checked after, so the pidfd cannot
    /// name a process that took a recycled pid.
    public func liveInit() -> PIDFD? {
        guard pid > 0, let process = try? PIDFD.open(pid) else { return nil }
        guard let stat = ProcessStat(pid: pid), stat.startTime == startTime, stat.state != "Z",
            stat.state != "X"
        else { return nil }
        return process
    }
}

/// The fields of `/proc/<pid>/stat` the runtime needs.
public struct ProcessStat: Sendable {
    /// Field 3: `R`, `S`, `Z` (a zombie: ended, not yet reaped)…
    public var state: Character
    /// Field 22: clock ticks after boot when the process started.
    public var startTime: UInt64

    public init?(pid: pid_t) {
        guard let bytes = try? FileContents.read("/proc/\(pid)/stat"),
            let close = bytes.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        // The command name (field 2) may hold spaces and parentheses: fields 3… follow the
        // last ')'.
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 19, let first = fields[fields.startIndex].first,
            let start = UInt64(String(decoding: fields[fields.startIndex + 19], as: UTF8.self))
        else { return nil }
        state = Character(UnicodeScalar(first))
        startTime = start
    }
}

/// A container's directory in the runtime's root, `<root>/<id>`, held under an exclusive
/// `flock` so that verbs on one container run one at a time. It holds `state.json` and,
/// while the container is created but not started, `start.sock`, which the waiting init
/// listens on.
public struct OCIStateDirectory: ~Copyable {
    public let root: String
    public let id: String
    /// The directory, open and locked.
    let directory: FileDescriptor

    public var path: String { root + "/" + id }
    /// A path to the directory's entries that stays short whatever the root's length
    /// (a socket address holds at most 107 bytes).
    var shortPath: String { "/proc/self/fd/\(directory.rawValue)" }
    public static let stateFile = "state.json"
    public static let gateFile = "start.sock"

    /// runc's rule: letters, digits, `_`, `+`, `-`, `.`, at most 1024 bytes, and neither
    /// `.` nor `..`.
    public static func validate(id: String) throws(OCIRuntimeError) {
        let allowed = id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a)
                || (byte >= 0x61 && byte <= 0x7a) || byte == 0x5f || byte == 0x2b
                || byte == 0x2d || byte == 0x2e
        }
        guard !id.isEmpty, id.utf8.count <= 1024, allowed, id != ".", id != ".." else {
            throw OCIRuntimeError(
                "invalid container id \(JSONText.quote(id)): use letters, digits, '_', '+', '-' "
                    + "and '.' (at most 1024 bytes)")
        }
    }

    private init(root: String, id: String, directory: consuming FileDescriptor) {
        self.root = root
        self.id = id
        self.directory = directory
    }

    /// Makes `<root>/<id>` (and the root, mode 0700) and locks it; fails when it exists.
    public static func make(root: String, id: String) throws(OCIRuntimeError) -> OCIStateDirectory {
        try validate(id: id)
        var prefix = ""
        for component in root.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw OCIRuntimeError("mkdir \(prefix): \(Errno.current)")
            }
        }
        let path = root + "/" + id
        if mkdir(path, 0o700) != 0 {
            if errno == EEXIST {
                throw OCIRuntimeError("container \(id) already exists in \(root)")
            }
            throw OCIRuntimeError("mkdir \(path): \(Errno.current)")
        }
        return try lock(root: root, id: id, shared: false)
    }

    /// Opens and locks an existing container's directory.
    public static func open(root: String, id: String, shared: Bool = false) throws(OCIRuntimeError)
        -> OCIStateDirectory
    {
        try validate(id: id)
        return try lock(root: root, id: id, shared: shared)
    }

    private static func lock(root: String, id: String, shared: Bool) throws(OCIRuntimeError)
        -> OCIStateDirectory
    {
        let path = root + "/" + id
        var fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 && fd < 3 {
            // A caller with a closed stdio fd must not hand the locked directory on as stdio.
            let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
            Glibc.close(fd)
            fd = moved
        }
        if fd < 0 {
            if errno == ENOENT {
                throw OCIRuntimeError("container \(id) does not exist in \(root)")
            }
            throw OCIRuntimeError("open \(path): \(Errno.current)")
        }
        let directory = FileDescriptor(owning: fd)
        var result: Int32
        repeat {
            result = flock(directory.rawValue, shared ? LOCK_SH : LOCK_EX)
        } while result != 0 && errno == EINTR
        if result != 0 { throw OCIRuntimeError("flock \(path): \(Errno.current)") }
        return OCIStateDirectory(root: root, id: id, directory: directory)
    }

    /// Writes `state.json` atomically: a temporary file renamed over the old one.
    public func save(_ record: OCIContainerRecord) throws(OCIRuntimeError) {
        let temporary = shortPath + "/.state.json.tmp"
        let bytes = Array(record.encoded().utf8)
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { throw OCIRuntimeError("open \(path)/.state.json.tmp: \(Errno.current)") }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        Glibc.close(fd)
        guard written == bytes.count, synced == 0,
            renameat(directory.rawValue, ".state.json.tmp", directory.rawValue, Self.stateFile) == 0
        else { throw OCIRuntimeError("write \(path)/\(Self.stateFile): \(Errno.current)") }
    }

    /// The record `create` saved; an error naming the container when there is none (a
    /// create that died half-way leaves a directory without it).
    public func load() throws(OCIRuntimeError) -> OCIContainerRecord {
        let file = path + "/" + Self.stateFile
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(shortPath + "/" + Self.stateFile)
        } catch {
            if error.errno == .ENOENT {
                throw OCIRuntimeError("container \(id) does not exist in \(root)")
            }
            throw OCIRuntimeError("read \(file): \(error.errno)")
        }
        return try OCIContainerRecord(decoding: bytes, file: file)
    }

    /// Whether the init still waits for `start`.
    public var isWaitingForStart: Bool {
        faccessat(directory.rawValue, Self.gateFile, F_OK, AT_SYMLINK_NOFOLLOW) == 0
    }

    func removeGate() {
        _ = unlinkat(directory.rawValue, Self.gateFile, 0)
    }

    /// The container's status now: stopped once the init has ended (or its pid names
    /// another process), created while it waits for `start`, paused while frozen.
    public func status(of record: OCIContainerRecord) -> OCIStatus {
        guard record.liveInit() != nil else { return .stopped }
        if isWaitingForStart { return .created }
        if let cgroup = record.cgroup, let layout = try? CgroupLayout.detect(),
            (try? ContainerCgroup.reopen(cgroup, in: layout).isFrozen()) == true
        {
            return .paused
        }
        return .running
    }

    /// Removes the directory and everything in it; the lock goes with the descriptor.
    public consuming func remove() {
        for name in [Self.stateFile, Self.gateFile, ".state.json.tmp"] {
            _ = unlinkat(directory.rawValue, name, 0)
        }
        _ = rmdir(path)
    }

    /// The ids of the containers in `root`, sorted.
    public static func ids(in root: String) -> [String] {
        guard let stream = opendir(root) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." && entry.pointee.d_type == UInt8(DT_DIR) {
                names.append(name)
            }
        }
        return names.sorted()
    }
}

/// The time now as RFC 3339 in UTC with nanoseconds, as runc writes `created`.
func rfc3339Now() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let nanos = String(now.tv_nsec)
    let fraction = String(repeating: "0", count: 9 - nanos.count) + nanos
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
}
