import Glibc
import LXCSystem
import Testing

@testable import LXCNetwork

/// Real devices in real namespaces. Serialized: the failure tests compare the host's whole
/// `ip -o link` before and after, which another test's devices would disturb.
extension HostNetworkTests {
    @Suite struct SetupTests {
        let context = NetworkContext(containerName: "swtest")

        @Test func vethPairPingsBothWaysAndRoutesComeAndGo() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let hostName = Names.next("h")
            cleanup.add(hostName)

            var spec = NetworkSpec(index: 0, type: "veth")
            spec.up = true
            spec.vethPair = hostName
            spec.name = "eth0"
            spec.hwaddr = "02:00:00:xx:xx:xx"
            spec.mtu = 1400
            spec.ipv4Addresses = ["10.201.0.2/24"]
            spec.ipv6Addresses = ["fd00:201::2/64"]
            spec.ipv4Gateway = "10.201.0.1"
            spec.vethIPv4Routes = ["198.51.100.0/24"]
            spec.vethIPv6Routes = ["2001:db8:201::/64"]
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            let devices = try setup.setup()
            #expect(devices.first?.hostName == hostName)
            #expect(devices.first?.name == "eth0")

            Shell.ip("addr add 10.201.0.1/24 dev \(hostName)")
            Shell.ip("addr add fd00:201::1/64 dev \(hostName) nodad")
            let fromContainer = try namespace.run([
                "/bin/busybox", "ping", "-c1", "-W1", "10.201.0.1",
            ])
            #expect(fromContainer.status == .exited(0), "\(fromContainer.output)")
            let toContainer = try Shell.run(["/bin/busybox", "ping", "-c1", "-W1", "10.201.0.2"])
            #expect(toContainer.status == .exited(0), "\(toContainer.output)")
            let toContainer6 = try Shell.run(["/bin/busybox", "ping", "-c1", "-W1", "fd00:201::2"])
            #expect(toContainer6.status == .exited(0), "\(toContainer6.output)")

            let inside = try namespace.run(["/sbin/ip", "-o", "link", "show", "eth0"]).output
            #expect(inside.contains("mtu 1400"))
            #expect(inside.contains("link/ether 02:00:00:"))
            let defaultRoute = try namespace.run(["/sbin/ip", "route", "show", "default"]).output
            #expect(defaultRoute.contains("default via 10.201.0.1 dev eth0"))
            // iproute2 leaves out `proto boot`, the default protocol.
            #expect(Shell.ip("route").contains("198.51.100.0/24 dev \(hostName) scope link"))
            #expect(Shell.ip("-6 route").contains("2001:db8:201::/64 dev \(hostName) metric"))

            let names = try NetworkInterfaces.interfaces(in: namespace.fd)
            #expect(names == ["lo", "eth0"])
            let ips = try NetworkInterfaces.addresses(in: namespace.fd)
            #expect(ips == ["10.201.0.2", "fd00:201::2"])
            let v6 = try NetworkInterfaces.addresses(
                in: namespace.fd, interface: "eth0", family: "inet6")
            #expect(v6 == ["fd00:201::2"])

            #expect(setup.teardown().isEmpty)
            #expect(!Shell.ip("-o link").contains(hostName))
            #expect(!Shell.ip("route").contains("198.51.100.0/24"))
            #expect(!Shell.ip("-6 route").contains("2001:db8:201::/64"))
            let after = try namespace.run(["/sbin/ip", "-o", "link"]).output
            #expect(!after.contains("eth0"))
        }

        @Test func bridgeAttachWithAutomaticGateway() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let bridge = Names.next("b")
            let hostName = Names.next("h")
            cleanup.add(bridge)
            cleanup.add(hostName)
            Shell.ip("link add \(bridge) type bridge")
            Shell.ip("addr add 10.202.0.1/24 dev \(bridge)")
            Shell.ip("link set \(bridge) up")

            var spec = NetworkSpec(index: 0, type: "veth")
            spec.up = true
            spec.link = bridge
            spec.vethPair = hostName
            spec.ipv4Addresses = ["10.202.0.2/24"]
            spec.ipv4Gateway = "auto"
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            try setup.setup()

            #expect(Shell.ip("-o link show \(hostName)").contains("master \(bridge)"))
            let ping = try namespace.run(["/bin/busybox", "ping", "-c1", "-W1", "10.202.0.1"])
            #expect(ping.status == .exited(0), "\(ping.output)")
            let route = try namespace.run(["/sbin/ip", "route", "show", "default"]).output
            #expect(route.contains("default via 10.202.0.1 dev eth0"), "\(route)")

