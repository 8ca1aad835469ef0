import Glibc
import LXCSystem
import Testing

@testable import LXCNetwork

/// Bad input fails with the LXC key and the kernel's reason, and leaves the host's links
/// exactly as they were, whether it is caught before anything is created or half-way.
extension HostNetworkTests {
    @Suite struct FailureTests {
        let context = NetworkContext(containerName: "swtest")

        /// Runs a setup of `specs` that must fail; returns its error after checking that
        /// `ip -o link` is unchanged and that teardown afterwards changes nothing either.
        func failingSetup(_ specs: [NetworkSpec], in namespace: TestNamespace) -> NetworkError? {
            let before = Shell.linkSnapshot()
            var caught: NetworkError?
            do {
                let setup = try NetworkSetup(specs: specs, netns: namespace.fd, context: context)
                do {
                    try setup.setup()
                    Issue.record("setup succeeded")
                    setup.teardown()
                } catch {
                    caught = error
                    #expect(setup.teardown().isEmpty)
                }
            } catch {
                caught = error
            }
            #expect(Shell.linkSnapshot() == before)
            return caught
        }

        func veth(_ index: Int = 0) -> NetworkSpec {
            var spec = NetworkSpec(index: index, type: "veth")
            spec.vethPair = Names.next("h")
            return spec
        }

        @Test func nameLongerThanFifteenBytes() throws {
            let namespace = try TestNamespace()
            var spec = veth()
            spec.name = "averyveryverylongname"
            let error = failingSetup([spec], in: namespace)
            #expect(
                error?.description
                    == "lxc.net.0.name = averyveryverylongname: name longer than 15 bytes")
        }

        @Test func pairNameAlreadyTakenOnTheHost() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let taken = cleanup.hostPair(Names.next("t"))
            var spec = veth()
            spec.vethPair = taken
            let error = failingSetup([spec], in: namespace)
            let text = error?.description ?? ""
            #expect(
                text.hasPrefix("lxc.net.0.veth.pair = \(taken): name already taken on the host"))
            #expect(text.contains("RTM_NEWLINK \(taken): file exists"), "\(text)")
            #expect(error?.errno == .EEXIST)
        }

        @Test func nameAlreadyTakenInTheContainerUndoesEarlierDevices() throws {
            let namespace = try TestNamespace()
            var first = veth(0)
            first.name = "eth0"
            var second = veth(1)
            second.name = "eth0"
            let error = failingSetup([first, second], in: namespace)
            let text = error?.description ?? ""
            #expect(text.hasPrefix("lxc.net.1.name = eth0: name already taken in the container"))
            #expect(text.contains("file exists"))
            let inside = try namespace.run(["/sbin/ip", "-o", "link"]).output
            #expect(!inside.contains("veth") && !inside.contains("eth0"), "\(inside)")
        }

        @Test func missingBridge() throws {
            let namespace = try TestNamespace()
            var spec = veth()
            spec.link = "swnobridge"
            let error = failingSetup([spec], in: namespace)
            #expect(
                error?.description
                    == "lxc.net.0.link = swnobridge: bridge does not exist: "
                    + "RTM_GETLINK swnobridge: no such device")
        }

        @Test func missingParentAfterAGoodDevice() throws {
            let namespace = try TestNamespace()
            var macvlan = NetworkSpec(index: 1, type: "macvlan")
            macvlan.link = "swnoparent"
            let error = failingSetup([veth(0), macvlan], in: namespace)
            #expect(error?.key == "lxc.net.1.link")
            #expect(error?.reason == "parent device does not exist")
        }

        @Test func malformedAddressesAndRoutes() throws {
            let namespace = try TestNamespace()
            var address = veth()
            address.ipv4Addresses = ["10.0.0.300/24"]
            #expect(
                failingSetup([address], in: namespace)?.description
                    == "lxc.net.0.ipv4.address = 10.0.0.300/24: malformed ipv4 address")
            var v6 = veth()
            v6.ipv6Addresses = ["fd00::1/129"]
            #expect(failingSetup([v6], in: namespace)?.key == "lxc.net.0.ipv6.address")
            var route = veth()
            route.vethIPv4Routes = ["198.51.100.0"]
            #expect(
                failingSetup([route], in: namespace)?.description
                    == "lxc.net.0.veth.ipv4.route = 198.51.100.0: malformed route")
            var gateway = veth()
            gateway.up = true
            gateway.ipv4Addresses = ["10.0.0.2/24"]
            gateway.ipv4Gateway = "10.0.0"
            #expect(failingSetup([gateway], in: namespace)?.key == "lxc.net.0.ipv4.gateway")
        }

        @Test func routeTheKernelRefusesUndoesTheVeth() throws {
            let namespace = try TestNamespace()
            var spec = veth()
            spec.vethIPv4Routes = ["198.51.100.0/24", "198.51.100.0/24"]
            let error = failingSetup([spec], in: namespace)
            let text = error?.description ?? ""
            #expect(text.hasPrefix("lxc.net.0.veth.ipv4.route = 198.51.100.0/24: add host route"))
            #expect(text.contains("RTM_NEWROUTE 198.51.100.0/24 dev"), "\(text)")
            #expect(error?.errno == .EEXIST)
            #expect(!Shell.ip("route").contains("198.51.100.0/24"))
        }

        @Test func unknownLinkKindCarriesTheKernelText() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let parent = cleanup.hostPair(Names.next("d"))
            var ipvlan = NetworkSpec(index: 1, type: "ipvlan")
            ipvlan.link = parent
            let before = Shell.linkSnapshot()
            let setup = try NetworkSetup(
                specs: [veth(0), ipvlan], netns: namespace.fd, context: context)
            let result = Result { () throws(NetworkError) in try setup.setup() }
            if KernelSupport.ipvlan {
                #expect(setup.teardown().isEmpty)
            } else {
                guard case .failure(let error) = result else {
                    Issue.record("ipvlan setup succeeded on a kernel without ipvlan")
                    return
                }
                #expect(error.description.contains("(kernel: Unknown device type)"), "\(error)")
            }
            #expect(Shell.linkSnapshot() == before)
        }

        @Test func bridgeVLANWithoutFilteringIsRefused() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let bridge = Names.next("b")
            cleanup.add(bridge)
            Shell.ip("link add \(bridge) type bridge")
            var spec = veth()
            spec.link = bridge
            spec.vethVlanID = 10
            let error = failingSetup([spec], in: namespace)
            #expect(
                error?.description
                    == "lxc.net.0.veth.vlan.id: vlan_filtering is not enabled on \(bridge)")
        }
    }
}
