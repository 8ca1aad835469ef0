import Glibc
import LXCSystem

/// One pass of `NetworkSetup`: the two sockets, the devices as they come into being, and the
/// undo journal.
final class SetupRun {
    let plans: [DevicePlan]
    let context: NetworkContext
    let host: RouteSocket
    let container: RouteSocket
    /// The container's namespace as an fd number for `IFLA_NET_NS_FD`; owned by the setup.
    let netnsFD: Int32
    var undo: [UndoStep] = []
    var devices: [ConfiguredNetwork] = []

    /// A device between the host phase and the container phase.
    struct Pending {
        var plan: DevicePlan
        /// Its current name in the container, or nil when it has no device there.
        var transientName: String?
        var containerIndex: Int32?
        var hostName: String?
        var hostIndex: Int32?
        var ipv4Gateway: IPAddress?
        var ipv6Gateway: IPAddress?
    }

    init(plans: [DevicePlan], context: NetworkContext, netns: borrowing FileDescriptor)
        throws(NetworkError)
    {
        self.plans = plans
        self.context = context
        netnsFD = netns.rawValue
        do {
            host = try RouteSocket()
            container = try RouteSocket.open(in: netns)
        } catch {
            throw NetworkError("open netlink sockets", cause: error)
        }
    }

    // MARK: The whole setup

    func perform() throws(NetworkError) {
        var pending: [Pending] = []
        for plan in plans {
            pending.append(try hostPhase(plan))
        }
        for secondPass in [false, true] {
            for index in pending.indices where pending[index].plan.needsSecondPass == secondPass {
                try containerPhase(&pending[index])
            }
        }
        devices = pending.map { device in
            ConfiguredNetwork(
                index: device.plan.spec.index, type: device.plan.spec.type,
                hostName: device.hostName, hostIndex: device.hostIndex,
                name: device.plan.kind == .none ? nil : device.transientName,
                containerIndex: device.containerIndex)
        }
    }

    // MARK: Host side

    private func hostPhase(_ plan: DevicePlan) throws(NetworkError) -> Pending {
        var device = Pending(plan: plan)
        let spec = plan.spec
        if spec.l2proxy, let link = spec.link, !link.isEmpty {
            try setUpL2Proxy(plan, link: link)
        }

        switch plan.kind {
        case .none:
            return device
        case .empty:
            device.transientName = "lo"
        case .veth:
            try createVeth(plan, &device)
        case .macvlan, .ipvlan, .vlan:
            try createLowerDevice(plan, &device)
        case .phys:
            try movePhysical(plan, &device)
        }

        if plan.kind == .veth || plan.kind == .macvlan {
            device.ipv4Gateway = try automaticGateway(plan, plan.ipv4Gateway, ipv4: true)
            device.ipv6Gateway = try automaticGateway(plan, plan.ipv6Gateway, ipv4: false)
        }
        if case .address(let address) = plan.ipv4Gateway { device.ipv4Gateway = address }
        if case .address(let address) = plan.ipv6Gateway { device.ipv6Gateway = address }
        if plan.kind == .veth, plan.router, let index = device.hostIndex,
            let name = device.hostName
        {
            try setUpRouterMode(plan, device, index: index, name: name)
        }

        let link = spec.link
        let peer = plan.kind == .veth ? device.hostName : nil
        if spec.scriptDown != nil {
            undo.append(.downScript(planIndex: spec.index, link: link, peer: peer))
        }
        if let script = spec.scriptUp {
            try NetworkScripts.run(
                script, hook: "up", type: spec.type, link: link, peer: peer, context: context,
                key: spec.key("script.up"))
        }
        return device
    }

