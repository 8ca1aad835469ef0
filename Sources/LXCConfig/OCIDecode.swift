import FoundationEssentials

/// Any JSON value, to find the keys the typed spec does not hold.
indirect enum JSONValue: Decodable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case other

    init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: JSONValue] = [:]
            for key in keyed.allKeys {
                members[key.stringValue] = try keyed.decode(JSONValue.self, forKey: key)
            }
            self = .object(members)
        } else if var list = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !list.isAtEnd { items.append(try list.decode(JSONValue.self)) }
            self = .array(items)
        } else {
            self = .other
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension OCISpec {
    /// The object keys the spec types know, by JSON path (`[]` stands for any array element,
    /// `*` for any member of a map). Objects without an entry (annotations, sysctl, unified)
    /// take any key.
    static let schema: [String: Set<String>] = [
        "": [
            "ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks",
            "annotations", "linux",
        ],
        "process": [
            "terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits",
            "noNewPrivileges", "apparmorProfile", "oomScoreAdj", "selinuxLabel",
        ],
        "process.consoleSize": ["height", "width"],
        "process.user": ["uid", "gid", "umask", "additionalGids"],
        "process.capabilities": ["bounding", "effective", "inheritable", "permitted", "ambient"],
        "process.rlimits[]": ["type", "soft", "hard"],
        "root": ["path", "readonly"],
        "mounts[]": ["destination", "type", "source", "options", "uidMappings", "gidMappings"],
        "mounts[].uidMappings[]": ["containerID", "hostID", "size"],
        "mounts[].gidMappings[]": ["containerID", "hostID", "size"],
        "hooks": [
            "prestart", "createRuntime", "createContainer", "startContainer", "poststart",
            "poststop",
        ],
        "hooks.*[]": ["path", "args", "env", "timeout"],
        "linux": [
            "namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices", "cgroupsPath",
            "resources", "rootfsPropagation", "seccomp", "sysctl", "maskedPaths",
            "readonlyPaths", "mountLabel", "personality", "intelRdt",
        ],
        "linux.namespaces[]": ["type", "path"],
        "linux.uidMappings[]": ["containerID", "hostID", "size"],
        "linux.gidMappings[]": ["containerID", "hostID", "size"],
        "linux.timeOffsets.*": ["secs", "nanosecs"],
        "linux.devices[]": ["type", "path", "major", "minor", "fileMode", "uid", "gid"],
        "linux.resources": [
            "devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "unified",
        ],
        "linux.resources.devices[]": ["allow", "type", "major", "minor", "access"],
        "linux.resources.memory": [
            "limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness",
            "disableOOMKiller", "useHierarchy", "checkBeforeUpdate",
        ],
        "linux.resources.cpu": [
            "shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus",
            "mems", "idle",
        ],
        "linux.resources.pids": ["limit"],
        "linux.resources.blockIO": [
            "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
            "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice",
        ],
        "linux.resources.hugepageLimits[]": ["pageSize", "limit"],
        "linux.seccomp": [
            "defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
            "listenerMetadata", "syscalls",
        ],
        "linux.seccomp.syscalls[]": ["names", "action", "errnoRet", "args"],
        "linux.seccomp.syscalls[].args[]": ["index", "value", "valueTwo", "op"],
        "linux.personality": ["domain", "flags"],
        "linux.intelRdt": ["closID", "l3CacheSchema", "memBwSchema"],
    ]

    /// Fields decoded but not acted on by the runtime.
    static let ignoredFields: [String] = [
        "linux.intelRdt", "linux.mountLabel", "process.selinuxLabel",
    ]

    /// Decodes `config.json` bytes; returns the spec and warnings for unknown keys and fields
    /// the runtime ignores. Throws an `OCIError` naming the JSON path of a bad value.
    public static func decode(_ bytes: [UInt8], file: String? = nil) throws(OCIError)
        -> (spec: OCISpec, warnings: [String])
    {
        let data = Data(bytes)
        let spec: OCISpec
        let tree: JSONValue
        do {
            spec = try JSONDecoder().decode(OCISpec.self, from: data)
            tree = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch let error as DecodingError {
            throw describe(error, file: file)
        } catch {
            throw OCIError(file: file, path: "", reason: "invalid json")
        }
        var warnings: [String] = []
        unknownKeys(in: tree, at: "", schemaPath: "", into: &warnings)
        if case .object(let root) = tree {
            for field in ignoredFields where lookup(root, field) {
                warnings.append("\(field) is not supported and is ignored")
            }
        }
        return (spec, warnings)
    }

    private static func lookup(_ object: [String: JSONValue], _ path: String) -> Bool {
        var current = JSONValue.object(object)
        for part in path.split(separator: ".") {
            guard case .object(let members) = current, let next = members[String(part)] else {
                return false
            }
            current = next
        }
        return true
    }

    private static func unknownKeys(
        in value: JSONValue, at path: String, schemaPath: String, into warnings: inout [String]
    ) {
        switch value {
        case .object(let members):
            let known = schema[schemaPath]
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                let childPath = path.isEmpty ? key : path + "." + key
                if let known, !known.contains(key) {
                    warnings.append("\(childPath) is not supported and is ignored")
                    continue
                }
                let childSchema =
                    schemaPath == "linux.timeOffsets"
                    ? "linux.timeOffsets.*"
                    : schemaPath == "hooks"
                        ? "hooks.*" : (schemaPath.isEmpty ? key : schemaPath + "." + key)
                if known == nil, schemaPath != "linux.timeOffsets" { continue }
                unknownKeys(in: member, at: childPath, schemaPath: childSchema, into: &warnings)
            }
        case .array(let items):
            for (index, item) in items.enumerated() {
                unknownKeys(
                    in: item, at: "\(path)[\(index)]", schemaPath: schemaPath + "[]",
                    into: &warnings)
            }
        case .other:
            break
        }
    }

    private static func describe(_ error: DecodingError, file: String?) -> OCIError {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : "." + key.stringValue
                }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            let full = parent.isEmpty ? key.stringValue : parent + "." + key.stringValue
            return OCIError(file: file, path: full, reason: "missing required field")
        case .typeMismatch(let type, let context):
            return OCIError(
                file: file, path: path(context.codingPath),
                reason: "expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return OCIError(
                file: file, path: path(context.codingPath),
                reason: "expected \(typeName(type)), found null")
        case .dataCorrupted(let context):
            let reason = context.codingPath.isEmpty ? "invalid json" : "invalid value"
            return OCIError(file: file, path: path(context.codingPath), reason: reason)
        @unknown default:
            return OCIError(file: file, path: "", reason: "invalid document")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is UInt32.Type, is UInt64.Type, is UInt16.Type:
            return "an integer"
        case is [Any].Type: return "an array"
        default: return "an object"
        }
    }
}
