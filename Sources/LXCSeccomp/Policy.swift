/// What the kernel does with a system call a filter matches.
///
/// The raw values are libseccomp's (`SCMP_ACT_*`), which are the kernel's
/// `SECCOMP_RET_*` values with the data in the low 16 bits.
public enum SeccompAction: Hashable, Sendable, CustomStringConvertible {
    /// Kill the calling thread (`SCMP_ACT_KILL`, `SCMP_ACT_KILL_THREAD`).
    case killThread
    /// Kill the whole process (`SCMP_ACT_KILL_PROCESS`).
    case killProcess
    /// Send SIGSYS to the caller (`SCMP_ACT_TRAP`).
    case trap
    /// Fail the call with this errno (`SCMP_ACT_ERRNO`).
    case errno(UInt16)
    /// Hand the call to a ptrace tracer with this message, or fail with ENOSYS without one.
    case trace(UInt16)
    /// Allow the call and log it (`SCMP_ACT_LOG`).
    case log
    /// Ask the supervisor holding the listener fd (`SCMP_ACT_NOTIFY`).
    case notify
    /// Allow the call (`SCMP_ACT_ALLOW`).
    case allow

    /// libseccomp's action value.
    public var rawValue: UInt32 {
        switch self {
        case .killThread: return 0x0000_0000
        case .killProcess: return 0x8000_0000
        case .trap: return 0x0003_0000
        case .errno(let value): return 0x0005_0000 | UInt32(value)
        case .trace(let value): return 0x7ff0_0000 | UInt32(value)
        case .log: return 0x7ffc_0000
        case .notify: return 0x7fc0_0000
        case .allow: return 0x7fff_0000
        }
    }

    /// The action as LXC's policy language writes it (`kill`, `errno 1`, `notify`).
    public var description: String {
        switch self {
        case .killThread: return "kill"
        case .killProcess: return "kill_process"
        case .trap: return "trap"
        case .errno(let value): return "errno \(value)"
        case .trace(let value): return "trace \(value)"
        case .log: return "log"
        case .notify: return "notify"
        case .allow: return "allow"
        }
    }
}

/// How a system call argument is compared (`enum scmp_compare`).
public enum SeccompComparison: UInt32, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case notEqual = 1
    case lessThan = 2
    case lessOrEqual = 3
    case equal = 4
    case greaterOrEqual = 5
    case greaterThan = 6
    case maskedEqual = 7

    /// The `SCMP_CMP_*` name, as OCI and LXC write it.
    public var libseccompName: String {
        switch self {
        case .notEqual: return "SCMP_CMP_NE"
        case .lessThan: return "SCMP_CMP_LT"
        case .lessOrEqual: return "SCMP_CMP_LE"
        case .equal: return "SCMP_CMP_EQ"
        case .greaterOrEqual: return "SCMP_CMP_GE"
        case .greaterThan: return "SCMP_CMP_GT"
        case .maskedEqual: return "SCMP_CMP_MASKED_EQ"
        }
    }

    /// LXC's short spelling (`!=`, `&=`).
    public var symbol: String {
        switch self {
        case .notEqual: return "!="
        case .lessThan: return "<"
        case .lessOrEqual: return "<="
        case .equal: return "=="
        case .greaterOrEqual: return ">="
        case .greaterThan: return ">"
        case .maskedEqual: return "&="
        }
    }

    /// Reads either spelling; nil for anything else.
    public init?(spelling: String) {
        guard
            let match = Self.allCases.first(where: {
                $0.libseccompName == spelling || $0.symbol == spelling
            })
        else { return nil }
        self = match
    }

    public var description: String { symbol }
}

/// One condition on a system call argument: `arg[index] op value`, or for `&=`
/// `(arg[index] & mask) == value`.
public struct ArgumentCondition: Hashable, Sendable, CustomStringConvertible {
    /// The argument, 0 to 5.
    public var index: UInt32
    public var comparison: SeccompComparison
    /// The value compared against (for `&=`, the value after masking).
    public var value: UInt64
    /// The mask of `&=`; unused by the other comparisons.
    public var mask: UInt64

    public init(index: UInt32, _ comparison: SeccompComparison, _ value: UInt64, mask: UInt64 = 0) {
        self.index = index
        self.comparison = comparison
        self.value = value
        self.mask = mask
    }

