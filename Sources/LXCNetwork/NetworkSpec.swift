/// One network device of a container, field for field LXC's `lxc.net.N.*` keys.
///
/// Values stay as the config gives them; `NetworkSetup` checks them all before it touches
/// anything, and its errors name the key (`lxc.net.0.ipv4.address = 10.0.0.300/24: …`).
public struct NetworkSpec: Sendable, Equatable {
    /// N of `lxc.net.N`, used in error messages.
    public var index: Int
    /// `lxc.net.N.type`: `veth`, `macvlan`, `ipvlan`, `vlan`, `phys`, `empty` or `none`.
    public var type: String
    /// `lxc.net.N.flags = up`.
    public var up = false
    /// `lxc.net.N.link`: the bridge of a veth, the parent of a macvlan, ipvlan or vlan, the
    /// host device of a phys.
    public var link: String?
    /// `lxc.net.N.name`: the name inside the container; `eth%d` style templates allowed.
    public var name: String?
    /// `lxc.net.N.hwaddr`; `x` digits are randomised.
    public var hwaddr: String?
    /// `lxc.net.N.mtu`.
    public var mtu: UInt32?
    /// `lxc.net.N.ipv4.address`: `a.b.c.d[/n] [broadcast]`.
    public var ipv4Addresses: [String] = []
    /// `lxc.net.N.ipv6.address`: `x::y[/n]`.
    public var ipv6Addresses: [String] = []
    /// `lxc.net.N.ipv4.gateway`: an address, `auto` or `dev`.
    public var ipv4Gateway: String?
    /// `lxc.net.N.ipv6.gateway`: an address, `auto` or `dev`.
    public var ipv6Gateway: String?
    /// `lxc.net.N.veth.pair`: the host end's name; a random `vethXXXXXX` when nil.
    public var vethPair: String?
    /// `lxc.net.N.veth.mode`: `bridge` (the default) or `router`.
    public var vethMode: String?
    /// `lxc.net.N.veth.ipv4.route`: host routes to these networks through the host end.
    public var vethIPv4Routes: [String] = []
    /// `lxc.net.N.veth.ipv6.route`.
    public var vethIPv6Routes: [String] = []
    /// `lxc.net.N.veth.vlan.id`: the untagged VLAN of the bridge port; -1 for `none`.
    public var vethVlanID: Int?
    /// `lxc.net.N.veth.vlan.tagged.id`.
    public var vethTaggedVlanIDs: [UInt16] = []
    /// `lxc.net.N.macvlan.mode`: `private` (the default), `vepa`, `bridge`, `passthru`.
    public var macvlanMode: String?
    /// `lxc.net.N.ipvlan.mode`: `l3` (the default), `l3s`, `l2`.
    public var ipvlanMode: String?
    /// `lxc.net.N.ipvlan.isolation`: `bridge` (the default), `private`, `vepa`.
    public var ipvlanIsolation: String?
    /// `lxc.net.N.vlan.id`.
    public var vlanID: UInt16?
    /// `lxc.net.N.l2proxy`: neighbour proxy entries on `link` for the container's addresses.
    public var l2proxy = false
    /// `lxc.net.N.script.up`: run on the host once the device exists.
    public var scriptUp: String?
    /// `lxc.net.N.script.down`: run on the host before the device is removed.
    public var scriptDown: String?

    public init(index: Int, type: String) {
        self.index = index
        self.type = type
    }

    /// `lxc.net.N.<sub>`.
    public func key(_ sub: String) -> String { "lxc.net.\(index).\(sub)" }
}

/// Facts about the container the setup needs besides its network specs.
public struct NetworkContext: Sendable, Equatable {
    /// The container's name: the first argument of `script.up` and `script.down`.
    public var containerName: String
    /// `lxc.hook.version`: 1 passes the details as `LXC_*` environment variables too.
    public var hookVersion: Int
    /// The environment of the scripts (`LXC_NAME`, `LXC_CONFIG_FILE`, `LXC_ROOTFS_PATH`…, as
    /// LXC sets them for its hooks). `LXC_NAME` and a `PATH` are added when missing.
    public var environment: [String]

    public init(containerName: String, hookVersion: Int = 0, environment: [String] = []) {
        self.containerName = containerName
        self.hookVersion = hookVersion
        self.environment = environment
    }
}

/// A device as it ended up: what the runtime reports for `lxc.net.N.veth.pair` and
/// `get_interfaces`, and what teardown removes.
public struct ConfiguredNetwork: Sendable, Equatable {
    public var index: Int
    public var type: String
    /// The host end of a veth, or the host name of a phys; nil for other types.
    public var hostName: String?
    /// The index of `hostName` on the host.
    public var hostIndex: Int32?
    /// The device's name inside the container (nil for `none`).
    public var name: String?
    /// Its index inside the container.
    public var containerIndex: Int32?
}
