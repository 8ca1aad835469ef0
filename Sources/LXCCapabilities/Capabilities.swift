import CCap
import CShim
import Glibc
import LXCSystem

/// A Linux capability by number, named as the kernel names it (`CAP_SYS_ADMIN`).
public struct Capability: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let number: Int

    public init(number: Int) {
        self.number = number
    }

    /// The kernel's names, indexed by number (linux/capability.h, up to CAP_CHECKPOINT_RESTORE).
    public static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// Parses `CAP_SYS_ADMIN`, `sys_admin` (LXC's spelling) or a number.
    public init?(name: String) {
        if let number = Int(name), number >= 0, number < 64 {
            self.number = number
            return
        }
        var upper = name.uppercased()
        if !upper.hasPrefix("CAP_") { upper = "CAP_" + upper }
        guard let index = Capability.names.firstIndex(of: upper) else { return nil }
        self.number = index
    }

    public var name: String {
        number < Capability.names.count ? Capability.names[number] : "CAP_\(number)"
    }

    public var description: String { name }

    public static func < (lhs: Capability, rhs: Capability) -> Bool { lhs.number < rhs.number }

    /// The highest capability this kernel knows (`/proc/sys/kernel/cap_last_cap`).
    public static func lastSupported() -> Int {
        guard let text = try? FileContents.readText("/proc/sys/kernel/cap_last_cap"),
            let value = Int(text.filter { !$0.isWhitespace })
        else { return names.count - 1 }
        return value
    }
}

/// A set of capabilities as a 64-bit mask, the form `/proc/<pid>/status` prints.
public struct CapabilitySet: Hashable, Sendable, CustomStringConvertible {
    public var mask: UInt64

    public init(mask: UInt64 = 0) {
        self.mask = mask
    }

    public init(_ capabilities: [Capability]) {
        mask = capabilities.reduce(0) { $0 | (1 << UInt64($1.number)) }
    }

    /// Every capability up to `last` (the kernel's last by default).
    public static func all(through last: Int = Capability.lastSupported()) -> CapabilitySet {
        CapabilitySet(mask: last >= 63 ? .max : (UInt64(1) << UInt64(last + 1)) - 1)
    }

    public func contains(_ capability: Capability) -> Bool {
        mask & (1 << UInt64(capability.number)) != 0
    }

    public var members: [Capability] {
        (0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map(Capability.init(number:))
    }

    public func subtracting(_ other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(mask: mask & ~other.mask)
    }

    public func intersection(_ other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(mask: mask & other.mask)
    }

    /// Sixteen hex digits, as `/proc/<pid>/status` shows `CapBnd`.
    public var description: String {
        let hex = String(mask, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }
}

/// The five sets a container's process gets.
public struct CapabilitySets: Hashable, Sendable {
    public var bounding: CapabilitySet
    public var effective: CapabilitySet
    public var permitted: CapabilitySet
    public var inheritable: CapabilitySet
    public var ambient: CapabilitySet

    public init(
        bounding: CapabilitySet, effective: CapabilitySet, permitted: CapabilitySet,
        inheritable: CapabilitySet = CapabilitySet(), ambient: CapabilitySet = CapabilitySet()
    ) {
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient
    }

    /// LXC's model: what the starting process may pass on (`available`, its bounding set),
    /// minus `lxc.cap.drop`, or only `lxc.cap.keep` when it is given. The result is the
    /// bounding set and, for root, the working sets.
    public static func lxc(drop: [Capability], keep: [Capability], available: CapabilitySet)
        -> CapabilitySets
    {
        let wanted = keep.isEmpty ? available.subtracting(CapabilitySet(drop)) : CapabilitySet(keep)
        let set = wanted.intersection(available)
        return CapabilitySets(bounding: set, effective: set, permitted: set)
    }

    /// The calling process's bounding set, from `/proc/self/status`.
    public static func currentBoundingSet() -> CapabilitySet {
        guard let status = try? FileContents.readText("/proc/self/status") else {
            return CapabilitySet.all()
        }
        for line in status.split(separator: "\n") where line.hasPrefix("CapBnd:") {
            let hex = line.dropFirst(7).filter { !$0.isWhitespace }
            if let mask = UInt64(hex, radix: 16) { return CapabilitySet(mask: mask) }
        }
        return CapabilitySet.all()
    }
}

/// Errors applying capabilities, naming the step and the capability.
public enum CapabilityError: Error, Sendable, CustomStringConvertible {
    case unknownName(String)
    case syscall(SyscallError)

    public var description: String {
        switch self {
        case .unknownName(let name): return "unknown capability \(name)"
        case .syscall(let error): return error.description
        }
    }
}

/// Changes the calling process's capabilities. For the container-side stage only.
public enum CapabilityControl {
    /// Drops every capability outside `keep` from the bounding set (`PR_CAPBSET_DROP`).
    /// Needs CAP_SETPCAP, so it runs before the switch to the container's user.
    public static func limitBoundingSet(to keep: CapabilitySet) throws(SyscallError) {
        for number in 0...Capability.lastSupported() {
            let capability = Capability(number: number)
            if keep.contains(capability) { continue }
            let result = shim_syscall6(Int(SYS_prctl), Int(PR_CAPBSET_DROP), number, 0, 0, 0, 0)
            _ = try check(result, "prctl PR_CAPBSET_DROP", capability.name)
        }
    }

    /// Keeps the permitted set across the coming `setuid` (`PR_SET_KEEPCAPS`).
    public static func keepAcrossUserChange(_ on: Bool) throws(SyscallError) {
        let result = shim_syscall6(Int(SYS_prctl), Int(PR_SET_KEEPCAPS), on ? 1 : 0, 0, 0, 0, 0)
        _ = try check(result, "prctl PR_SET_KEEPCAPS")
    }

    /// Sets the effective, permitted and inheritable sets through libcap, then raises the
    /// ambient set (which must be inside permitted and inheritable).
    public static func apply(_ sets: CapabilitySets) throws(SyscallError) {
        guard let state = cap_init() else { throw SyscallError(.current, call: "cap_init") }
        defer { cap_free(UnsafeMutableRawPointer(state)) }
        let flags: [(cap_flag_t, CapabilitySet)] = [
            (CAP_EFFECTIVE, sets.effective), (CAP_PERMITTED, sets.permitted),
            (CAP_INHERITABLE, sets.inheritable),
        ]
        for (flag, set) in flags {
            var values = set.members.map { cap_value_t($0.number) }
            if values.isEmpty { continue }
            let result = cap_set_flag(state, flag, Int32(values.count), &values, CAP_SET)
            _ = try check(result, "cap_set_flag")
        }
        _ = try check(cap_set_proc(state), "cap_set_proc", describe(sets))

        // Ambient capabilities start empty after exec of a non-setuid program; raise each.
        for capability in sets.ambient.members {
            let result = shim_syscall6(
                Int(SYS_prctl), Int(PR_CAP_AMBIENT), Int(PR_CAP_AMBIENT_RAISE),
                capability.number, 0, 0, 0)
            _ = try check(result, "prctl PR_CAP_AMBIENT_RAISE", capability.name)
        }
    }

    private static func describe(_ sets: CapabilitySets) -> String {
        "effective \(sets.effective) permitted \(sets.permitted) inheritable \(sets.inheritable)"
    }
}