            #expect(setup.teardown().isEmpty)
            #expect(!Shell.ip("-o link").contains(hostName))
        }

        @Test(.enabled(if: KernelSupport.bridgeVLANFiltering, "kernel lacks bridge vlan filtering"))
        func bridgePortVLANs() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let bridge = Names.next("b")
            let hostName = Names.next("h")
            cleanup.add(bridge)
            cleanup.add(hostName)
            Shell.ip("link add \(bridge) type bridge vlan_filtering 1")

            var spec = NetworkSpec(index: 0, type: "veth")
            spec.link = bridge
            spec.vethPair = hostName
            spec.vethVlanID = 10
            spec.vethTaggedVlanIDs = [20, 30]
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            try setup.setup()
            let vlans =
                (try? Shell.run(["/sbin/bridge", "vlan", "show", "dev", hostName]).output) ?? ""
            #expect(vlans.contains("10 PVID Egress Untagged"), "\(vlans)")
            #expect(vlans.contains("20") && vlans.contains("30"))
            #expect(!vlans.contains(" 1 PVID"), "\(vlans)")
            #expect(setup.teardown().isEmpty)
        }

        @Test func macvlanOnAParentWithMTUAndDeviceGateway() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let parent = cleanup.hostPair(Names.next("d"))

            var macvlan = NetworkSpec(index: 0, type: "macvlan")
            macvlan.link = parent
            macvlan.macvlanMode = "bridge"
            macvlan.name = "mv0"
            macvlan.mtu = 1400
            macvlan.up = true
            macvlan.ipv4Addresses = ["10.203.0.2/24"]
            macvlan.ipv4Gateway = "dev"
            var second = NetworkSpec(index: 1, type: "macvlan")
            second.link = parent
            let setup = try NetworkSetup(
                specs: [macvlan, second], netns: namespace.fd, context: context)
            let devices = try setup.setup()
            #expect(devices.map(\.name) == ["mv0", "eth0"])

            let mv = try namespace.run(["/sbin/ip", "-d", "-o", "link", "show", "mv0"]).output
            #expect(mv.contains("macvlan mode bridge"), "\(mv)")
            #expect(mv.contains("mtu 1400"))
            let eth0 = try namespace.run(["/sbin/ip", "-d", "-o", "link", "show", "eth0"]).output
            #expect(eth0.contains("macvlan mode private"), "\(eth0)")
            let route = try namespace.run(["/sbin/ip", "route", "show", "default"]).output
            #expect(route.contains("default dev mv0 scope link"), "\(route)")

            #expect(setup.teardown().isEmpty)
            let after = try namespace.run(["/sbin/ip", "-o", "link"]).output
            #expect(!after.contains("mv0") && !after.contains("eth0"))
        }

        @Test(
            .enabled(if: KernelSupport.ipvlan && KernelSupport.vlan, "kernel lacks ipvlan or vlan"))
        func ipvlanAndVlanOnAParent() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let parent = cleanup.hostPair(Names.next("d"))

            var ipvlan = NetworkSpec(index: 1, type: "ipvlan")
            ipvlan.link = parent
            ipvlan.ipvlanMode = "l2"
            ipvlan.ipvlanIsolation = "private"
            ipvlan.name = "ipv0"
            var vlan = NetworkSpec(index: 2, type: "vlan")
            vlan.link = parent
            vlan.vlanID = 42
            let setup = try NetworkSetup(
                specs: [ipvlan, vlan], netns: namespace.fd, context: context)
            let devices = try setup.setup()
            #expect(devices.map(\.name) == ["ipv0", "eth0"])

            func details(_ name: String) throws -> String {
                try namespace.run(["/sbin/ip", "-d", "-o", "link", "show", name]).output
            }
            #expect(try details("ipv0").contains("ipvlan"))
            #expect(try details("eth0").contains("vlan protocol 802.1Q id 42"))
            #expect(setup.teardown().isEmpty)
        }

        @Test func physicalDeviceMovesInAndComesBack() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let device = cleanup.hostPair(Names.next("p"))
            let before = Shell.ip("-o link show \(device)")

            var spec = NetworkSpec(index: 0, type: "phys")
            spec.link = device
            spec.name = "eth5"
            spec.mtu = 1300
            spec.up = true
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            try setup.setup()
            #expect(!Shell.hostHas(device))
            let inside = try namespace.run(["/sbin/ip", "-o", "link", "show", "eth5"]).output
            #expect(inside.contains("mtu 1300"), "\(inside)")

            #expect(setup.teardown().isEmpty)
            let after = Shell.ip("-o link show \(device)")
            #expect(after == before)
        }

        @Test func attachAndDetachAHostInterface() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let device = cleanup.hostPair(Names.next("a"))

            try NetworkInterfaces.attach(device, as: "eth9", into: namespace.fd)
            #expect(!Shell.hostHas(device))
            #expect(try NetworkInterfaces.interfaces(in: namespace.fd).contains("eth9"))

            try NetworkInterfaces.detach("eth9", as: device, from: namespace.fd)
            #expect(Shell.hostHas(device))
            #expect(try !NetworkInterfaces.interfaces(in: namespace.fd).contains("eth9"))
        }
    }
}

extension HostNetworkTests {
    @Suite struct RoutingModeTests {
        let context = NetworkContext(containerName: "swtest")

