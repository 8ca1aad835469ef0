import Testing

@testable import LXCNetwork

/// Reads hex text (`"68 00 00 00 …"`, whitespace ignored) as bytes.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16) ?? 0xee)
        index = next
    }
    return bytes
}

@Suite struct GoldenMessageTests {
    @Test func constantsMatchTheSystemHeaders() {
        for (name, ours, headers) in Netlink.headerValues {
            #expect(ours == headers, "\(name)")
        }
    }

    @Test func alignmentRoundsUpToFourBytes() {
        #expect([0, 1, 3, 4, 5, 8].map(Netlink.align) == [0, 4, 4, 4, 8, 8])
    }

    @Test func vethWithPeerInNamespaceFD() {
        let message = RouteMessage.newVeth(
            host: .init(name: "veth0"), peer: .init(name: "eth0", namespaceFD: 5))
        let expected = hex(
            """
            68000000 1000 0506 01000000 00000000
            00 00 0000 00000000 00000000 00000000
            0a00 0300 76657468 30000000
            3c00 1200
              0900 0100 76657468 00000000
              2c00 0200
                2800 0100
                  00 00 0000 00000000 00000000 00000000
                  0900 0300 65746830 00000000
                  0800 1c00 05000000
            """)
        #expect(message.encoded(sequence: 1) == expected)
    }

    @Test func ipv4AddressWithBroadcast() throws {
        let network = try #require(IPNetwork("10.0.3.2/24"))
        let message = RouteMessage.newAddress(
            network, broadcast: IPAddress("10.0.3.255"), index: 7, label: "eth0")
        let expected = hex(
            """
            30000000 1400 0506 02000000 00000000
            02 18 00 00 07000000
            0800 0200 0a000302
            0800 0100 0a000302
            0800 0400 0a0003ff
            """)
        #expect(message.encoded(sequence: 2) == expected)
    }

    @Test func ipv6AddressWithoutDuplicateDetection() throws {
        let network = try #require(IPNetwork("fd00::2/64"))
        let message = RouteMessage.newAddress(network, index: 7, label: "eth0")
        let expected = hex(
            """
            48000000 1400 0506 03000000 00000000
            0a 40 00 00 07000000
            1400 0200 fd000000 00000000 00000000 00000002
            1400 0100 fd000000 00000000 00000000 00000002
            0800 0800 02000000
            """)
        #expect(message.encoded(sequence: 3) == expected)
    }

    @Test func hostRouteAsLXCSendsIt() throws {
        let destination = try #require(IPNetwork("198.51.100.0/24"))
        let message = RouteMessage.route(
            add: true, destination: destination, family: Netlink.AF_INET,
            scope: Netlink.RT_SCOPE_LINK, index: 9, label: "vethA")
        // table main (254), proto boot (3), scope link (253), type unicast (1)
        let expected = hex(
            """
            2c000000 1800 0506 04000000 00000000
            02 18 00 00 fe 03 fd 01 00000000
            0800 0100 c6336400
            0800 0400 09000000
            """)
        #expect(message.encoded(sequence: 4) == expected)
    }

    @Test func bridgeAttachSetsMaster() {
        let message = RouteMessage.setLink(index: 9, label: "vethA", .init(master: 4))
        let expected = hex(
            """
            28000000 1000 0500 05000000 00000000
            00 00 0000 09000000 00000000 00000000
            0800 0a00 04000000
            """)
        #expect(message.encoded(sequence: 5) == expected)
    }

    @Test func bringingUpSetsTheFlagAndItsMask() {
        let message = RouteMessage.setLink(index: 3, label: "eth0", .init(up: true))
        let bytes = message.encoded(sequence: 1)
        #expect(Array(bytes[16..<32]) == hex("00 00 0000 03000000 01000000 01000000"))
    }

    @Test func untaggedBridgeVLANIsThePortPVID() {
        let message = RouteMessage.bridgeVLAN(
            add: true, index: 9, vlan: 10, tagged: false, label: "vethA")
        let expected = hex(
            """
            34000000 1300 0500 01000000 00000000
            07 00 0000 09000000 00000000 00000000
            1400 1a00
              0600 0000 0100 0000
              0800 0200 0600 0a00
            """)
        #expect(message.encoded(sequence: 1) == expected)
    }
}

@Suite struct AcknowledgementParsingTests {
    /// An `NLMSG_ERROR` datagram answering sequence 1: header, errno, the echoed header of a
    /// 0x68-byte `RTM_NEWLINK`, and `attributes`.
    func errorDatagram(error: Int32, flags: UInt16, echo: [UInt8] = [], attributes: [UInt8])
        -> [UInt8]
    {
        var payload: [UInt8] = []
        withUnsafeBytes(of: error) { payload.append(contentsOf: $0) }
        payload += hex("68000000 1000 0506 01000000 00000000") + echo + attributes
        var datagram: [UInt8] = []
        withUnsafeBytes(of: UInt32(16 + payload.count)) { datagram.append(contentsOf: $0) }
        withUnsafeBytes(of: Netlink.NLMSG_ERROR) { datagram.append(contentsOf: $0) }
        withUnsafeBytes(of: flags) { datagram.append(contentsOf: $0) }
        datagram += hex("01000000 00000000") + payload
        return datagram
    }

