/// A `NetworkSpec` checked and parsed: every value the setup needs, typed. Building one
/// touches nothing, so a bad value fails before any device exists.
struct DevicePlan: Sendable {
    enum Kind: String, Sendable {
        case veth, macvlan, ipvlan, vlan, phys, empty, none
    }

    enum Gateway: Sendable, Equatable {
        case address(IPAddress)
        /// `auto`: the first address of `link`, found on the host.
        case auto
        /// `dev`: a default route through the device itself.
        case device
    }

    struct IPv4Address: Sendable {
        var network: IPNetwork
        var broadcast: IPAddress?
    }

    var spec: NetworkSpec
    var kind: Kind
    /// The name to give the device in the container; nil keeps the kernel's `eth%d`.
    var name: String?
    var hwaddr: MACAddress?
    var ipv4: [IPv4Address] = []
    var ipv6: [IPNetwork] = []
    var ipv4Gateway: Gateway?
    var ipv6Gateway: Gateway?
    var ipv4Routes: [IPNetwork] = []
    var ipv6Routes: [IPNetwork] = []
    var router = false
    var macvlanMode = Netlink.MACVLAN_MODE_PRIVATE
    var ipvlanMode = Netlink.IPVLAN_MODE_L3
    var ipvlanFlags: UInt16 = 0

    /// The longest interface name the kernel takes (`IFNAMSIZ` - 1).
    static let maximumNameLength = 15

    var needsSecondPass: Bool { name == nil || name?.contains("%") == true }

    init(_ spec: NetworkSpec) throws(NetworkError) {
        self.spec = spec
        guard let kind = Kind(rawValue: spec.type) else {
            throw NetworkError(key: spec.key("type"), value: spec.type, "unknown network type")
        }
        self.kind = kind

        if let link = spec.link { try Self.checkName(link, key: spec.key("link")) }
        if let pair = spec.vethPair { try Self.checkName(pair, key: spec.key("veth.pair")) }
        if let name = spec.name, !name.isEmpty {
            try Self.checkName(name, key: spec.key("name"))
            self.name = name
        }
        switch kind {
        case .empty:
            if let name, name != "lo" {
                throw NetworkError(
                    key: spec.key("name"), value: name, "an empty network names only lo")
            }
            name = "lo"
        case .phys:
            name = name ?? spec.link
        default: break
        }
        if [.macvlan, .ipvlan, .vlan, .phys].contains(kind), (spec.link ?? "").isEmpty {
            throw NetworkError(key: spec.key("link"), "required for type \(kind.rawValue)")
        }
        if kind == .vlan, spec.vlanID == nil {
            throw NetworkError(key: spec.key("vlan.id"), "required for type vlan")
        }

        if let text = spec.hwaddr {
            guard let mac = MACAddress(text) else {
                throw NetworkError(key: spec.key("hwaddr"), value: text, "malformed mac address")
            }
            hwaddr = mac
        }
        if let mtu = spec.mtu, mtu < 68 {
            throw NetworkError(key: spec.key("mtu"), value: String(mtu), "mtu below 68")
        }

        try parseAddresses()
        try parseGateways()
        try parseRoutes()
        try parseModes()
    }

    private mutating func parseAddresses() throws(NetworkError) {
        for text in spec.ipv4Addresses {
            let words = text.split(separator: " ", omittingEmptySubsequences: true)
            let key = spec.key("ipv4.address")
            let address = words.first.map { String($0) } ?? ""
            guard (1...2).contains(words.count),
                let network = IPNetwork(
                    address, ipv4: true, defaultPrefix: Self.classfulPrefix(of: address))
            else {
                throw NetworkError(key: key, value: text, "malformed ipv4 address")
            }
            var broadcast: IPAddress?
            if words.count == 2 {
                guard let given = IPAddress(String(words[1])), given.isIPv4 else {
                    throw NetworkError(key: key, value: text, "malformed broadcast address")
                }
                broadcast = given
            } else if network.prefixLength < 31 {
                broadcast = network.address.settingHostBits(after: network.prefixLength)
            }
            ipv4.append(IPv4Address(network: network, broadcast: broadcast))
        }
        for text in spec.ipv6Addresses {
            guard let network = IPNetwork(text, ipv4: false, defaultPrefix: 64) else {
                throw NetworkError(
                    key: spec.key("ipv6.address"), value: text, "malformed ipv6 address")
            }
            ipv6.append(network)
        }
    }

    private mutating func parseGateways() throws(NetworkError) {
        ipv4Gateway = try gateway(spec.ipv4Gateway, ipv4: true)
        ipv6Gateway = try gateway(spec.ipv6Gateway, ipv4: false)
    }

