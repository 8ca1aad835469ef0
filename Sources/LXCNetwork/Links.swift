import LXCSystem

/// A network device as `RTM_NEWLINK` describes it.
public struct Link: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// `ifi_flags` (`IFF_UP`, `IFF_LOOPBACK`, …).
    public var flags: UInt32
    public var mtu: UInt32?
    public var address: MACAddress?
    /// The bridge or bond it is enslaved to (`IFLA_MASTER`).
    public var master: Int32?
    /// `IFLA_INFO_KIND`: `veth`, `bridge`, `macvlan`…; nil for physical devices.
    public var kind: String?

    public var isUp: Bool { flags & Netlink.IFF_UP != 0 }

    /// Decodes an `RTM_NEWLINK` message.
    public init(_ message: NetlinkMessage) throws(NetlinkError) {
        let payload = message.payload[...]
        guard message.type == Netlink.RTM_NEWLINK, payload.count >= Netlink.IFINFOMSG_LEN else {
            throw .malformed("link message of type \(message.type), \(payload.count) bytes")
        }
        index = payload.load(Int32.self, at: 4)
        flags = payload.load(UInt32.self, at: 8)
        name = ""
        for attribute in try NetlinkAttribute.parse(payload[Netlink.IFINFOMSG_LEN...]) {
            switch attribute.type {
            case Netlink.IFLA_IFNAME: name = attribute.string
            case Netlink.IFLA_MTU: mtu = attribute.uint32
            case Netlink.IFLA_ADDRESS: address = MACAddress(bytes: Array(attribute.payload))
            case Netlink.IFLA_MASTER: master = attribute.uint32.map { Int32(bitPattern: $0) }
            case Netlink.IFLA_LINKINFO:
                for info in try NetlinkAttribute.parse(attribute.payload)
                where info.type == Netlink.IFLA_INFO_KIND {
                    kind = info.string
                }
            default: break
            }
        }
    }
}

/// One address of a device as `RTM_NEWADDR` describes it.
public struct InterfaceAddress: Sendable, Equatable {
    public var index: Int32
    public var address: IPAddress
    public var prefixLength: Int
    /// `ifa_scope`: `RT_SCOPE_UNIVERSE` (0), `RT_SCOPE_LINK` (253), `RT_SCOPE_HOST` (254).
    public var scope: UInt8

    /// Decodes an `RTM_NEWADDR` message; IPv4 prefers `IFA_LOCAL` over `IFA_ADDRESS` (they
    /// differ on point-to-point links), as `ip addr` shows it.
    public init(_ message: NetlinkMessage) throws(NetlinkError) {
        let payload = message.payload[...]
        guard message.type == Netlink.RTM_NEWADDR, payload.count >= Netlink.IFADDRMSG_LEN else {
            throw .malformed("address message of type \(message.type), \(payload.count) bytes")
        }
        prefixLength = Int(payload[1])
        scope = payload[3]
        index = Int32(bitPattern: payload.load(UInt32.self, at: 4))
        var local: IPAddress?
        var address: IPAddress?
        for attribute in try NetlinkAttribute.parse(payload[Netlink.IFADDRMSG_LEN...]) {
            switch attribute.type {
            case Netlink.IFA_LOCAL: local = IPAddress(bytes: Array(attribute.payload))
            case Netlink.IFA_ADDRESS: address = IPAddress(bytes: Array(attribute.payload))
            default: break
            }
        }
        guard let found = local ?? address else {
            throw .malformed("address message without IFA_LOCAL or IFA_ADDRESS")
        }
        self.address = found
    }
}

extension RouteSocket {
    /// The device named `name` in this socket's namespace, or nil when there is none.
    public func link(named name: String) throws(NetlinkError) -> Link? {
        do {
            return try Link(fetch(RouteMessage.getLink(name: name)))
        } catch .kernel(_, let errno, _) where errno == Errno(rawValue: 19) {  // ENODEV
            return nil
        }
    }

    /// The device with `index`, or nil when there is none.
    public func link(index: Int32) throws(NetlinkError) -> Link? {
        do {
            return try Link(fetch(RouteMessage.getLink(index: index)))
        } catch .kernel(_, let errno, _) where errno == Errno(rawValue: 19) {  // ENODEV
            return nil
        }
    }

    /// Every device of this socket's namespace, in index order.
    public func links() throws(NetlinkError) -> [Link] {
        var result: [Link] = []
        for message in try dump(RouteMessage.dumpLinks()) where message.type == Netlink.RTM_NEWLINK
        {
            result.append(try Link(message))
        }
        return result.sorted { $0.index < $1.index }
    }

    /// Every address of `family` (`AF_UNSPEC`: both) in this socket's namespace.
    public func addresses(family: UInt8 = Netlink.AF_UNSPEC) throws(NetlinkError)
        -> [InterfaceAddress]
    {
        var result: [InterfaceAddress] = []
        for message in try dump(RouteMessage.dumpAddresses(family: family))
        where message.type == Netlink.RTM_NEWADDR {
            result.append(try InterfaceAddress(message))
        }
        return result
    }
}
