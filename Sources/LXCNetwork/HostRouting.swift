import Glibc
import LXCSystem

/// The host-side extras of LXC's network types: router mode, l2proxy, bridge port VLANs and
/// `gateway = auto`.
extension SetupRun {
    /// `veth.mode = router`, as LXC 5.0 does it: forwarding on the host end, a neighbour proxy
    /// entry there for each gateway so the container's ARP or NDP for it is answered, and a
    /// host route to each container address through the host end.
    func setUpRouterMode(_ plan: DevicePlan, _ device: Pending, index: Int32, name: String)
        throws(NetworkError)
    {
        let spec = plan.spec
        if let gateway = device.ipv4Gateway {
            let key = spec.key("ipv4.gateway")
            try writeSysctl("ipv4/conf/\(name)/forwarding", "1", key: key)
            try netlink(key, gateway.description, "add gateway proxy on \(name)") {
                () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.neighbourProxy(
                        add: true, address: gateway, index: index, label: name))
            }
        }
        if let gateway = device.ipv6Gateway {
            let key = spec.key("ipv6.gateway")
            guard readSysctl("ipv6/conf/all/forwarding") == "1" else {
                throw NetworkError(
                    key: key, value: gateway.description,
                    "router mode needs net.ipv6.conf.all.forwarding=1")
            }
            try writeSysctl("ipv6/conf/\(name)/forwarding", "1", key: key)
            try writeSysctl("ipv6/conf/\(name)/proxy_ndp", "1", key: key)
            try netlink(key, gateway.description, "add gateway proxy on \(name)") {
                () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.neighbourProxy(
                        add: true, address: gateway, index: index, label: name))
            }
        }
        let hostRoutes =
            plan.ipv4.map { (IPNetwork(address: $0.network.address, prefixLength: 32), "ipv4") }
            + plan.ipv6.map { (IPNetwork(address: $0.address, prefixLength: 128), "ipv6") }
        for (route, family) in hostRoutes {
            try netlink(spec.key("\(family).address"), route.address.description, "add host route")
            { () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.route(
                        add: true, destination: route, family: route.address.family,
                        scope: Netlink.RT_SCOPE_LINK, index: index, label: name))
            }
        }
    }

    /// `l2proxy`: neighbour proxy entries on `link` for every container address, after the
    /// sysctl checks LXC makes; for ipvlan (mode l3s) also a route to each address through
    /// `lo`, which the ipvlan l3s hook needs to answer.
    func setUpL2Proxy(_ plan: DevicePlan, link: String) throws(NetworkError) {
        let spec = plan.spec
        let key = spec.key("l2proxy")
        let parent = try lookUp(link, key: spec.key("link"), missing: "device does not exist")
        if !plan.ipv4.isEmpty, readSysctl("ipv4/conf/\(link)/forwarding") != "1" {
            throw NetworkError(key: key, value: "1", "needs net.ipv4.conf.\(link).forwarding=1")
        }
        if !plan.ipv6.isEmpty {
            if readSysctl("ipv6/conf/\(link)/proxy_ndp") != "1" {
                throw NetworkError(key: key, value: "1", "needs net.ipv6.conf.\(link).proxy_ndp=1")
            }
            if readSysctl("ipv6/conf/\(link)/forwarding") != "1" {
                throw NetworkError(key: key, value: "1", "needs net.ipv6.conf.\(link).forwarding=1")
            }
        }
        var loopback: Link?
        if plan.kind == .ipvlan {
            loopback = try lookUp("lo", key: key, missing: "the host has no lo")
        }

        let addresses = plan.ipv4.map(\.network.address) + plan.ipv6.map(\.address)
        for address in addresses {
            try netlink(key, address.description, "add neighbour proxy on \(link)") {
                () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.neighbourProxy(
                        add: true, address: address, index: parent.index, label: link))
            }
            undo.append(.deleteNeighbourProxy(address: address, index: parent.index, device: link))
            if let loopback {
                let route = IPNetwork(address: address, prefixLength: address.maximumPrefix)
                try netlink(key, address.description, "add route to lo") {
                    () throws(NetlinkError) in
                    try host.perform(
                        RouteMessage.route(
                            add: true, destination: route, family: address.family,
                            scope: Netlink.RT_SCOPE_LINK, index: loopback.index, label: "lo"))
                }
                undo.append(.deleteHostRoute(route, index: loopback.index, device: "lo"))
            }
        }
    }

    /// Checks before anything exists that the bridge can take `veth.vlan.id` and
    /// `veth.vlan.tagged.id` (`vlan_filtering` on) and returns its default PVID. Attaching a
    /// port and taking it away again can change an empty bridge's MAC address, so this must
    /// not fail after the attach.
    func checkBridgeVLANs(_ plan: DevicePlan, bridge: String) throws(NetworkError) -> UInt16? {
        let spec = plan.spec
        guard spec.vethVlanID != nil || !spec.vethTaggedVlanIDs.isEmpty else { return nil }
        let key = spec.key(spec.vethVlanID != nil ? "veth.vlan.id" : "veth.vlan.tagged.id")
        guard readFile("/sys/class/net/\(bridge)/bridge/vlan_filtering") == "1" else {
            throw NetworkError(key: key, "vlan_filtering is not enabled on \(bridge)")
        }
        let pvidText = readFile("/sys/class/net/\(bridge)/bridge/default_pvid")
        guard let pvid = pvidText.flatMap({ UInt16($0) }) else {
            throw NetworkError(key: key, "cannot read default_pvid of \(bridge)")
        }
        return pvid
    }

    /// `veth.vlan.id` and `veth.vlan.tagged.id` on the bridge port: the untagged VLAN replaces
    /// the bridge's default PVID, tagged ones are added. The port is the host end, so all of
    /// it goes away with the veth.
    func setUpBridgeVLANs(_ plan: DevicePlan, defaultPVID pvid: UInt16, port: Int32, name: String)
        throws(NetworkError)
    {
        let spec = plan.spec
        if let untagged = spec.vethVlanID {
            let key = spec.key("veth.vlan.id")
            if Int(pvid) != untagged, pvid != 0 {
                try netlink(key, String(untagged), "remove default pvid \(pvid)") {
                    () throws(NetlinkError) in
                    try host.perform(
                        RouteMessage.bridgeVLAN(
                            add: false, index: port, vlan: pvid, tagged: false, label: name))
                }
            }
            if untagged > 0 {
                try netlink(key, String(untagged), "add untagged vlan") { () throws(NetlinkError) in
                    try host.perform(
                        RouteMessage.bridgeVLAN(
                            add: true, index: port, vlan: UInt16(untagged), tagged: false,
                            label: name))
                }
            }
        }
        for tagged in spec.vethTaggedVlanIDs {
            try netlink(spec.key("veth.vlan.tagged.id"), String(tagged), "add tagged vlan") {
                () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.bridgeVLAN(
                        add: true, index: port, vlan: tagged, tagged: true, label: name))
            }
        }
    }

    /// `ipv4.gateway = auto` or `ipv6.gateway = auto`: the first address of that family on
    /// `link` (LXC's rule; for a bridge that is the bridge's own address).
    func automaticGateway(_ plan: DevicePlan, _ gateway: DevicePlan.Gateway?, ipv4: Bool)
        throws(NetworkError) -> IPAddress?
    {
        guard gateway == .auto, let link = plan.spec.link else { return nil }
        let key = plan.spec.key(ipv4 ? "ipv4.gateway" : "ipv6.gateway")
        let found = try lookUp(link, key: plan.spec.key("link"), missing: "device does not exist")
        let family = ipv4 ? Netlink.AF_INET : Netlink.AF_INET6
        let addresses = try netlink(key, "auto", "list addresses of \(link)") {
            () throws(NetlinkError) in try host.addresses(family: family)
        }
        guard let first = addresses.first(where: { $0.index == found.index }) else {
            throw NetworkError(key: key, value: "auto", "\(link) has no address to use")
        }
        return first.address
    }

    // MARK: Files

    func readSysctl(_ path: String) -> String? {
        readFile("/proc/sys/net/\(path)")
    }

    func readFile(_ path: String) -> String? {
        guard let text = try? FileContents.readText(path) else { return nil }
        return String(text.filter { !$0.isWhitespace })
    }

    func writeSysctl(_ path: String, _ value: String, key: String) throws(NetworkError) {
        do {
            try FileContents.write(value, to: "/proc/sys/net/\(path)")
        } catch {
            throw NetworkError(key: key, "set net.\(path)", cause: .system(error))
        }
    }
}
