/// One netlink request under construction: a `nlmsghdr`, a family header and `rtattr`s.
///
/// Integers are written in host byte order, as netlink expects. Each attribute is padded to
/// 4 bytes (`RTA_ALIGN`); a nested attribute's length is patched when its body is done. The
/// header's length and sequence number are filled in by `encoded(sequence:)`.
public struct NetlinkRequest: Sendable, Equatable {
    /// The message so far, header included.
    public private(set) var bytes: [UInt8]
    /// `nlmsg_type`, such as `Netlink.RTM_NEWLINK`.
    public let type: UInt16
    /// A short text naming the request and its object for errors: `RTM_NEWLINK veth0`.
    public var operation: String

    /// Starts a message of `type` with `flags` (`Netlink.NLM_F_REQUEST` is always added).
    public init(type: UInt16, flags: UInt16, operation: String) {
        self.type = type
        self.operation = operation
        bytes = []
        bytes.reserveCapacity(128)
        append(UInt32(0))  // nlmsg_len, set at encoding
        append(type)
        append(flags | Netlink.NLM_F_REQUEST)
        append(UInt32(0))  // nlmsg_seq, set at encoding
        append(UInt32(0))  // nlmsg_pid: 0 lets the kernel pick the port
    }

    /// `nlmsg_flags` as built.
    public var flags: UInt16 {
        UInt16(bytes[6]) | UInt16(bytes[7]) << 8
    }

    /// Replaces `nlmsg_flags`.
    mutating func setFlags(_ flags: UInt16) {
        Self.store(flags, into: &bytes, at: 6)
    }

    /// The finished message: `nlmsg_len` and `nlmsg_seq` patched in.
    public func encoded(sequence: UInt32) -> [UInt8] {
        var result = bytes
        Self.store(UInt32(result.count), into: &result, at: 0)
        Self.store(sequence, into: &result, at: 8)
        return result
    }

    // MARK: Raw appends

    /// Appends a fixed-width integer in host byte order.
    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    /// Appends raw bytes, then zero padding up to the next 4-byte boundary.
    public mutating func appendPadded(_ payload: [UInt8]) {
        bytes.append(contentsOf: payload)
        padToAlignment()
    }

    private mutating func padToAlignment() {
        let padding = Netlink.align(bytes.count) - bytes.count
        if padding > 0 { bytes.append(contentsOf: repeatElement(0, count: padding)) }
    }

    // MARK: Family headers

    /// `struct ifinfomsg`: family, type, index, flags and the mask of flags to change.
    public mutating func appendInterfaceInfo(
        family: UInt8 = Netlink.AF_UNSPEC, type: UInt16 = 0, index: Int32 = 0,
        flags: UInt32 = 0, change: UInt32 = 0
    ) {
        append(family)
        append(UInt8(0))
        append(type)
        append(index)
        append(flags)
        append(change)
    }

    /// `struct ifaddrmsg`.
    public mutating func appendAddressInfo(
        family: UInt8, prefixLength: UInt8, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32
    ) {
        append(family)
        append(prefixLength)
        append(flags)
        append(scope)
        append(index)
    }

    /// `struct rtmsg`.
    public mutating func appendRouteInfo(
        family: UInt8, destinationLength: UInt8, table: UInt8, protocol: UInt8, scope: UInt8,
        type: UInt8, flags: UInt32 = 0
    ) {
        append(family)
        append(destinationLength)
        append(UInt8(0))  // rtm_src_len
        append(UInt8(0))  // rtm_tos
        append(table)
        append(`protocol`)
        append(scope)
        append(type)
        append(flags)
    }

    /// `struct ndmsg`.
    public mutating func appendNeighbourInfo(
        family: UInt8, index: Int32, state: UInt16, flags: UInt8, type: UInt8 = 0
    ) {
        append(family)
        append(UInt8(0))
        append(UInt16(0))
        append(index)
        append(state)
        append(flags)
        append(type)
    }

    // MARK: Attributes

    /// An `rtattr` with `payload`, padded.
    public mutating func attribute(_ type: UInt16, _ payload: [UInt8]) {
        append(UInt16(Netlink.RTA_HDRLEN + payload.count))
        append(type)
        appendPadded(payload)
    }

    /// An `rtattr` holding one integer in host byte order.
    public mutating func attribute<T: FixedWidthInteger>(_ type: UInt16, integer value: T) {
        attribute(type, withUnsafeBytes(of: value) { Array($0) })
    }

    /// An `rtattr` holding a NUL-terminated string, as the kernel's `NLA_STRING` policy wants.
    public mutating func attribute(_ type: UInt16, string: String) {
        attribute(type, Array(string.utf8) + [0])
    }

    /// An `rtattr` whose payload is the attributes (or headers) `body` appends. Its length is
    /// patched once `body` returns, so it covers everything nested inside.
    public mutating func nested(_ type: UInt16, _ body: (inout NetlinkRequest) -> Void) {
        let start = bytes.count
        append(UInt16(0))
        append(type)
        body(&self)
        padToAlignment()
        Self.store(UInt16(bytes.count - start), into: &bytes, at: start)
    }

    private static func store<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at: Int)
    {
        withUnsafeBytes(of: value) { raw in
            for (offset, byte) in raw.enumerated() { bytes[at + offset] = byte }
        }
    }
}