        @Test func routerModeAddsProxiesAndAddressRoutes() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let hostName = Names.next("h")
            cleanup.add(hostName)
            var spec = NetworkSpec(index: 0, type: "veth")
            spec.vethMode = "router"
            spec.vethPair = hostName
            spec.up = true
            spec.ipv4Addresses = ["10.206.0.2/32"]
            spec.ipv4Gateway = "169.254.0.1"
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            try setup.setup()

            #expect(Shell.ip("neigh show proxy").contains("169.254.0.1 dev \(hostName)"))
            #expect(Shell.ip("route").contains("10.206.0.2 dev \(hostName) scope link"))
            let forwarding = try FileContents.readText(
                "/proc/sys/net/ipv4/conf/\(hostName)/forwarding")
            #expect(forwarding.hasPrefix("1"))
            let route = try namespace.run(["/sbin/ip", "route", "show", "default"]).output
            #expect(route.contains("default via 169.254.0.1 dev eth0"), "\(route)")
            // The container resolves the gateway through the proxy entry, which the kernel
            // answers after a random delay of up to proxy_delay (0.8 s by default).
            let ping = try Shell.run(["/bin/busybox", "ping", "-c1", "-W3", "10.206.0.2"])
            #expect(ping.status == .exited(0), "\(ping.output)")

            #expect(setup.teardown().isEmpty)
            #expect(!Shell.ip("neigh show proxy").contains("169.254.0.1 dev \(hostName)"))
            #expect(!Shell.ip("route").contains("10.206.0.2"))
        }

        @Test func l2proxyEntriesOnTheLinkComeAndGo() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let parent = cleanup.hostPair(Names.next("d"))
            try FileContents.write("1", to: "/proc/sys/net/ipv4/conf/\(parent)/forwarding")
            var spec = NetworkSpec(index: 0, type: "macvlan")
            spec.link = parent
            spec.l2proxy = true
            spec.ipv4Addresses = ["10.207.0.2/24"]
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            try setup.setup()
            #expect(Shell.ip("neigh show proxy").contains("10.207.0.2 dev \(parent)"))
            #expect(setup.teardown().isEmpty)
            #expect(!Shell.ip("neigh show proxy").contains("10.207.0.2"))
        }

        @Test func l2proxyNeedsForwardingOnTheLink() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let parent = cleanup.hostPair(Names.next("d"))
            // New devices inherit the host's forwarding setting; make sure it is off here.
            try FileContents.write("0", to: "/proc/sys/net/ipv4/conf/\(parent)/forwarding")
            var spec = NetworkSpec(index: 0, type: "macvlan")
            spec.link = parent
            spec.l2proxy = true
            spec.ipv4Addresses = ["10.207.0.2/24"]
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            defer { setup.teardown() }
            #expect {
                try setup.setup()
            } throws: { error in
                (error as? NetworkError)?.description
                    == "lxc.net.0.l2proxy = 1: needs net.ipv4.conf.\(parent).forwarding=1"
            }
        }

        @Test func emptyNetworkBringsUpLoopbackWithAnAddress() throws {
            let namespace = try TestNamespace()
            var spec = NetworkSpec(index: 0, type: "empty")
            spec.up = true
            spec.ipv4Addresses = ["127.0.0.2/8"]
            let setup = try NetworkSetup(specs: [spec], netns: namespace.fd, context: context)
            #expect(try setup.setup().first?.name == "lo")
            let lo = try namespace.run(["/sbin/ip", "-o", "addr", "show", "lo"]).output
            #expect(lo.contains("127.0.0.2/8"), "\(lo)")
            let link = try namespace.run(["/sbin/ip", "-o", "link", "show", "lo"]).output
            #expect(link.contains(",UP,"), "\(link)")
            #expect(setup.teardown().isEmpty)
        }

        @Test func upAndDownScriptsGetLXCArguments() throws {
            let namespace = try TestNamespace()
            let cleanup = HostCleanup()
            let hostName = Names.next("h")
            cleanup.add(hostName)
            let log = "/tmp/\(hostName).log"
            let script = "/tmp/\(hostName).sh"
            try FileContents.write(
                "#!/bin/sh\necho \"$* $LXC_HOOK_TYPE $LXC_NET_PEER\" >> \(log)\n", to: script,
                flags: O_WRONLY | O_CREAT | O_TRUNC)
            chmod(script, 0o755)
            defer {
                unlink(script)
                unlink(log)
            }
            var spec = NetworkSpec(index: 0, type: "veth")
            spec.vethPair = hostName
            spec.scriptUp = script
            spec.scriptDown = script
            let setup = try NetworkSetup(
                specs: [spec], netns: namespace.fd,
                context: NetworkContext(containerName: "web", hookVersion: 1))
            try setup.setup()
            #expect(setup.teardown().isEmpty)
            let lines = try FileContents.readText(log).split(separator: "\n").map(String.init)
            #expect(
                lines == [
                    "web net up veth \(hostName) up \(hostName)",
                    "web net down veth \(hostName) down \(hostName)",
                ])
        }
    }
}