    private func createVeth(_ plan: DevicePlan, _ device: inout Pending) throws(NetworkError) {
        let spec = plan.spec
        var mtu = spec.mtu
        var bridge: Link?
        var defaultPVID: UInt16?
        if !plan.router, let link = spec.link, !link.isEmpty {
            bridge = try lookUp(link, key: spec.key("link"), missing: "bridge does not exist")
            mtu = mtu ?? bridge?.mtu
            defaultPVID = try checkBridgeVLANs(plan, bridge: link)
        }

        let hostName = spec.vethPair ?? Self.randomName("veth")
        let peerName = Self.randomName("veth")
        // The host end's MAC starts with 0xfe, so a bridge that takes the lowest port address
        // keeps the host's own, as LXC arranges.
        let request = RouteMessage.newVeth(
            host: .init(name: hostName, mtu: mtu, address: MACAddress.random(first: 0xfe)),
            peer: .init(name: peerName, mtu: mtu, namespaceFD: netnsFD))
        do {
            try host.perform(request)
        } catch {
            if error.errno == .EEXIST, spec.vethPair != nil {
                throw NetworkError(
                    key: spec.key("veth.pair"), value: hostName, "name already taken on the host",
                    cause: error)
            }
            throw NetworkError(
                key: spec.key("type"), value: "veth", "create veth pair", cause: error)
        }
        let created = try lookUp(hostName, key: spec.key("veth.pair"), missing: "veth vanished")
        undo.append(.deleteHostLink(index: created.index, name: hostName))
        device.hostName = hostName
        device.hostIndex = created.index
        device.transientName = peerName
        device.containerIndex = try containerIndex(of: peerName, plan)

        if let bridge {
            try netlink(spec.key("link"), bridge.name, "attach \(hostName) to bridge") {
                () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.setLink(
                        index: created.index, label: hostName, .init(master: bridge.index)))
            }
            if let defaultPVID {
                try setUpBridgeVLANs(
                    plan, defaultPVID: defaultPVID, port: created.index, name: hostName)
            }
        }

        try netlink(spec.key("veth.pair"), hostName, "set host end up") { () throws(NetlinkError) in
            try host.perform(
                RouteMessage.setLink(index: created.index, label: hostName, .init(up: true)))
        }