    @Test func extendedErrorCarriesTheKernelText() throws {
        // "Unknown device type" + NUL is 20 bytes: rta_len 24. Then NLMSGERR_ATTR_OFFS = 48.
        let text = Array("Unknown device type".utf8) + [0]
        let attributes = hex("1800 0100") + text + hex("0800 0200 30000000")
        let datagram = errorDatagram(
            error: -95, flags: Netlink.NLM_F_CAPPED | Netlink.NLM_F_ACK_TLVS,
            attributes: attributes)

        let messages = try NetlinkMessage.parse(datagram[...])
        #expect(messages.count == 1)
        let ack = try NetlinkAcknowledgement(payload: messages[0].payload, flags: messages[0].flags)
        #expect(ack.error == -95)
        #expect(ack.requestSequence == 1)
        #expect(ack.kernelMessage == "Unknown device type")
        #expect(ack.attributeOffset == 48)

        let error = NetlinkError.kernel(
            operation: "RTM_NEWLINK veth0", errno: .EOPNOTSUPP, message: ack.kernelMessage)
        #expect(
            error.description
                == "RTM_NEWLINK veth0: operation not supported (kernel: Unknown device type)")
    }

    @Test func uncappedAcknowledgementSkipsTheEchoedRequest() throws {
        // Without NLM_F_CAPPED the whole request follows its header: 0x68 - 16 more bytes.
        let echo = [UInt8](repeating: 0xaa, count: 0x68 - 16)
        let text = Array("File exists".utf8) + [0]
        let attributes = hex("1000 0100") + text
        let datagram = errorDatagram(
            error: -17, flags: Netlink.NLM_F_ACK_TLVS, echo: echo, attributes: attributes)
        let message = try #require(try NetlinkMessage.parse(datagram[...]).first)
        let ack = try NetlinkAcknowledgement(payload: message.payload, flags: message.flags)
        #expect(ack.error == -17)
        #expect(ack.kernelMessage == "File exists")
    }

    @Test func plainAcknowledgementIsSuccess() throws {
        let datagram = errorDatagram(error: 0, flags: Netlink.NLM_F_CAPPED, attributes: [])
        let message = try #require(try NetlinkMessage.parse(datagram[...]).first)
        let ack = try NetlinkAcknowledgement(payload: message.payload, flags: message.flags)
        #expect(ack.error == 0)
        #expect(ack.kernelMessage == nil)
    }

    @Test func lengthsThatOverrunAreRefused() {
        var datagram = errorDatagram(error: 0, flags: 0, attributes: [])
        datagram[0] = 0xff
        #expect(throws: NetlinkError.self) { try NetlinkMessage.parse(datagram[...]) }

        let attribute = hex("2000 0100 41424344")
        #expect(throws: NetlinkError.self) { try NetlinkAttribute.parse(attribute[...]) }

        let short = errorDatagram(error: 0, flags: 0, attributes: [])
        #expect(throws: NetlinkError.self) {
            try NetlinkAcknowledgement(payload: Array(short[16..<24]), flags: 0)
        }
    }

    @Test func nestedAttributesRoundTrip() throws {
        let message = RouteMessage.newVeth(
            host: .init(name: "vethA", mtu: 1400), peer: .init(name: "eth0", namespaceFD: 7))
        let bytes = message.encoded(sequence: 1)
        let top = try NetlinkAttribute.parse(bytes[32...])
        #expect(top.map(\.type) == [Netlink.IFLA_IFNAME, Netlink.IFLA_MTU, Netlink.IFLA_LINKINFO])
        #expect(top[0].string == "vethA")
        #expect(top[1].uint32 == 1400)
        let info = try NetlinkAttribute.parse(top[2].payload)
        #expect(info[0].string == "veth")
        let data = try NetlinkAttribute.parse(info[1].payload)
        let peer = data[0].payload
        let peerAttributes = try NetlinkAttribute.parse(peer.dropFirst(Netlink.IFINFOMSG_LEN))
        #expect(peerAttributes.map(\.string).first == "eth0")
        #expect(peerAttributes.last?.uint32 == 7)
    }
}

@Suite struct AddressParsingTests {
    @Test func networksParseWithDefaults() throws {
        #expect(IPNetwork("10.0.0.1")?.description == "10.0.0.1/32")
        #expect(IPNetwork("fd00::1", defaultPrefix: 64)?.description == "fd00::1/64")
        #expect(IPNetwork("10.0.0.1/33") == nil)
        #expect(IPNetwork("10.0.0.1/x") == nil)
        #expect(IPNetwork("fd00::1/24", ipv4: true) == nil)
        #expect(IPNetwork("300.1.1.1/24") == nil)
        let network = try #require(IPNetwork("10.1.2.3/20"))
        #expect(network.address.settingHostBits(after: 20).description == "10.1.15.255")
    }

    @Test func macAddressesRandomiseX() throws {
        let mac = try #require(MACAddress("00:16:3e:xx:xx:xx"))
        #expect(Array(mac.bytes[0..<3]) == [0x00, 0x16, 0x3e])
        #expect(MACAddress("00:16:3e:12:34") == nil)
        #expect(MACAddress("00:16:3e:12:34:zz") == nil)
        #expect(MACAddress("02:00:00:00:00:0a")?.description == "02:00:00:00:00:0a")
    }
}
