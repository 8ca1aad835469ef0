import Glibc

/// Value parsers shared by the LXC key table and the container model. Each returns the value
/// normalised the way LXC 5.0.2 reads it back, or throws the reason it is refused.
enum Values {
    /// Splits on spaces and tabs, dropping empty parts.
    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// Strips spaces, tabs and line ends from both ends.
    static func trimmed(_ text: Substring) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = text.firstIndex(where: { !isSpace($0) }),
            let last = text.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(text[first...last])
    }

    static func unsigned(_ text: String, max: UInt64 = UInt64(UInt32.max)) throws(ValueError)
        -> UInt64
    {
        guard let number = UInt64(text), number <= max else {
            throw ValueError(UInt64(text) == nil ? "not a number" : "number out of range")
        }
        return number
    }

    static func signed(_ text: String) throws(ValueError) -> Int64 {
        guard let number = Int64(text), number >= Int64(Int32.min), number <= Int64(Int32.max)
        else { throw ValueError(Int64(text) == nil ? "not a number" : "number out of range") }
        return number
    }

    static func bool(_ text: String) throws(ValueError) -> Bool {
        switch text {
        case "0": return false
        case "1": return true
        default: throw ValueError("expected 0 or 1")
        }
    }

    /// The console sizes: `auto` is 128 KiB, any other size rounds up to a power of two of at
    /// least one page (LXC reads `0` back as one page too).
    static func consoleSize(_ text: String) throws(ValueError) -> UInt64 {
        if text == "auto" { return 131_072 }
        let bytes = try byteSize(text)
        let page = UInt64(4096)
        guard bytes > page else { return page }
        guard bytes <= UInt64(1) << 62 else { throw ValueError("size out of range") }
        var size = page
        while size < bytes { size <<= 1 }
        return size
    }

    /// A byte count with an optional `B`, `kB`, `MB` or `GB` suffix (LXC's
    /// `parse_byte_size_string`: an unknown suffix is ignored, `1M` reads as 1).
    static func byteSize(_ text: String) throws(ValueError) -> UInt64 {
        let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, let number = UInt64(digits) else { throw ValueError("invalid size") }
        let suffix = Values.trimmed(text.dropFirst(digits.count))
        let factor: UInt64
        switch suffix {
        case "kB", "KB": factor = 1024
        case "MB": factor = 1024 * 1024
        case "GB": factor = 1024 * 1024 * 1024
        default: factor = 1
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw ValueError("size out of range") }
        return product
    }

    /// Signal numbers by name, as glibc numbers them on Linux.
    static let signalNumbers: [String: Int] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
        "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
        "TERM": 15, "STKFLT": 16, "CHLD": 17, "CLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20,
        "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27,
        "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    ]
    static let realtimeMin = 34
    static let realtimeMax = 64

    /// A signal as a number or a `SIG`-prefixed name (any case), `SIGRTMIN+n`, `SIGRTMAX-n`.
    static func signal(_ text: String) throws(ValueError) -> Int {
        if let number = Int(text) {
            guard number >= 0, number <= Int(Int32.max) else { throw ValueError("invalid signal") }
            return number
        }
        let upper = text.uppercased()
        guard upper.hasPrefix("SIG") else { throw ValueError("invalid signal") }
        let name = upper.dropFirst(3)
        if let number = signalNumbers[String(name)] { return number }
        if name.hasPrefix("RTMIN") || name.hasPrefix("RTMAX") {
            let rest = name.dropFirst(5)
            var number = name.hasPrefix("RTMIN") ? realtimeMin : realtimeMax
            if !rest.isEmpty {
                guard let offset = Int(rest.dropFirst()), offset >= 0,
                    rest.first == (name.hasPrefix("RTMIN") ? "+" : "-")
                else { throw ValueError("invalid signal") }
                number += name.hasPrefix("RTMIN") ? offset : -offset
            }
            guard number >= realtimeMin, number <= realtimeMax else {
                throw ValueError("invalid signal")
            }
            return number
        }
        throw ValueError("invalid signal")
    }

    /// Capability names in kernel order, spelled as LXC's config spells them.
    static let capabilities: [String] = [
        "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
        "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
        "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
        "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
        "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
        "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
        "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
    ]
    static let capabilitySet: Set<String> = Set(capabilities)

    /// An LXC capability name (`sys_admin`) or number; refuses `CAP_` spellings as LXC does.
    static func lxcCapability(_ text: String) throws(ValueError) -> String {
        if capabilitySet.contains(text) { return text }
        if let number = Int(text), number >= 0, number < capabilities.count { return text }
        throw ValueError("unknown capability \(text)")
    }

    /// Any spelling (`CAP_SYS_ADMIN`, `cap_sys_admin`, `sys_admin`) to the kernel's.
    static func kernelCapability(_ text: String) throws(ValueError) -> String {
        var name = text.lowercased()
        if name.hasPrefix("cap_") { name.removeFirst(4) }
        if let number = Int(name), number >= 0, number < capabilities.count {
            name = capabilities[number]
        }
        guard capabilitySet.contains(name) else { throw ValueError("unknown capability \(text)") }
        return "CAP_" + name.uppercased()
    }

    /// Namespace names in the order LXC prints them.
    static let namespaces = ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup", "time"]

    static func namespaceList(_ text: String) throws(ValueError) -> [String] {
        var seen = Set<String>()
        for word in words(text) {
            guard namespaces.contains(word) else { throw ValueError("unknown namespace \(word)") }
            seen.insert(word)
        }
        return namespaces.filter { seen.contains($0) }
    }

    static let archs32: Set<String> = [
        "arm", "armel", "armhf", "armv7l", "athlon", "i386", "i486", "i586", "i686", "linux32",
        "mips", "mipsel", "ppc", "powerpc", "x86",
    ]
    static let archs64: Set<String> = [
        "aarch64", "amd64", "arm64", "linux64", "mips64", "mips64el", "ppc64", "ppc64el",
        "ppc64le", "powerpc64", "riscv64", "s390x", "x86_64",
    ]

    /// `lxc.arch` as LXC reads it back on x86: `i686` for 32-bit names, else `x86_64`.
    static func arch(_ text: String) throws(ValueError) -> String {
        if archs32.contains(text) { return "i686" }
        if archs64.contains(text) { return "x86_64" }
        throw ValueError("unknown architecture")
    }

    static let logLevels = [
        "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "CRIT", "ALERT", "FATAL",
    ]

    static func logLevel(_ text: String) throws(ValueError) -> String {
        if let number = Int(text), number >= 0, number < logLevels.count {
            return logLevels[number]
        }
        let upper = text.uppercased()
        guard logLevels.contains(upper) else { throw ValueError("unknown log level") }
        return upper
    }

    static let syslogFacilities: Set<String> = [
        "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7",
    ]

    /// An `lxc.idmap` line normalised to single spaces.
    static func idmap(_ text: String) throws(ValueError) -> String {
        let parts = words(text)
        guard parts.count == 4, parts[0] == "u" || parts[0] == "g" else {
            throw ValueError("expected u|g <container id> <host id> <count>")
        }
        for part in parts.dropFirst() {
            guard let number = UInt64(part), number <= UInt64(UInt32.max) else {
                throw ValueError("invalid id \(part)")
            }
        }
        return parts.joined(separator: " ")
    }

    /// The resources `lxc.prlimit.<name>` may name.
    static let resources: Set<String> = [
        "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
        "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
    ]

    /// A limit `soft[:hard]`, each a number or `unlimited`; `UInt64.max` means unlimited.
    static func limit(_ text: String) throws(ValueError) -> (soft: UInt64, hard: UInt64) {
        func one(_ part: Substring) throws(ValueError) -> UInt64 {
            if part == "unlimited" { return UInt64.max }
            guard let number = UInt64(part), number < UInt64.max else {
                throw ValueError("invalid limit")
            }
            return number
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            let value = try one(parts[0])
            return (value, value)
        case 2:
            return (try one(parts[0]), try one(parts[1]))
        default:
            throw ValueError("invalid limit")
        }
    }

    /// A time namespace offset: an integer with a unit, as (seconds, nanoseconds) where only
    /// the part the unit names is set.
    static func timeOffset(_ text: String) throws(ValueError) -> (seconds: Int64?, nanos: Int64?) {
        let body = text.drop(while: { $0 == "-" || $0 == "+" })
        let digits = body.prefix(while: { $0.isASCII && $0.isNumber })
        let numberText = text.prefix(text.count - body.count + digits.count)
        guard !digits.isEmpty, let number = Int64(numberText) else {
            throw ValueError("invalid time offset")
        }
        let unit = Values.trimmed(body.dropFirst(digits.count))
        let scale: (Int64, Bool)
        switch unit {
        case "h": scale = (3600, true)
        case "m": scale = (60, true)
        case "s": scale = (1, true)
        case "ms": scale = (1_000_000, false)
        case "us": scale = (1000, false)
        case "ns": scale = (1, false)
        default: throw ValueError("invalid time offset unit, expected h, m, s, ms, us or ns")
        }
        // LXC's overflow check refuses any negative value it has to scale (-5m, -3ms).
        let (product, overflow) = number.multipliedReportingOverflow(by: scale.0)
        guard !overflow, number >= 0 || scale.0 == 1 else {
            throw ValueError("time offset out of range")
        }
        return scale.1 ? (product, nil) : (nil, product)
    }

    /// True for a textual address of the family (`AF_INET` or `AF_INET6`).
    static func isAddress(_ text: String, family: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(family, text, &buffer) == 1
    }

    /// An address with an optional prefix; a missing IPv4 prefix is derived from the address
    /// class as LXC does, a missing IPv6 prefix is 64.
    static func addressWithPrefix(_ text: String, family: Int32, requirePrefix: Bool)
        throws(ValueError) -> String
    {
        let parts = words(text)
        guard let first = parts.first, parts.count <= (family == AF_INET ? 2 : 1) else {
            throw ValueError("invalid address")
        }
        let pieces = first.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count <= 2, isAddress(String(pieces[0]), family: family) else {
            throw ValueError("invalid address")
        }
        if parts.count == 2, !isAddress(parts[1], family: family) {
            throw ValueError("invalid broadcast address")
        }
        let maxPrefix = family == AF_INET ? 32 : 128
        if pieces.count == 2 {
            guard let prefix = Int(pieces[1]), prefix >= 0, prefix <= maxPrefix else {
                throw ValueError("invalid prefix")
            }
            return "\(pieces[0])/\(prefix)"
        }
        guard !requirePrefix else { throw ValueError("missing prefix") }
        if family == AF_INET6 { return "\(pieces[0])/64" }
        let firstOctet = Int(pieces[0].split(separator: ".").first ?? "0") ?? 0
        let prefix = firstOctet < 128 ? 8 : firstOctet < 192 ? 16 : 24
        return "\(pieces[0])/\(prefix)"
    }

    /// A path in `lxc.cgroup.dir*`: relative and without `..`.
    static func cgroupDir(_ text: String) throws(ValueError) -> String {
        guard !text.hasPrefix("/") else { throw ValueError("cgroup path must be relative") }
        guard !text.split(separator: "/").contains("..") else {
            throw ValueError("cgroup path must not contain ..")
        }
        return text
    }
}