    private func gateway(_ text: String?, ipv4: Bool) throws(NetworkError) -> Gateway? {
        guard let text, !text.isEmpty else { return nil }
        let key = spec.key(ipv4 ? "ipv4.gateway" : "ipv6.gateway")
        let gateway: Gateway
        switch text {
        case "auto":
            guard kind == .veth || kind == .macvlan else {
                throw NetworkError(key: key, value: text, "auto needs a veth or macvlan network")
            }
            guard !(spec.link ?? "").isEmpty else {
                throw NetworkError(key: key, value: text, "auto needs \(spec.key("link"))")
            }
            gateway = .auto
        case "dev":
            gateway = .device
        default:
            guard let address = IPAddress(text), address.isIPv4 == ipv4 else {
                throw NetworkError(key: key, value: text, "malformed gateway address")
            }
            gateway = .address(address)
        }
        guard spec.up else {
            throw NetworkError(key: key, value: text, "a gateway needs \(spec.key("flags")) = up")
        }
        let linkLocal: Bool
        if case .address(let address) = gateway {
            linkLocal = address.isIPv6LinkLocal
        } else {
            linkLocal = false
        }
        if (ipv4 ? self.ipv4.isEmpty : self.ipv6.isEmpty) && !linkLocal {
            throw NetworkError(key: key, value: text, "a gateway needs an address on the device")
        }
        return gateway
    }

    private mutating func parseRoutes() throws(NetworkError) {
        for (texts, ipv4, sub) in [
            (spec.vethIPv4Routes, true, "veth.ipv4.route"),
            (spec.vethIPv6Routes, false, "veth.ipv6.route"),
        ] {
            for text in texts {
                guard kind == .veth else {
                    throw NetworkError(key: spec.key(sub), value: text, "only for type veth")
                }
                guard text.contains("/"), let route = IPNetwork(text, ipv4: ipv4) else {
                    throw NetworkError(key: spec.key(sub), value: text, "malformed route")
                }
                if ipv4 { ipv4Routes.append(route) } else { ipv6Routes.append(route) }
            }
        }
    }

    private mutating func parseModes() throws(NetworkError) {
        switch spec.vethMode ?? "bridge" {
        case "bridge": router = false
        case "router": router = true
        case let other:
            throw NetworkError(key: spec.key("veth.mode"), value: other, "unknown veth mode")
        }
        let bridged = !router && !(spec.link ?? "").isEmpty
        if spec.vethVlanID != nil || !spec.vethTaggedVlanIDs.isEmpty {
            guard kind == .veth, bridged else {
                throw NetworkError(
                    key: spec.key("veth.vlan.id"), "needs veth.mode bridge and a bridge link")
            }
        }
        if let untagged = spec.vethVlanID,
            spec.vethTaggedVlanIDs.contains(where: {
                Int($0) == untagged
            })
        {
            throw NetworkError(
                key: spec.key("veth.vlan.tagged.id"), value: String(untagged),
                "same as veth.vlan.id")
        }

        let macvlanModes: [String: UInt32] = [
            "private": Netlink.MACVLAN_MODE_PRIVATE, "vepa": Netlink.MACVLAN_MODE_VEPA,
            "bridge": Netlink.MACVLAN_MODE_BRIDGE, "passthru": Netlink.MACVLAN_MODE_PASSTHRU,
        ]
        if let text = spec.macvlanMode {
            guard let mode = macvlanModes[text] else {
                throw NetworkError(key: spec.key("macvlan.mode"), value: text, "unknown mode")
            }
            macvlanMode = mode
        }
        let ipvlanModes: [String: UInt16] = [
            "l2": Netlink.IPVLAN_MODE_L2, "l3": Netlink.IPVLAN_MODE_L3,
            "l3s": Netlink.IPVLAN_MODE_L3S,
        ]
        if let text = spec.ipvlanMode {
            guard let mode = ipvlanModes[text] else {
                throw NetworkError(key: spec.key("ipvlan.mode"), value: text, "unknown mode")
            }
            ipvlanMode = mode
        }
        let isolations: [String: UInt16] = [
            "bridge": 0, "private": Netlink.IPVLAN_F_PRIVATE, "vepa": Netlink.IPVLAN_F_VEPA,
        ]
        if let text = spec.ipvlanIsolation {
            guard let flags = isolations[text] else {
                throw NetworkError(
                    key: spec.key("ipvlan.isolation"), value: text, "unknown isolation")
            }
            ipvlanFlags = flags
        }
        if spec.l2proxy, kind == .ipvlan, ipvlanMode != Netlink.IPVLAN_MODE_L3S {
            throw NetworkError(key: spec.key("l2proxy"), value: "1", "ipvlan needs mode l3s")
        }
    }

    /// LXC's prefix for an IPv4 address given without one: that of its address class.
    static func classfulPrefix(of text: String) -> Int {
        guard let address = IPAddress(String(text.prefix { $0 != "/" })), address.isIPv4 else {
            return 32
        }
        switch address.bytes[0] {
        case 0..<128: return 8
        case 128..<192: return 16
        case 192..<224: return 24
        default: return 32
        }
    }

    /// The kernel's `dev_valid_name`: 1 to 15 bytes, not `.` or `..`, no `/`, `:` or space.
    static func checkName(_ name: String, key: String) throws(NetworkError) {
        if name.utf8.count > maximumNameLength {
            throw NetworkError(key: key, value: name, "name longer than 15 bytes")
        }
        let forbidden: Set<Character> = ["/", ":", " ", "\t", "\n"]
        if name.isEmpty || name == "." || name == ".." || name.contains(where: forbidden.contains) {
            throw NetworkError(key: key, value: name, "invalid interface name")
        }
    }
}
