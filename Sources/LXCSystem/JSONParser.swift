/// A JSON document (RFC 8259) as a tree, as `JSONParser` reads it.
///
/// Object members keep their document order, duplicates included; `subscript(key:)` gives
/// the last one, as Go's `encoding/json` (runc) does.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The last member named `key` of an object; nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// What kind of value this is, for messages: `a string`, `an object`, `null`.
    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// One `"key": value` member of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON number: whole numbers within 64 bits of either sign are kept exactly, however they
/// are written (`1000`, `1e3`, `1000.0`); anything else is a `Double`.
public enum JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// A non-negative integer up to `UInt64.max`.
    case unsigned(UInt64)
    /// A negative integer down to `Int64.min`.
    case negative(Int64)
    /// A finite double: a fraction, or a whole number beyond both 64-bit ranges.
    case double(Double)

    /// The number as `T` when it is an integer in `T`'s range; nil otherwise (a `double` is
    /// never one: integers within 64 bits are `unsigned` or `negative` however written).
    public func exactly<T: FixedWidthInteger>(_ type: T.Type) -> T? {
        switch self {
        case .unsigned(let value): T(exactly: value)
        case .negative(let value): T(exactly: value)
        case .double: nil
        }
    }

    public var description: String {
        switch self {
        case .unsigned(let value): "\(value)"
        case .negative(let value): "\(value)"
        case .double(let value): "\(value)"
        }
    }
}

/// Malformed JSON: where (byte offset, and line and column counted from 1, columns in bytes)
/// and what was wrong.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var line: Int
    public var column: Int
    public var reason: String

    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes, without Foundation.
