import Glibc
import LXCSystem

/// One device access rule, as OCI `linux.resources.devices` entries and LXC's
/// `lxc.cgroup.devices.allow = c 1:3 rwm` lines give it.
public struct DeviceRule: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The kind of device a rule matches.
    public enum Kind: String, Equatable, Hashable, Sendable {
        /// Every device (`a`).
        case all = "a"
        /// Block devices (`b`).
        case block = "b"
        /// Character devices (`c`).
        case character = "c"
    }

    /// Allow (true) or deny (false) what the rule matches.
    public var allow: Bool
    public var kind: Kind
    /// nil matches every major number (`*`).
    public var major: Int64?
    /// nil matches every minor number (`*`).
    public var minor: Int64?
    /// Some of `r` (read), `w` (write), `m` (mknod).
    public var access: String

    public init(
        allow: Bool, kind: Kind = .all, major: Int64? = nil, minor: Int64? = nil,
        access: String = "rwm"
    ) {
        self.allow = allow
        self.kind = kind
        self.major = major
        self.minor = minor
        self.access = access
    }

    /// Parses an LXC or v1 kernel line: `a`, `c 1:3 rwm`, `b *:* m`, `c 136:* rw`.
    public init(line: String, allow: Bool) throws(CgroupError) {
        let item = allow ? "devices.allow" : "devices.deny"
        let fields = line.split(separator: " ")
        guard let first = fields.first, let kind = Kind(rawValue: String(first)) else {
            throw .invalidValue(item: item, value: line, reason: "type must be a, b or c")
        }
        self.allow = allow
        self.kind = kind
        if kind == .all && fields.count == 1 {
            major = nil
            minor = nil
            access = "rwm"
            return
        }
        guard fields.count == 3 else {
            throw .invalidValue(
                item: item, value: line, reason: "expected 'type major:minor access'")
        }
        let numbers = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        func number(_ text: Substring) throws(CgroupError) -> Int64? {
            if text == "*" { return nil }
            guard let value = Int64(text), value >= 0, value <= Int64(UInt32.max >> 1) else {
                throw .invalidValue(item: item, value: line, reason: "bad device number \(text)")
            }
            return value
        }
        guard numbers.count == 2 else {
            throw .invalidValue(item: item, value: line, reason: "expected major:minor")
        }
        major = try number(numbers[0])
        minor = try number(numbers[1])
        access = String(fields[2])
        if access.isEmpty || !access.allSatisfy({ "rwm".contains($0) }) {
            throw .invalidValue(item: item, value: line, reason: "access must be some of rwm")
        }
    }

    /// The line the v1 `devices.allow`/`devices.deny` files take.
    public var line: String {
        if kind == .all && major == nil && minor == nil && Set(access) == Set("rwm") {
            return "a"
        }
        let majorText = major.map(String.init) ?? "*"
        let minorText = minor.map(String.init) ?? "*"
        return "\(kind.rawValue) \(majorText):\(minorText) \(access)"
    }

    public var description: String { (allow ? "allow " : "deny ") + line }

    /// Allows every device.
    public static let allowAll = DeviceRule(allow: true)
    /// Denies every device.
    public static let denyAll = DeviceRule(allow: false)

    /// The devices a container may use by default, as LXC's common config and the OCI
    /// runtimes' defaults allow them: mknod of any node; null, zero, full, random, urandom,
    /// tty, console, ptmx, the pty slaves, fuse and tun.
    public static let defaultAllowed: [DeviceRule] = [
        DeviceRule(allow: true, kind: .character, access: "m"),
        DeviceRule(allow: true, kind: .block, access: "m"),
        DeviceRule(allow: true, kind: .character, major: 1, minor: 3),
        DeviceRule(allow: true, kind: .character, major: 1, minor: 5),
        DeviceRule(allow: true, kind: .character, major: 1, minor: 7),
        DeviceRule(allow: true, kind: .character, major: 1, minor: 8),
        DeviceRule(allow: true, kind: .character, major: 1, minor: 9),
        DeviceRule(allow: true, kind: .character, major: 5, minor: 0),
        DeviceRule(allow: true, kind: .character, major: 5, minor: 1),
        DeviceRule(allow: true, kind: .character, major: 5, minor: 2),
        DeviceRule(allow: true, kind: .character, major: 136),
        DeviceRule(allow: true, kind: .character, major: 10, minor: 229),
        DeviceRule(allow: true, kind: .character, major: 10, minor: 200),
    ]
}

extension ContainerCgroup {
    /// Sets the device policy: everything denied, then `rules` in order, so a later rule
    /// overrides an earlier one for what both match (OCI order; start `rules` with
    /// `.allowAll` for a deny list instead).
    ///
    /// On a v1 devices hierarchy this writes `a` to `devices.deny` and each rule to
    /// `devices.allow` or `devices.deny`; on cgroup2 it attaches a BPF device program to the
    /// unified directory, replacing the one it attached before. Call it before `place` when
    /// an inner cgroup is configured: v1 refuses to change the default of a cgroup that has
    /// children.
    public func setDevices(_ rules: [DeviceRule]) throws(CgroupError) {
        switch layout.placement(of: "devices") {
        case .v1:
            guard let directory = limitDirectory(of: "devices") else {
                throw .controllerUnavailable("devices", version: .v1, item: "devices")
            }
            for rule in [DeviceRule.denyAll] + rules {
                let file = rule.allow ? "devices.allow" : "devices.deny"
                try CgroupFiles.write(rule.line, to: directory + "/" + file)
            }
        case .v2:
            try attachDeviceProgram([.denyAll] + rules)
        case .absent:
            throw .controllerUnavailable("devices", version: .v1, item: "devices")
        }
    }

    /// Loads a program for `rules` and attaches it to the unified limit directory, then
    /// detaches the previous one, so there is no moment without a policy.
    func attachDeviceProgram(_ rules: [DeviceRule]) throws(CgroupError) {
        guard let member = members.first(where: { $0.hierarchy.version == .v2 }) else {
            throw .controllerUnavailable("devices", version: .v2, item: "devices")
        }
        let program = try DeviceProgram.load(rules)
        let directory: FileDescriptor
        do {
            directory = try FileDescriptor.open(member.limitDirectory, O_RDONLY | O_DIRECTORY)
        } catch {
            throw .system(error)
        }
        try DeviceProgram.attach(program, to: directory, path: member.limitDirectory)
        if let previous = deviceProgram.take() {
            try DeviceProgram.detach(previous, from: directory, path: member.limitDirectory)
        }
        deviceProgram = .some(program)
        deviceRules = rules
    }
}