        for (routes, sub) in [
            (plan.ipv4Routes, "veth.ipv4.route"), (plan.ipv6Routes, "veth.ipv6.route"),
        ] {
            for route in routes {
                try netlink(spec.key(sub), route.description, "add host route") {
                    () throws(NetlinkError) in
                    try host.perform(
                        RouteMessage.route(
                            add: true, destination: route, family: route.address.family,
                            scope: Netlink.RT_SCOPE_LINK, index: created.index, label: hostName))
                }
            }
        }
    }

    private func createLowerDevice(_ plan: DevicePlan, _ device: inout Pending)
        throws(NetworkError)
    {
        let spec = plan.spec
        let link = spec.link ?? ""
        let parent = try lookUp(
            link, key: spec.key("link"), missing: "parent device does not exist")
        let kind: RouteMessage.LowerKind
        let prefix: String
        switch plan.kind {
        case .macvlan:
            kind = .macvlan(mode: plan.macvlanMode)
            prefix = "mc"
        case .ipvlan:
            kind = .ipvlan(mode: plan.ipvlanMode, flags: plan.ipvlanFlags)
            prefix = "ip"
        default:
            kind = .vlan(id: spec.vlanID ?? 0)
            prefix = "vl"
        }
        let name = Self.randomName(prefix)
        // Created straight inside the container's namespace on the host's parent device: if
        // anything later fails, only that namespace holds it.
        try netlink(spec.key("type"), spec.type, "create \(spec.type) on \(link)") {
            () throws(NetlinkError) in
            try host.perform(
                RouteMessage.newLink(
                    kind, name: name, parent: parent.index, mtu: spec.mtu, namespaceFD: netnsFD))
        }
        let index = try containerIndex(of: name, plan)
        undo.append(.deleteContainerLink(index: index, name: name))
        device.transientName = name
        device.containerIndex = index
    }

    private func movePhysical(_ plan: DevicePlan, _ device: inout Pending) throws(NetworkError) {
        let spec = plan.spec
        let link = spec.link ?? ""
        let found = try lookUp(link, key: spec.key("link"), missing: "device does not exist")
        if let mtu = spec.mtu {
            try netlink(spec.key("mtu"), String(mtu), "set mtu of \(link)") {
                () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.setLink(index: found.index, label: link, .init(mtu: mtu)))
            }
        }

        // A transient name avoids clashes with devices the container's namespace already has
        // (LXC's reasoning for swapped phys names); the final name is given inside.
        let transient = Self.randomName("phys")
        do {
            try host.perform(
                RouteMessage.setLink(
                    index: found.index, label: link,
                    .init(name: transient, namespaceFD: netnsFD)))
        } catch {
            if spec.mtu != nil, let mtu = found.mtu {
                try? host.perform(
                    RouteMessage.setLink(index: found.index, label: link, .init(mtu: mtu)))
            }
            throw NetworkError(
                key: spec.key("link"), value: link, "move into container", cause: error)
        }
        let index = try containerIndex(of: transient, plan)
        undo.append(
            .returnPhys(
                containerIndex: index, name: link, mtu: spec.mtu == nil ? nil : found.mtu,
                wasUp: found.isUp))
        device.hostName = link
        device.hostIndex = found.index
        device.transientName = transient
        device.containerIndex = index
    }

    // MARK: Container side

    private func containerPhase(_ device: inout Pending) throws(NetworkError) {
        let plan = device.plan
        let spec = plan.spec
        guard plan.kind != .none, let current = device.transientName else { return }

        var index: Int32
        var name = current
        if plan.kind == .empty {
            let loopback = try netlink(nil, nil, "find lo in the container") {
                () throws(NetlinkError) in try container.link(named: "lo")
            }
            guard let loopback else { throw NetworkError("the container has no lo") }
            index = loopback.index
        } else {
            guard let known = device.containerIndex else {
                throw NetworkError("\(current) has no index in the container")
            }
            index = known
            let wanted = plan.name ?? "eth%d"
            if wanted != current {
                do {
                    try container.perform(
                        RouteMessage.setLink(index: index, label: current, .init(name: wanted)))
                } catch {
                    let reason =
                        error.errno == .EEXIST ? "name already taken in the container" : "rename"
                    throw NetworkError(key: spec.key("name"), value: wanted, reason, cause: error)
                }
                let renamed = try netlink(spec.key("name"), wanted, "read back the name") {
                    () throws(NetlinkError) in try container.link(index: index)
                }
                name = renamed?.name ?? wanted
            }
        }
        device.transientName = name
        device.containerIndex = index

        if let hwaddr = plan.hwaddr {
            try netlink(spec.key("hwaddr"), spec.hwaddr, "set mac address of \(name)") {
                () throws(NetlinkError) in
                try container.perform(
                    RouteMessage.setLink(index: index, label: name, .init(address: hwaddr)))
            }
        }
        for address in plan.ipv4 {
            try netlink(spec.key("ipv4.address"), address.network.description, "add address") {
                () throws(NetlinkError) in
                try container.perform(
                    RouteMessage.newAddress(
                        address.network, broadcast: address.broadcast, index: index, label: name))
            }
        }
        for network in plan.ipv6 {
            try netlink(spec.key("ipv6.address"), network.description, "add address") {
                () throws(NetlinkError) in
                try container.perform(RouteMessage.newAddress(network, index: index, label: name))
            }
        }
        guard spec.up else { return }

        try netlink(spec.key("flags"), "up", "set \(name) up") { () throws(NetlinkError) in
            try container.perform(RouteMessage.setLink(index: index, label: name, .init(up: true)))
            if let loopback = try container.link(named: "lo"), !loopback.isUp {
                try container.perform(
                    RouteMessage.setLink(index: loopback.index, label: "lo", .init(up: true)))
            }
        }
        try addGateway(
            plan.ipv4Gateway, resolved: device.ipv4Gateway, ipv4: true, plan, index, name)
        try addGateway(
            plan.ipv6Gateway, resolved: device.ipv6Gateway, ipv4: false, plan, index, name)
    }

    private func addGateway(
        _ gateway: DevicePlan.Gateway?, resolved: IPAddress?, ipv4: Bool, _ plan: DevicePlan,
        _ index: Int32, _ name: String
    ) throws(NetworkError) {
        guard let gateway else { return }
        let key = plan.spec.key(ipv4 ? "ipv4.gateway" : "ipv6.gateway")
        let family = ipv4 ? Netlink.AF_INET : Netlink.AF_INET6
        if gateway == .device {
            try netlink(key, "dev", "add default route") { () throws(NetlinkError) in
                try container.perform(
                    RouteMessage.route(
                        add: true, destination: nil, family: family,
                        scope: Netlink.RT_SCOPE_LINK, index: index, label: name))
            }
            return
        }
        guard let address = resolved else { return }
        let route = RouteMessage.route(
            add: true, destination: nil, family: family, gateway: address,
            scope: Netlink.RT_SCOPE_UNIVERSE, index: index, label: name)
        do {
            try container.perform(route)
        } catch {
            // A gateway outside the device's networks needs a device route to it first.
            let hostRoute = IPNetwork(address: address, prefixLength: address.maximumPrefix)
            try netlink(key, address.description, "add default route") { () throws(NetlinkError) in
                try container.perform(
                    RouteMessage.route(
                        add: true, destination: hostRoute, family: family,
                        scope: Netlink.RT_SCOPE_LINK, index: index, label: name))
                try container.perform(route)
            }
        }
    }

    // MARK: Undo

    /// Takes back every recorded step, newest first. Returns what could not be undone.
    func undoAll() -> [NetworkError] {
        var problems: [NetworkError] = []
        while let step = undo.popLast() {
            do {
                try take(step)
            } catch {
                problems.append(error)
            }
        }
        return problems
    }

    private func take(_ step: UndoStep) throws(NetworkError) {
        switch step {
        case .deleteHostLink(let index, let name):
            try netlink(nil, nil, "delete \(name)") { () throws(NetlinkError) in
                try host.perform(RouteMessage.deleteLink(index: index, label: name))
            }
        case .deleteContainerLink(let index, let name):
            try netlink(nil, nil, "delete \(name) in the container") { () throws(NetlinkError) in
                try container.perform(RouteMessage.deleteLink(index: index, label: name))
            }
        case .returnPhys(let index, let name, let mtu, let wasUp):
            try returnPhysical(index: index, name: name, mtu: mtu, wasUp: wasUp)
        case .deleteNeighbourProxy(let address, let index, let device):
            try netlink(nil, nil, "delete neighbour proxy") { () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.neighbourProxy(
                        add: false, address: address, index: index, label: device))
            }
        case .deleteHostRoute(let route, let index, let device):
            try netlink(nil, nil, "delete route") { () throws(NetlinkError) in
                try host.perform(
                    RouteMessage.route(
                        add: false, destination: route, family: route.address.family,
                        scope: Netlink.RT_SCOPE_LINK, index: index, label: device))
            }
        case .downScript(let planIndex, let link, let peer):
            guard let plan = plans.first(where: { $0.spec.index == planIndex }),
                let script = plan.spec.scriptDown
            else { return }
            try NetworkScripts.run(
                script, hook: "down", type: plan.spec.type, link: link, peer: peer,
                context: context, key: plan.spec.key("script.down"))
        }
    }

    private func returnPhysical(index: Int32, name: String, mtu: UInt32?, wasUp: Bool)
        throws(NetworkError)
    {
        let hostNamespace: FileDescriptor
        do {
            hostNamespace = try FileDescriptor.open("/proc/thread-self/ns/net", O_RDONLY)
        } catch {
            throw NetworkError("return \(name) to the host", cause: .system(error))
        }
        let hostFD = hostNamespace.rawValue
        try netlink(nil, nil, "return \(name) to the host") { () throws(NetlinkError) in
            try container.perform(
                RouteMessage.setLink(
                    index: index, label: name, .init(name: name, namespaceFD: hostFD, up: false)))
        }
        guard mtu != nil || wasUp else { return }
        try netlink(nil, nil, "restore \(name)") { () throws(NetlinkError) in
            guard let link = try host.link(named: name) else { return }
            try host.perform(
                RouteMessage.setLink(
                    index: link.index, label: name, .init(mtu: mtu, up: wasUp ? true : nil)))
        }
    }

    // MARK: Helpers

    /// Runs netlink work and wraps its failure with the key, value and what was being done.
    @discardableResult
    func netlink<T>(
        _ key: String?, _ value: String?, _ reason: String,
        _ body: () throws(NetlinkError) -> T
    ) throws(NetworkError) -> T {
        do {
            return try body()
        } catch {
            throw NetworkError(key: key, value: value, reason, cause: error)
        }
    }

    /// The host device `name`; a missing one is an error on `key` saying `missing`.
    func lookUp(_ name: String, key: String, missing: String) throws(NetworkError) -> Link {
        let found = try netlink(key, name, "look up \(name)") { () throws(NetlinkError) in
            try host.link(named: name)
        }
        guard let found else {
            throw NetworkError(
                key: key, value: name, missing,
                cause: .kernel(
                    operation: "RTM_GETLINK \(name)", errno: Errno(rawValue: ENODEV), message: nil))
        }
        return found
    }

    private func containerIndex(of name: String, _ plan: DevicePlan) throws(NetworkError) -> Int32 {
        let found = try netlink(
            plan.spec.key("type"), plan.spec.type, "find \(name) in the container"
        ) {
            () throws(NetlinkError) in try container.link(named: name)
        }
        guard let found else {
            throw NetworkError(
                key: plan.spec.key("type"), value: plan.spec.type, "\(name) vanished")
        }
        return found.index
    }

    /// `prefix` and random letters and digits up to 10 characters, as LXC's `vethXXXXXX`.
    static func randomName(_ prefix: String) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let count = max(0, 10 - prefix.count)
        return prefix
            + String((0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}
