import Testing

@testable import LXCNetwork

/// Spec checking, which happens before anything is created and needs no privileges.
@Suite struct PlanTests {
    func plan(_ type: String, _ change: (inout NetworkSpec) -> Void) -> Result<
        DevicePlan, NetworkError
    > {
        var spec = NetworkSpec(index: 2, type: type)
        change(&spec)
        return Result { () throws(NetworkError) in try DevicePlan(spec) }
    }

    func message(_ type: String, _ change: (inout NetworkSpec) -> Void) -> String? {
        guard case .failure(let error) = plan(type, change) else { return nil }
        return error.description
    }

    @Test func refusesWhatLXCRefuses() {
        #expect(message("tun") { _ in } == "lxc.net.2.type = tun: unknown network type")
        #expect(message("macvlan") { _ in } == "lxc.net.2.link: required for type macvlan")
        #expect(
            message("veth") { $0.vethPair = "a/b" }
                == "lxc.net.2.veth.pair = a/b: invalid interface name")
        #expect(
            message("empty") { $0.name = "eth0" }
                == "lxc.net.2.name = eth0: an empty network names only lo")
        #expect(
            message("veth") { $0.vethVlanID = 10 }
                == "lxc.net.2.veth.vlan.id: needs veth.mode bridge and a bridge link")
        #expect(
            message("veth") {
                $0.link = "br0"
                $0.vethVlanID = 10
                $0.vethTaggedVlanIDs = [10]
            } == "lxc.net.2.veth.vlan.tagged.id = 10: same as veth.vlan.id")
        #expect(
            message("veth") {
                $0.ipv4Addresses = ["10.0.0.2/24"]
                $0.ipv4Gateway = "10.0.0.1"
            } == "lxc.net.2.ipv4.gateway = 10.0.0.1: a gateway needs lxc.net.2.flags = up")
        #expect(
            message("veth") {
                $0.up = true
                $0.ipv4Gateway = "auto"
            } == "lxc.net.2.ipv4.gateway = auto: auto needs lxc.net.2.link")
        #expect(
            message("ipvlan") {
                $0.link = "eth0"
                $0.l2proxy = true
            } == "lxc.net.2.l2proxy = 1: ipvlan needs mode l3s")
        #expect(
            message("macvlan") {
                $0.link = "eth0"
                $0.vethIPv4Routes = ["10.0.0.0/8"]
            } == "lxc.net.2.veth.ipv4.route = 10.0.0.0/8: only for type veth")
        #expect(
            message("veth") { $0.hwaddr = "00:16:3e" }
                == "lxc.net.2.hwaddr = 00:16:3e: malformed mac address")
    }

    @Test func fillsInLXCDefaults() throws {
        let veth = try plan("veth") {
            $0.ipv4Addresses = [
                "10.1.2.3/20", "192.168.1.5", "10.9.9.9/24 10.9.9.1", "10.0.0.1/31",
            ]
            $0.ipv6Addresses = ["fd00::5"]
        }.get()
        #expect(
            veth.ipv4.map(\.network.description) == [
                "10.1.2.3/20", "192.168.1.5/24", "10.9.9.9/24", "10.0.0.1/31",
            ])
        #expect(
            veth.ipv4.map { $0.broadcast?.description } == [
                "10.1.15.255", "192.168.1.255", "10.9.9.1", nil,
            ])
        #expect(veth.ipv6.map(\.description) == ["fd00::5/64"])
        #expect(veth.router == false)
        #expect(veth.needsSecondPass)

        let ipvlan = try plan("ipvlan") { $0.link = "eth0" }.get()
        #expect(ipvlan.ipvlanMode == Netlink.IPVLAN_MODE_L3)
        #expect(ipvlan.ipvlanFlags == 0)
        let macvlan = try plan("macvlan") { $0.link = "eth0" }.get()
        #expect(macvlan.macvlanMode == Netlink.MACVLAN_MODE_PRIVATE)
        let phys = try plan("phys") { $0.link = "enp7s0" }.get()
        #expect(phys.name == "enp7s0")
        #expect(!phys.needsSecondPass)
        let empty = try plan("empty") { _ in }.get()
        #expect(empty.name == "lo")
    }

    @Test func randomNamesFitIFNAMSIZ() {
        for prefix in ["veth", "mc", "phys"] {
            let name = SetupRun.randomName(prefix)
            #expect(name.count == 10 && name.hasPrefix(prefix))
        }
    }
}