///
/// Strings must be valid UTF-8 without raw control characters; `\u` escapes must pair their
/// surrogates. Numbers follow the RFC grammar (no leading zeros, no `+`, no `NaN`). A leading
/// UTF-8 byte order mark is skipped, as the RFC allows. Nesting deeper than `maximumDepth`
/// is refused rather than exhausting the stack.
public struct JSONParser {
    public static let maximumDepth = 512

    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses one complete document; only whitespace may follow it.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else {
            throw parser.fail("unexpected \(parser.describe(parser.index)) after the document")
        }
        return value
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw fail("unexpected end of input, expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected \(describe(index)), expected a value")
        }
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= Self.maximumDepth else {
            throw fail("nesting deeper than \(Self.maximumDepth) levels")
        }
        index += 1
        var members: [JSONMember] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw fail("unexpected \(describe(index)), expected a member name in quotes")
            }
            let key = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw fail("unexpected \(describe(index)), expected ':' after a member name")
            }
            index += 1
            members.append(JSONMember(key: key, value: try value(depth: depth)))
            skipWhitespace()
            guard index < bytes.count else {
                throw fail("unexpected end of input, expected ',' or '}' in an object")
            }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            } else {
                throw fail("unexpected \(describe(index)), expected ',' or '}' in an object")
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= Self.maximumDepth else {
            throw fail("nesting deeper than \(Self.maximumDepth) levels")
        }
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            items.append(try value(depth: depth))
            skipWhitespace()
            guard index < bytes.count else {
                throw fail("unexpected end of input, expected ',' or ']' in an array")
            }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            } else {
                throw fail("unexpected \(describe(index)), expected ',' or ']' in an array")
            }
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue)
        throws(JSONSyntaxError) -> JSONValue
    {
        for expected in word.utf8 {
            guard index < bytes.count, bytes[index] == expected else {
                throw fail("unexpected \(describe(index)), expected \(word)")
            }
            index += 1
        }
        return value
    }

    /// Reads a string from its opening quote. Runs without escapes are taken as they are;
    /// the whole string is checked to be UTF-8 once at the end.
    private mutating func string() throws(JSONSyntaxError) -> String {
        let opening = index
        index += 1
        var start = index
        var unescaped: [UInt8] = []
        var escaped = false
        var ascii = true
        while true {
            guard index < bytes.count else {
                index = opening
                throw fail("unterminated string")
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw fail("control character \(describe(index)) in a string") }
            if byte >= 0x80 { ascii = false }
            if byte == UInt8(ascii: "\\") {
                unescaped.append(contentsOf: bytes[start..<index])
                escaped = true
                try escape(into: &unescaped)
                start = index
                continue
            }
            index += 1
        }
        defer { index += 1 }
        if !escaped {
            if ascii { return String(decoding: bytes[start..<index], as: UTF8.self) }
            guard let text = String(validating: bytes[start..<index], as: UTF8.self) else {
                throw invalidUTF8(from: start)
            }
            return text
        }
        unescaped.append(contentsOf: bytes[start..<index])
        guard let text = String(validating: unescaped, as: UTF8.self) else {
            throw invalidUTF8(from: opening + 1)
        }
        return text
    }

    /// Reads one escape from its backslash and appends its UTF-8 bytes.
    private mutating func escape(into out: inout [UInt8]) throws(JSONSyntaxError) {
        let backslash = index
        index += 1
        guard index < bytes.count else {
            index = backslash
            throw fail("unterminated escape in a string")
        }
        let letter = bytes[index]
        index += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(letter)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(escapeAt: backslash)
            if (0xDC00...0xDFFF).contains(scalar) {
                index = backslash
                throw fail("unpaired low surrogate \\u\(hexText(scalar)) in a string")
            }
            if (0xD800...0xDBFF).contains(scalar) {
                let high = scalar
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                else {
                    index = backslash
                    throw fail("unpaired high surrogate \\u\(hexText(high)) in a string")
                }
                let second = index
                index += 2
                let low = try hex4(escapeAt: second)
                guard (0xDC00...0xDFFF).contains(low) else {
                    index = backslash
                    throw fail("unpaired high surrogate \\u\(hexText(high)) in a string")
                }
                scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            appendUTF8(scalar, to: &out)
        default:
            index = backslash
            throw fail("invalid escape \\\(printable(letter)) in a string")
        }
    }

    private mutating func hex4(escapeAt backslash: Int) throws(JSONSyntaxError) -> UInt32 {
        var scalar: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count, let digit = hexValue(bytes[index]) else {
                index = backslash
                throw fail("\\u escape needs four hex digits")
            }
            scalar = scalar << 4 | digit
            index += 1
        }
        return scalar
    }

    private func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private func hexText(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Reads a number. One that is an integer within 64 bits, however written (`1e3`,
    /// `1.50e2`), is computed exactly from its digits; the rest goes through `Double`'s parser.
    private mutating func number() throws(JSONSyntaxError) -> JSONNumber {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let integerStart = index
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw fail("unexpected \(describe(index)), expected a digit")
        }
        if bytes[index] == UInt8(ascii: "0"), index + 1 < bytes.count, isDigit(bytes[index + 1]) {
            throw fail("a number cannot have a leading zero")
        }
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        let integerEnd = index
        var fraction = index..<index
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            try digits(after: "'.'")
            fraction = fractionStart..<index
        }
        var exponent = 0
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            var sign = 1
            if index < bytes.count,
                bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")
            {
                if bytes[index] == UInt8(ascii: "-") { sign = -1 }
                index += 1
            }
            let exponentStart = index
            try digits(after: "an exponent")
            // Saturating keeps absurd exponents from overflowing; they are not integers anyway.
            for byte in bytes[exponentStart..<index] {
                exponent = min(exponent * 10 + Int(byte &- UInt8(ascii: "0")), 100_000)
            }
            exponent *= sign
        }
        if let magnitude = integer(integerStart..<integerEnd, fraction, exponent: exponent) {
            if !negative || magnitude == 0 { return .unsigned(magnitude) }
            if magnitude <= UInt64(Int64.max) + 1 {
                return .negative(Int64(bitPattern: 0 &- magnitude))
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            index = start
            throw fail("number \(text) is out of range")
        }
        return .double(value)
    }

    /// The value of the digits of `integerPart` followed by those of `fraction`, times
    /// 10^(`exponent` - `fraction.count`), when it is a whole number that fits in 64 bits.
    private func integer(_ integerPart: Range<Int>, _ fraction: Range<Int>, exponent: Int)
        -> UInt64?
    {
        func digit(_ number: Int) -> UInt64 {
            let position =
                number < integerPart.count
                ? integerPart.lowerBound + number : fraction.lowerBound + number - integerPart.count
            return UInt64(bytes[position] &- UInt8(ascii: "0"))
        }
        var count = integerPart.count + fraction.count
        var scale = exponent - fraction.count
        // Digits that end up behind the decimal point must all be zeros.
        while scale < 0, count > 0, digit(count - 1) == 0 {
            count -= 1
            scale += 1
        }
        if scale < 0 { return count == 0 ? 0 : nil }
        var magnitude: UInt64 = 0
        for number in 0..<count {
            let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(digit(number))
            if overflow || carry { return nil }
            magnitude = sum
        }
        if magnitude == 0 { return 0 }
        for _ in 0..<scale {
            let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            magnitude = times10
        }
        return magnitude
    }

    private mutating func digits(after what: String) throws(JSONSyntaxError) {
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw fail("unexpected \(describe(index)), expected a digit after \(what)")
        }
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The byte at `position` for a message: `'x'` when printable ASCII, else its hex.
    private func describe(_ position: Int) -> String {
        guard position < bytes.count else { return "end of input" }
        let byte = bytes[position]
        return (0x21..<0x7F).contains(byte) ? "'\(printable(byte))'" : "byte 0x\(hexByte(byte))"
    }

    private func printable(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "0x" + hexByte(byte)
    }

    private func hexByte(_ byte: UInt8) -> String {
        (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
    }

    /// The first byte of the string from `start` that breaks UTF-8, for the error position.
    private func invalidUTF8(from start: Int) -> JSONSyntaxError {
        var position = start
        while position < index {
            let end = min(position + 4, index)
            var valid = false
            for length in 1...4 where position + length <= end {
                if String(validating: bytes[position..<position + length], as: UTF8.self) != nil {
                    position += length
                    valid = true
                    break
                }
            }
            if !valid { break }
        }
        return error(at: position, "invalid UTF-8 in a string")
    }

    private func fail(_ reason: String) -> JSONSyntaxError { error(at: index, reason) }

    private func error(at position: Int, _ reason: String) -> JSONSyntaxError {
        var line = 1
        var lineStart = 0
        for offset in 0..<min(position, bytes.count) where bytes[offset] == 0x0A {
            line += 1
            lineStart = offset + 1
        }
        return JSONSyntaxError(
            offset: position, line: line, column: position - lineStart + 1, reason: reason)
    }
}
