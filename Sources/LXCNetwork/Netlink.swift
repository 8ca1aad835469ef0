/// The rtnetlink constants SwiftLXC uses, spelled as in the kernel's UAPI headers
/// (`linux/netlink.h`, `rtnetlink.h`, `if_link.h`, `if_addr.h`, `neighbour.h`, `veth.h`,
/// `if_bridge.h`) so they can be found next to the man pages.
///
/// The C headers declare them with assorted types (macros, anonymous enums, `rtattr_type_t`);
/// here each has the width of the field it goes into. A test checks every value against the
/// headers the system was built with.
public enum Netlink {
    // MARK: Sockets (linux/netlink.h, linux/socket.h)

    public static let NETLINK_ROUTE: Int32 = 0
    public static let SOL_NETLINK: Int32 = 270
    public static let NETLINK_CAP_ACK: Int32 = 10
    public static let NETLINK_EXT_ACK: Int32 = 11

    // MARK: Message header

    public static let NLMSG_NOOP: UInt16 = 1
    public static let NLMSG_ERROR: UInt16 = 2
    public static let NLMSG_DONE: UInt16 = 3

    public static let NLM_F_REQUEST: UInt16 = 0x1
    public static let NLM_F_MULTI: UInt16 = 0x2
    public static let NLM_F_ACK: UInt16 = 0x4
    public static let NLM_F_DUMP_INTR: UInt16 = 0x10
    public static let NLM_F_ROOT: UInt16 = 0x100
    public static let NLM_F_MATCH: UInt16 = 0x200
    public static let NLM_F_DUMP: UInt16 = 0x300
    public static let NLM_F_REPLACE: UInt16 = 0x100
    public static let NLM_F_EXCL: UInt16 = 0x200
    public static let NLM_F_CREATE: UInt16 = 0x400
    /// In an acknowledgement: the request was not echoed back (`NETLINK_CAP_ACK`).
    public static let NLM_F_CAPPED: UInt16 = 0x100
    /// In an acknowledgement: extended-ack attributes follow.
    public static let NLM_F_ACK_TLVS: UInt16 = 0x200

    public static let NLMSGERR_ATTR_MSG: UInt16 = 1
    public static let NLMSGERR_ATTR_OFFS: UInt16 = 2

    public static let NLA_F_NESTED: UInt16 = 0x8000
    public static let NLA_F_NET_BYTEORDER: UInt16 = 0x4000
    public static let NLA_TYPE_MASK: UInt16 = 0x3fff

    /// `sizeof(struct nlmsghdr)`, `ifinfomsg`, `ifaddrmsg`, `rtmsg`, `ndmsg`, `rtattr`.
    public static let NLMSG_HDRLEN = 16
    public static let IFINFOMSG_LEN = 16
    public static let IFADDRMSG_LEN = 8
    public static let RTMSG_LEN = 12
    public static let NDMSG_LEN = 12
    public static let RTA_HDRLEN = 4

    /// `NLMSG_ALIGN` and `RTA_ALIGN`: both round up to 4 bytes.
    @inline(__always)
    public static func align(_ length: Int) -> Int { (length + 3) & ~3 }

    // MARK: Message types (linux/rtnetlink.h)

    public static let RTM_NEWLINK: UInt16 = 16
    public static let RTM_DELLINK: UInt16 = 17
    public static let RTM_GETLINK: UInt16 = 18
    public static let RTM_SETLINK: UInt16 = 19
    public static let RTM_NEWADDR: UInt16 = 20
    public static let RTM_DELADDR: UInt16 = 21
    public static let RTM_GETADDR: UInt16 = 22
    public static let RTM_NEWROUTE: UInt16 = 24
    public static let RTM_DELROUTE: UInt16 = 25
    public static let RTM_GETROUTE: UInt16 = 26
    public static let RTM_NEWNEIGH: UInt16 = 28
    public static let RTM_DELNEIGH: UInt16 = 29
    public static let RTM_GETNEIGH: UInt16 = 30

    // MARK: Families and interface flags