/// One message received from the kernel: its header fields and its payload.
public struct NetlinkMessage: Sendable, Equatable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var portID: UInt32
    /// The bytes after the `nlmsghdr`, up to `nlmsg_len`.
    public var payload: [UInt8]

    public init(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// Splits a datagram into messages, checking every length against what was received.
    public static func parse(_ datagram: ArraySlice<UInt8>) throws(NetlinkError) -> [NetlinkMessage]
    {
        var messages: [NetlinkMessage] = []
        var offset = datagram.startIndex
        while datagram.endIndex - offset >= Netlink.NLMSG_HDRLEN {
            let length = Int(datagram.load(UInt32.self, at: offset))
            guard length >= Netlink.NLMSG_HDRLEN, length <= datagram.endIndex - offset else {
                throw .malformed(
                    "netlink message of length \(length) in a datagram of "
                        + "\(datagram.count) bytes")
            }
            messages.append(
                NetlinkMessage(
                    type: datagram.load(UInt16.self, at: offset + 4),
                    flags: datagram.load(UInt16.self, at: offset + 6),
                    sequence: datagram.load(UInt32.self, at: offset + 8),
                    portID: datagram.load(UInt32.self, at: offset + 12),
                    payload: Array(datagram[(offset + Netlink.NLMSG_HDRLEN)..<(offset + length)])))
            offset += min(Netlink.align(length), datagram.endIndex - offset)
        }
        return messages
    }
}

/// One `rtattr` as received: its type (flags masked off), whether it was marked nested, and
/// its payload.
public struct NetlinkAttribute: Sendable, Equatable {
    public var type: UInt16
    public var payload: ArraySlice<UInt8>

    /// Splits `bytes` into attributes, checking each length. Padding after the last is allowed.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(NetlinkError) -> [NetlinkAttribute]
    {
        var attributes: [NetlinkAttribute] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= Netlink.RTA_HDRLEN {
            let length = Int(bytes.load(UInt16.self, at: offset))
            let type = bytes.load(UInt16.self, at: offset + 2) & Netlink.NLA_TYPE_MASK
            guard length >= Netlink.RTA_HDRLEN, length <= bytes.endIndex - offset else {
                throw .malformed("attribute \(type) of length \(length) overruns its message")
            }
            attributes.append(
                NetlinkAttribute(
                    type: type, payload: bytes[(offset + Netlink.RTA_HDRLEN)..<(offset + length)]))
            offset += min(Netlink.align(length), bytes.endIndex - offset)
        }
        return attributes
    }

    /// The payload as a string, up to its first NUL.
    public var string: String {
        let end = payload.firstIndex(of: 0) ?? payload.endIndex
        return String(decoding: payload[payload.startIndex..<end], as: UTF8.self)
    }

    /// The payload as a `UInt32`, or nil when it is not 4 bytes long.
    public var uint32: UInt32? {
        payload.count == 4 ? payload.load(UInt32.self, at: payload.startIndex) : nil
    }

    /// The payload as a `UInt8`, or nil when it is empty.
    public var uint8: UInt8? { payload.first }
}

/// What an `NLMSG_ERROR` message says: the (negative) errno, zero for an acknowledgement, and
/// with `NETLINK_EXT_ACK` the kernel's own text and the offset of the attribute it rejected.
public struct NetlinkAcknowledgement: Sendable, Equatable {
    /// 0 for success, else a negative errno, as `struct nlmsgerr` holds it.
    public var error: Int32
    /// The sequence number of the request it answers (from the echoed header).
    public var requestSequence: UInt32
    /// `NLMSGERR_ATTR_MSG`.
    public var kernelMessage: String?
    /// `NLMSGERR_ATTR_OFFS`: byte offset of the offending attribute in the request.
    public var attributeOffset: UInt32?

    public init(
        error: Int32, requestSequence: UInt32, kernelMessage: String? = nil,
        attributeOffset: UInt32? = nil
    ) {
        self.error = error
        self.requestSequence = requestSequence
        self.kernelMessage = kernelMessage
        self.attributeOffset = attributeOffset
    }

    /// Decodes the payload of an `NLMSG_ERROR` message with the message's `flags`.
    ///
    /// The payload is `struct nlmsgerr` (the errno and the request's header), then, unless
    /// `NLM_F_CAPPED` is set, the rest of the request; then, when `NLM_F_ACK_TLVS` is set,
    /// extended-ack attributes.
    public init(payload: [UInt8], flags: UInt16) throws(NetlinkError) {
        let bytes = payload[...]
        guard bytes.count >= 4 + Netlink.NLMSG_HDRLEN else {
            throw .malformed("acknowledgement of \(bytes.count) bytes")
        }
        error = bytes.load(Int32.self, at: 0)
        requestSequence = bytes.load(UInt32.self, at: 4 + 8)
        kernelMessage = nil
        attributeOffset = nil
        guard flags & Netlink.NLM_F_ACK_TLVS != 0 else { return }

        var start = 4 + Netlink.NLMSG_HDRLEN
        if flags & Netlink.NLM_F_CAPPED == 0 {
            let echoed = Int(bytes.load(UInt32.self, at: 4))
            guard echoed >= Netlink.NLMSG_HDRLEN, 4 + echoed <= bytes.count else {
                throw .malformed("acknowledgement echoes \(echoed) bytes of \(bytes.count)")
            }
            start = 4 + Netlink.align(echoed)
        }
        guard start <= bytes.count else { return }
        for attribute in try NetlinkAttribute.parse(bytes[start...]) {
            switch attribute.type {
            case Netlink.NLMSGERR_ATTR_MSG: kernelMessage = attribute.string
            case Netlink.NLMSGERR_ATTR_OFFS: attributeOffset = attribute.uint32
            default: break
            }
        }
    }
}

extension ArraySlice where Element == UInt8 {
    /// Reads a host-order integer at an absolute index; the caller has checked the bounds.
    func load<T: FixedWidthInteger>(_: T.Type, at index: Int) -> T {
        withUnsafeBytes { raw in
            raw.loadUnaligned(fromByteOffset: index - startIndex, as: T.self)
        }
    }
}
