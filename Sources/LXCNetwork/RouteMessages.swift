/// Builders for the rtnetlink requests SwiftLXC sends. Each is a pure function of its
/// arguments, so tests compare the bytes with hand-written expectations.
public enum RouteMessage {
    static let create = Netlink.NLM_F_ACK | Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL

    /// One end of a veth pair: its name and the attributes set at creation.
    public struct VethEnd: Sendable, Equatable {
        public var name: String
        public var mtu: UInt32?
        public var address: MACAddress?
        /// The network namespace to create this end in, as an fd number valid while the
        /// request is sent. Nil: the namespace of the socket.
        public var namespaceFD: Int32?

        public init(
            name: String, mtu: UInt32? = nil, address: MACAddress? = nil, namespaceFD: Int32? = nil
        ) {
            self.name = name
            self.mtu = mtu
            self.address = address
            self.namespaceFD = namespaceFD
        }
    }

    /// `RTM_NEWLINK` of a veth pair: `IFLA_LINKINFO { IFLA_INFO_KIND "veth", IFLA_INFO_DATA {
    /// VETH_INFO_PEER: ifinfomsg + peer attributes } }` after the host end's attributes. With
    /// `peer.namespaceFD` the peer is born inside that namespace (`IFLA_NET_NS_FD`).
    public static func newVeth(host: VethEnd, peer: VethEnd) -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_NEWLINK, flags: create, operation: "RTM_NEWLINK \(host.name)")
        message.appendInterfaceInfo()
        appendEnd(host, to: &message)
        message.nested(Netlink.IFLA_LINKINFO) { info in
            info.attribute(Netlink.IFLA_INFO_KIND, string: "veth")
            info.nested(Netlink.IFLA_INFO_DATA) { data in
                data.nested(Netlink.VETH_INFO_PEER) { peerInfo in
                    peerInfo.appendInterfaceInfo()
                    appendEnd(peer, to: &peerInfo)
                }
            }
        }
        return message
    }

    private static func appendEnd(_ end: VethEnd, to message: inout NetlinkRequest) {
        message.attribute(Netlink.IFLA_IFNAME, string: end.name)
        if let mtu = end.mtu { message.attribute(Netlink.IFLA_MTU, integer: mtu) }
        if let address = end.address { message.attribute(Netlink.IFLA_ADDRESS, address.bytes) }
        if let fd = end.namespaceFD { message.attribute(Netlink.IFLA_NET_NS_FD, integer: fd) }
    }

    /// The kind-specific part of a link on a parent device.
    public enum LowerKind: Sendable, Equatable {
        /// `IFLA_MACVLAN_MODE`.
        case macvlan(mode: UInt32)
        /// `IFLA_IPVLAN_MODE` and, when not zero, `IFLA_IPVLAN_FLAGS` (isolation).
        case ipvlan(mode: UInt16, flags: UInt16)
        /// `IFLA_VLAN_ID`.
        case vlan(id: UInt16)

        var kind: String {
            switch self {
            case .macvlan: return "macvlan"
            case .ipvlan: return "ipvlan"
            case .vlan: return "vlan"
            }
        }
    }

    /// `RTM_NEWLINK` of a macvlan, ipvlan or vlan device named `name` on the parent with index
    /// `parent` (`IFLA_LINK`), optionally created in another namespace (`IFLA_NET_NS_FD`).
    public static func newLink(
        _ kind: LowerKind, name: String, parent: Int32, mtu: UInt32? = nil,
        namespaceFD: Int32? = nil
    ) -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_NEWLINK, flags: create, operation: "RTM_NEWLINK \(name)")
        message.appendInterfaceInfo()
        message.nested(Netlink.IFLA_LINKINFO) { info in
            info.attribute(Netlink.IFLA_INFO_KIND, string: kind.kind)
            info.nested(Netlink.IFLA_INFO_DATA) { data in
                switch kind {
                case .macvlan(let mode):
                    data.attribute(Netlink.IFLA_MACVLAN_MODE, integer: mode)
                case .ipvlan(let mode, let flags):
                    data.attribute(Netlink.IFLA_IPVLAN_MODE, integer: mode)
                    if flags != 0 { data.attribute(Netlink.IFLA_IPVLAN_FLAGS, integer: flags) }
                case .vlan(let id):
                    data.attribute(Netlink.IFLA_VLAN_ID, integer: id)
                }
            }
        }
        message.attribute(Netlink.IFLA_LINK, integer: parent)
        message.attribute(Netlink.IFLA_IFNAME, string: name)
        if let mtu { message.attribute(Netlink.IFLA_MTU, integer: mtu) }
        if let namespaceFD { message.attribute(Netlink.IFLA_NET_NS_FD, integer: namespaceFD) }
        return message
    }

    /// What `setLink` changes; nil fields stay as they are.
    public struct LinkChange: Sendable, Equatable {
        public var name: String?
        public var mtu: UInt32?
        public var address: MACAddress?
        /// `IFLA_MASTER`: the bridge's index, or 0 to leave a bridge.
        public var master: Int32?
        /// `IFLA_NET_NS_FD`: move the device into that namespace.
        public var namespaceFD: Int32?
        /// Set or clear `IFF_UP`.
        public var up: Bool?

        public init(
            name: String? = nil, mtu: UInt32? = nil, address: MACAddress? = nil,
            master: Int32? = nil, namespaceFD: Int32? = nil, up: Bool? = nil
        ) {
            self.name = name
            self.mtu = mtu
            self.address = address
            self.master = master
            self.namespaceFD = namespaceFD
            self.up = up
        }
    }

    /// `RTM_NEWLINK` on an existing index (no `NLM_F_CREATE`): rename, MTU, MAC, bridge,
    /// namespace, up or down. `label` names the device in errors.
    public static func setLink(index: Int32, label: String, _ change: LinkChange)
        -> NetlinkRequest
    {
        var message = NetlinkRequest(
            type: Netlink.RTM_NEWLINK, flags: Netlink.NLM_F_ACK,
            operation: "RTM_NEWLINK \(label)")
        let upFlag: UInt32 = change.up == true ? Netlink.IFF_UP : 0
        let changeMask: UInt32 = change.up == nil ? 0 : Netlink.IFF_UP
        message.appendInterfaceInfo(index: index, flags: upFlag, change: changeMask)
        if let name = change.name { message.attribute(Netlink.IFLA_IFNAME, string: name) }
        if let mtu = change.mtu { message.attribute(Netlink.IFLA_MTU, integer: mtu) }
        if let address = change.address { message.attribute(Netlink.IFLA_ADDRESS, address.bytes) }
        if let master = change.master { message.attribute(Netlink.IFLA_MASTER, integer: master) }
        if let fd = change.namespaceFD { message.attribute(Netlink.IFLA_NET_NS_FD, integer: fd) }
        return message
    }

    /// `RTM_DELLINK` of an index.
    public static func deleteLink(index: Int32, label: String) -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_DELLINK, flags: Netlink.NLM_F_ACK,
            operation: "RTM_DELLINK \(label)")
        message.appendInterfaceInfo(index: index)
        return message
    }

    /// `RTM_GETLINK` of one device by name (answered with one `RTM_NEWLINK`).
    public static func getLink(name: String) -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_GETLINK, flags: 0, operation: "RTM_GETLINK \(name)")
        message.appendInterfaceInfo()
        message.attribute(Netlink.IFLA_IFNAME, string: name)
        return message
    }

    /// `RTM_GETLINK` of one device by index.
    public static func getLink(index: Int32) -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_GETLINK, flags: 0, operation: "RTM_GETLINK index \(index)")
        message.appendInterfaceInfo(index: index)
        return message
    }

    /// `RTM_GETLINK` for a dump of every device.
    public static func dumpLinks() -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_GETLINK, flags: Netlink.NLM_F_DUMP, operation: "RTM_GETLINK dump")
        message.appendInterfaceInfo()
        return message
    }

    /// `RTM_GETADDR` for a dump of every address of `family` (`AF_UNSPEC` for both).
    public static func dumpAddresses(family: UInt8 = Netlink.AF_UNSPEC) -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_GETADDR, flags: Netlink.NLM_F_DUMP, operation: "RTM_GETADDR dump")
        message.appendAddressInfo(family: family, prefixLength: 0, index: 0)
        return message
    }

    /// `RTM_NEWADDR`: `IFA_LOCAL` and `IFA_ADDRESS`, `IFA_BROADCAST` for IPv4 when given, and
    /// for IPv6 `IFA_FLAGS` with `IFA_F_NODAD`, so the address is usable at once instead of
    /// staying tentative through duplicate address detection.
    public static func newAddress(
        _ network: IPNetwork, broadcast: IPAddress? = nil, index: Int32, label: String
    ) -> NetlinkRequest {
        var message = NetlinkRequest(
            type: Netlink.RTM_NEWADDR, flags: create,
            operation: "RTM_NEWADDR \(network) on \(label)")
        message.appendAddressInfo(
            family: network.address.family, prefixLength: UInt8(network.prefixLength),
            index: UInt32(bitPattern: index))
        message.attribute(Netlink.IFA_LOCAL, network.address.bytes)
        message.attribute(Netlink.IFA_ADDRESS, network.address.bytes)
        if network.address.isIPv4, let broadcast {
            message.attribute(Netlink.IFA_BROADCAST, broadcast.bytes)
        }
        if !network.address.isIPv4 {
            message.attribute(Netlink.IFA_FLAGS, integer: Netlink.IFA_F_NODAD)
        }
        return message
    }

    /// `RTM_NEWROUTE` or `RTM_DELROUTE` in the main table, protocol boot, unicast, out of the
    /// device `index`: a route to `destination` (nil: the default route) via `gateway` when
    /// given. Adding uses `NLM_F_CREATE|NLM_F_EXCL`.
    public static func route(
        add: Bool, destination: IPNetwork?, family: UInt8, gateway: IPAddress? = nil,
        scope: UInt8, index: Int32, label: String
    ) -> NetlinkRequest {
        let type = add ? Netlink.RTM_NEWROUTE : Netlink.RTM_DELROUTE
        let name = add ? "RTM_NEWROUTE" : "RTM_DELROUTE"
        let target = destination.map(\.description) ?? "default"
        var message = NetlinkRequest(
            type: type, flags: add ? create : Netlink.NLM_F_ACK,
            operation: "\(name) \(target) dev \(label)")
        message.appendRouteInfo(
            family: family, destinationLength: UInt8(destination?.prefixLength ?? 0),
            table: Netlink.RT_TABLE_MAIN, protocol: Netlink.RTPROT_BOOT, scope: scope,
            type: Netlink.RTN_UNICAST)
        if let destination { message.attribute(Netlink.RTA_DST, destination.address.bytes) }
        if let gateway { message.attribute(Netlink.RTA_GATEWAY, gateway.bytes) }
        message.attribute(Netlink.RTA_OIF, integer: index)
        return message
    }

    /// `RTM_NEWNEIGH` or `RTM_DELNEIGH` of a proxy entry (`NTF_PROXY`): the host answers ARP or
    /// NDP for `address` on the device `index`, as `ip neigh add proxy` does.
    public static func neighbourProxy(add: Bool, address: IPAddress, index: Int32, label: String)
        -> NetlinkRequest
    {
        let type = add ? Netlink.RTM_NEWNEIGH : Netlink.RTM_DELNEIGH
        let name = add ? "RTM_NEWNEIGH" : "RTM_DELNEIGH"
        var message = NetlinkRequest(
            type: type, flags: add ? create : Netlink.NLM_F_ACK,
            operation: "\(name) proxy \(address) dev \(label)")
        message.appendNeighbourInfo(
            family: address.family, index: index, state: Netlink.NUD_PERMANENT,
            flags: Netlink.NTF_PROXY)
        message.attribute(Netlink.NDA_DST, address.bytes)
        return message
    }

    /// A bridge port VLAN change: `RTM_SETLINK` (add) or `RTM_DELLINK` (remove) with family
    /// `AF_BRIDGE` and `IFLA_AF_SPEC { IFLA_BRIDGE_FLAGS master, IFLA_BRIDGE_VLAN_INFO }`.
    /// Untagged VLANs are added as the port's PVID.
    public static func bridgeVLAN(
        add: Bool, index: Int32, vlan: UInt16, tagged: Bool, label: String
    )
        -> NetlinkRequest
    {
        let type = add ? Netlink.RTM_SETLINK : Netlink.RTM_DELLINK
        let name = add ? "RTM_SETLINK" : "RTM_DELLINK"
        var message = NetlinkRequest(
            type: type, flags: Netlink.NLM_F_ACK, operation: "\(name) \(label) vlan \(vlan)")
        message.appendInterfaceInfo(family: Netlink.AF_BRIDGE, index: index)
        message.nested(Netlink.IFLA_AF_SPEC) { spec in
            spec.attribute(Netlink.IFLA_BRIDGE_FLAGS, integer: Netlink.BRIDGE_FLAGS_MASTER)
            let flags =
                tagged ? 0 : Netlink.BRIDGE_VLAN_INFO_PVID | Netlink.BRIDGE_VLAN_INFO_UNTAGGED
            // struct bridge_vlan_info { __u16 flags; __u16 vid; }
            var info: [UInt8] = []
            withUnsafeBytes(of: flags) { info.append(contentsOf: $0) }
            withUnsafeBytes(of: vlan) { info.append(contentsOf: $0) }
            spec.attribute(Netlink.IFLA_BRIDGE_VLAN_INFO, info)
        }
        return message
    }
}