    public static let AF_UNSPEC: UInt8 = 0
    public static let AF_INET: UInt8 = 2
    public static let AF_BRIDGE: UInt8 = 7
    public static let AF_INET6: UInt8 = 10
    public static let IFF_UP: UInt32 = 0x1
    public static let IFF_LOOPBACK: UInt32 = 0x8

    // MARK: Link attributes (linux/if_link.h)

    public static let IFLA_ADDRESS: UInt16 = 1
    public static let IFLA_BROADCAST: UInt16 = 2
    public static let IFLA_IFNAME: UInt16 = 3
    public static let IFLA_MTU: UInt16 = 4
    public static let IFLA_LINK: UInt16 = 5
    public static let IFLA_MASTER: UInt16 = 10
    public static let IFLA_OPERSTATE: UInt16 = 16
    public static let IFLA_LINKINFO: UInt16 = 18
    public static let IFLA_NET_NS_PID: UInt16 = 19
    public static let IFLA_AF_SPEC: UInt16 = 26
    public static let IFLA_NET_NS_FD: UInt16 = 28

    public static let IFLA_INFO_KIND: UInt16 = 1
    public static let IFLA_INFO_DATA: UInt16 = 2

    public static let VETH_INFO_PEER: UInt16 = 1

    public static let IFLA_VLAN_ID: UInt16 = 1

    public static let IFLA_MACVLAN_MODE: UInt16 = 1
    public static let MACVLAN_MODE_PRIVATE: UInt32 = 1
    public static let MACVLAN_MODE_VEPA: UInt32 = 2
    public static let MACVLAN_MODE_BRIDGE: UInt32 = 4
    public static let MACVLAN_MODE_PASSTHRU: UInt32 = 8

    public static let IFLA_IPVLAN_MODE: UInt16 = 1
    public static let IFLA_IPVLAN_FLAGS: UInt16 = 2
    public static let IPVLAN_MODE_L2: UInt16 = 0
    public static let IPVLAN_MODE_L3: UInt16 = 1
    public static let IPVLAN_MODE_L3S: UInt16 = 2
    public static let IPVLAN_F_PRIVATE: UInt16 = 0x01
    public static let IPVLAN_F_VEPA: UInt16 = 0x02

    // MARK: Bridge port VLANs (linux/if_bridge.h)

    public static let IFLA_BRIDGE_FLAGS: UInt16 = 0
    public static let IFLA_BRIDGE_VLAN_INFO: UInt16 = 2
    public static let BRIDGE_FLAGS_MASTER: UInt16 = 1
    public static let BRIDGE_VLAN_INFO_PVID: UInt16 = 0x2
    public static let BRIDGE_VLAN_INFO_UNTAGGED: UInt16 = 0x4

    // MARK: Address attributes (linux/if_addr.h)

    public static let IFA_ADDRESS: UInt16 = 1
    public static let IFA_LOCAL: UInt16 = 2
    public static let IFA_LABEL: UInt16 = 3
    public static let IFA_BROADCAST: UInt16 = 4
    public static let IFA_FLAGS: UInt16 = 8
    public static let IFA_F_NODAD: UInt32 = 0x02

    // MARK: Routes (linux/rtnetlink.h)

    public static let RTA_DST: UInt16 = 1
    public static let RTA_OIF: UInt16 = 4
    public static let RTA_GATEWAY: UInt16 = 5
    public static let RTA_TABLE: UInt16 = 15

    public static let RT_TABLE_MAIN: UInt8 = 254
    public static let RT_SCOPE_UNIVERSE: UInt8 = 0
    public static let RT_SCOPE_LINK: UInt8 = 253
    public static let RT_SCOPE_HOST: UInt8 = 254
    public static let RTPROT_BOOT: UInt8 = 3
    public static let RTN_UNICAST: UInt8 = 1

    // MARK: Neighbours (linux/neighbour.h)

    public static let NDA_DST: UInt16 = 1
    public static let NTF_PROXY: UInt8 = 0x08
    public static let NUD_PERMANENT: UInt16 = 0x80
}