    /// `arg1 == 0x2`, `arg1 & 0x3 == 0x1`.
    public var description: String {
        let value = "0x" + String(value, radix: 16)
        if comparison == .maskedEqual {
            return "arg\(index) & 0x\(String(mask, radix: 16)) == \(value)"
        }
        return "arg\(index) \(comparison.symbol) \(value)"
    }
}

/// The system call a rule names: by name (LXC v2, OCI) or by native number (LXC v1).
public enum SyscallReference: Hashable, Sendable, CustomStringConvertible {
    case name(String)
    case number(Int32)

    public var description: String {
        switch self {
        case .name(let name): return name
        case .number(let number): return "#\(number)"
        }
    }
}

/// One rule of a policy, with where it came from.
public struct SeccompRule: Hashable, Sendable {
    public var syscall: SyscallReference
    public var action: SeccompAction
    /// All must hold for the rule to match (at most six).
    public var conditions: [ArgumentCondition]
    /// `line 7` for LXC policies, `syscalls[3]` for OCI.
    public var origin: String
    /// LXC's `reject_force_umount`: `umount2` with `MNT_FORCE` fails with EACCES.
    public var isRejectForceUmount: Bool

    public init(
        syscall: SyscallReference, action: SeccompAction, conditions: [ArgumentCondition] = [],
        origin: String, isRejectForceUmount: Bool = false
    ) {
        self.syscall = syscall
        self.action = action
        self.conditions = conditions
        self.origin = origin
        self.isRejectForceUmount = isRejectForceUmount
    }
}

/// Flags for `seccomp(SECCOMP_SET_MODE_FILTER)` (`SECCOMP_FILTER_FLAG_*`).
public struct SeccompFilterFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let tsync = SeccompFilterFlags(rawValue: 1 << 0)
    public static let log = SeccompFilterFlags(rawValue: 1 << 1)
    public static let specAllow = SeccompFilterFlags(rawValue: 1 << 2)
    public static let newListener = SeccompFilterFlags(rawValue: 1 << 3)
    public static let tsyncESRCH = SeccompFilterFlags(rawValue: 1 << 4)
    public static let waitKillableRecv = SeccompFilterFlags(rawValue: 1 << 5)

    /// The OCI spellings (`SECCOMP_FILTER_FLAG_LOG`), for `linux.seccomp.flags`.
    public static let ociNames: [String: SeccompFilterFlags] = [
        "SECCOMP_FILTER_FLAG_TSYNC": .tsync,
        "SECCOMP_FILTER_FLAG_LOG": .log,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW": .specAllow,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": .waitKillableRecv,
    ]
}

/// A parsed policy, from LXC's language or OCI's `linux.seccomp`: the input of
/// `SeccompCompiler`.
public struct SeccompPolicy: Hashable, Sendable {
    /// Where the policy came from, and so which rules of the two languages apply.
    public enum Dialect: Hashable, Sendable {
        /// LXC version 1: native syscall numbers, an allow list.
        case lxcVersion1
        /// LXC version 2: names, arch sections, compat arches for `[all]`.
        case lxcVersion2
        /// OCI `linux.seccomp` as runc and crun read it.
        case oci
    }

    /// The policy's file, for messages.
    public var file: String
    public var dialect: Dialect
    /// What happens to a call no rule matches.
    public var defaultAction: SeccompAction
    /// Architectures the filter covers besides the native one, in order.
    public var extraArchitectures: [SeccompArchitecture]
    public var rules: [SeccompRule]
    /// Flags the policy asks for (OCI `flags`); the listener flag is added by the compiler.
    public var flags: SeccompFilterFlags
    /// Things the parser skipped, as LXC does, each naming its line.
    public var warnings: [String]
    /// OCI `listenerPath` and `listenerMetadata`: where the runtime sends the listener fd.
    public var listenerPath: String?
    public var listenerMetadata: String?

    public init(
        file: String, dialect: Dialect, defaultAction: SeccompAction,
        extraArchitectures: [SeccompArchitecture] = [], rules: [SeccompRule] = [],
        flags: SeccompFilterFlags = [], warnings: [String] = []
    ) {
        self.file = file
        self.dialect = dialect
        self.defaultAction = defaultAction
        self.extraArchitectures = extraArchitectures
        self.rules = rules
        self.flags = flags
        self.warnings = warnings
    }

    /// Whether any rule (or the default) notifies, so the filter needs a listener fd.
    public var needsListener: Bool {
        defaultAction == .notify || rules.contains { $0.action == .notify }
    }
}
