/// A small binary encoding for messages between SwiftLXC's own processes (the sync socket,
/// the command socket): little-endian integers and length-prefixed bytes. Both ends are the
/// same build, so it carries no schema; it only has to be exact and refuse short input.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }
    public mutating func write(_ value: Int) { write(Int64(value)) }
    public mutating func write(_ value: Int32) { write(Int64(value)) }
    public mutating func write(_ value: UInt32) { write(UInt64(value)) }
    public mutating func write(_ value: UInt) { write(UInt64(value)) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write(_ value: String) {
        write(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    public mutating func write(_ value: String?) {
        write(value != nil)
        if let value { write(value) }
    }

    /// Appends raw bytes after their count.
    public mutating func append(bytes values: [UInt8]) {
        write(UInt64(values.count))
        bytes.append(contentsOf: values)
    }

    public mutating func write(_ values: [String]) {
        write(UInt64(values.count))
        for value in values { write(value) }
    }

    public mutating func write<T>(_ values: [T], _ each: (inout WireWriter, T) -> Void) {
        write(UInt64(values.count))
        for value in values { each(&self, value) }
    }
}

/// A message that ended early or held an impossible value.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "malformed message: \(reason)" }
}

/// Reads what `WireWriter` wrote, in the same order.
public struct WireReader: Sendable {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func readUInt64() throws(WireError) -> UInt64 {
        guard offset + 8 <= bytes.count else { throw WireError("short integer at \(offset)") }
        var value: UInt64 = 0
        for index in (0..<8).reversed() {
            value = value << 8 | UInt64(bytes[offset + index])
        }
        offset += 8
        return value
    }

    public mutating func readInt64() throws(WireError) -> Int64 {
        Int64(bitPattern: try readUInt64())
    }

    public mutating func readInt() throws(WireError) -> Int { Int(try readInt64()) }

    public mutating func readInt32() throws(WireError) -> Int32 {
        let value = try readInt64()
        guard let narrow = Int32(exactly: value) else { throw WireError("int32 out of range") }
        return narrow
    }

    public mutating func readUInt32() throws(WireError) -> UInt32 {
        let value = try readUInt64()
        guard let narrow = UInt32(exactly: value) else { throw WireError("uint32 out of range") }
        return narrow
    }

    public mutating func readUInt() throws(WireError) -> UInt { UInt(try readUInt64()) }

    public mutating func readBool() throws(WireError) -> Bool {
        guard offset < bytes.count else { throw WireError("short bool at \(offset)") }
        defer { offset += 1 }
        return bytes[offset] != 0
    }

    public mutating func readString() throws(WireError) -> String {
        let count = try readUInt64()
        guard count <= UInt64(bytes.count - offset) else { throw WireError("short string") }
        let end = offset + Int(count)
        defer { offset = end }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    /// Length-prefixed raw bytes (the writer appends a UInt64 count, then the bytes).
    public mutating func readBytes() throws(WireError) -> [UInt8] {
        let count = try readUInt64()
        guard count <= UInt64(bytes.count - offset) else { throw WireError("short bytes") }
        let end = offset + Int(count)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    public mutating func readOptionalString() throws(WireError) -> String? {
        try readBool() ? try readString() : nil
    }

    public mutating func readStrings() throws(WireError) -> [String] {
        try readArray { reader throws(WireError) in try reader.readString() }
    }

    public mutating func readArray<T>(_ each: (inout WireReader) throws(WireError) -> T)
        throws(WireError) -> [T]
    {
        let count = try readUInt64()
        // Every element takes at least one byte: a larger count is a lie.
        guard count <= UInt64(bytes.count - offset) else { throw WireError("short array") }
        var values: [T] = []
        values.reserveCapacity(Int(count))
        for _ in 0..<count { values.append(try each(&self)) }
        return values
    }
}
