import Glibc

/// An IPv4 or IPv6 address as its network-order bytes.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    /// Parses dotted-quad or RFC 4291 text with `inet_pton(3)`; nil when it is neither.
    public init?(_ text: String) {
        if let bytes = Self.parse(text, family: AF_INET, count: 4) {
            self.bytes = bytes
        } else if let bytes = Self.parse(text, family: AF_INET6, count: 16) {
            self.bytes = bytes
        } else {
            return nil
        }
    }

    /// Takes 4 or 16 bytes; nil for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// `AF_INET` or `AF_INET6` as netlink headers hold it.
    public var family: UInt8 { isIPv4 ? Netlink.AF_INET : Netlink.AF_INET6 }

    /// The longest prefix for the family: 32 or 128.
    public var maximumPrefix: Int { bytes.count * 8 }

    /// `fe80::/10`.
    public var isIPv6LinkLocal: Bool {
        !isIPv4 && bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes {
            inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count))
        }
        guard written != nil else { return "" }
        return String(
            decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func parse(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let parsed = bytes.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return parsed == 1 ? bytes : nil
    }

    /// The address with every bit after `prefix` set (the IPv4 broadcast of a network).
    func settingHostBits(after prefix: Int) -> IPAddress {
        var result = bytes
        for bit in prefix..<maximumPrefix {
            result[bit / 8] |= UInt8(0x80) >> UInt8(bit % 8)
        }
        return IPAddress(uncheckedBytes: result)
    }

    private init(uncheckedBytes: [UInt8]) {
        bytes = uncheckedBytes
    }
}

/// An address with its prefix length, as `a.b.c.d/n` or `x::y/n`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `address[/prefix]`. Without a prefix, `defaultPrefix` applies, or the whole
    /// address when it is nil. Nil when the text is not an address of `family` (any family
    /// when nil) or the prefix is out of range.
    public init?(_ text: String, ipv4: Bool? = nil, defaultPrefix: Int? = nil) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        if let ipv4, address.isIPv4 != ipv4 { return nil }
        var prefix = defaultPrefix ?? address.maximumPrefix
        if parts.count == 2 {
            guard let given = Int(parts[1]), parts[1].allSatisfy(\.isASCII) else { return nil }
            prefix = given
        }
        guard prefix >= 0, prefix <= address.maximumPrefix else { return nil }
        self.address = address
        self.prefixLength = prefix
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// A 6-byte Ethernet address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Parses `aa:bb:cc:dd:ee:ff`. Each `x` or `X` digit is replaced by a random hex digit, as
    /// LXC does for `lxc.net.N.hwaddr`. Nil for anything else.
    public init?(_ text: String) {
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for group in groups {
            guard group.count == 2 else { return nil }
            let digits = String(
                group.map { $0 == "x" || $0 == "X" ? Self.randomHexDigit() : $0 })
            guard let byte = UInt8(digits, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// A random unicast, locally administered address whose first byte is `first`.
    static func random(first: UInt8) -> MACAddress {
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255) }
        bytes[0] = first
        return MACAddress(uncheckedBytes: bytes)
    }

    private init(uncheckedBytes: [UInt8]) {
        bytes = uncheckedBytes
    }

    public var description: String {
        bytes.map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined(separator: ":")
    }

    private static func randomHexDigit() -> Character {
        Array("0123456789abcdef")[Int.random(in: 0..<16)]
    }
}
