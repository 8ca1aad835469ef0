import LXCSystem
import Testing

@Suite struct JSONParserTests {
    private func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test func everyEscapeDecodes() throws {
        let value = try parse(
            #""q\"b\\s\/b\bf\fn\nr\rt\tA\u0041e\u00e9E\u20ACg\uD83D\uDE00z\u0000""#)
        #expect(value == .string("q\"b\\s/b\u{8}f\u{C}n\nr\rt\tAAe\u{E9}E\u{20AC}g\u{1F600}z\u{0}"))
    }

    @Test func rawUTF8PassesThroughAndLowercaseHexWorks() throws {
        #expect(try parse("\"grüße 😀\"") == .string("grüße 😀"))
        #expect(try parse(#""\ud83d\ude00\u00fC""#) == .string("😀ü"))
    }

    @Test func containersAndLiteralsKeepTheirOrder() throws {
        let value = try parse(" {\"b\" : [true, false, null, \"\"], \"a\":{}, \"c\":[]} \n")
        #expect(
            value
                == .object([
                    JSONMember(
                        key: "b", value: .array([.bool(true), .bool(false), .null, .string("")])),
                    JSONMember(key: "a", value: .object([])),
                    JSONMember(key: "c", value: .array([])),
                ]))
    }

    @Test func duplicateKeysAreKeptAndTheLastOneIsLookedUp() throws {
        let value = try parse(#"{"a":1,"a":2}"#)
        #expect(value["a"] == .number(.unsigned(2)))
        guard case .object(let members) = value else {
            Issue.record("not an object: \(value)")
            return
        }
        #expect(members.map(\.key) == ["a", "a"])
    }

    @Test(arguments: [
        ("0", JSONNumber.unsigned(0)),
        ("-0", .unsigned(0)),
        ("-1", .negative(-1)),
        ("4294967295", .unsigned(4_294_967_295)),
        ("18446744073709551615", .unsigned(UInt64.max)),
        ("-9223372036854775808", .negative(Int64.min)),
        ("9223372036854775807", .unsigned(UInt64(Int64.max))),
        ("18446744073709551616", .double(0x1p64)),
        ("-9223372036854775809", .double(-0x1p63)),
        ("1e3", .unsigned(1000)),
        ("1E+2", .unsigned(100)),
        ("1.5e1", .unsigned(15)),
        ("1500e-2", .unsigned(15)),
        ("-1.0", .negative(-1)),
        ("0.0", .unsigned(0)),
        ("-0.000e-7", .unsigned(0)),
        ("0e999999999", .unsigned(0)),
        ("123456789012345678e1", .unsigned(1_234_567_890_123_456_780)),
        ("1.8446744073709551615e19", .unsigned(UInt64.max)),
        ("-9.223372036854775808E18", .negative(Int64.min)),
        ("1.8446744073709551616e19", .double(0x1p64)),
        ("1e20", .double(1e20)),
        ("1501e-2", .double(15.01)),
        ("25e-1", .double(2.5)),
        ("-0.5", .double(-0.5)),
        ("1e-999999999", .double(0)),
    ])
    func numbersKeepTheirFullRange(text: String, expected: JSONNumber) throws {
        #expect(try parse(text) == .number(expected))
    }

    @Test func numbersConvertOnlyWhenExact() throws {
        #expect(JSONNumber.unsigned(UInt64.max).exactly(UInt64.self) == UInt64.max)
        #expect(JSONNumber.unsigned(UInt64.max).exactly(Int64.self) == nil)
        #expect(JSONNumber.negative(-1).exactly(Int64.self) == -1)
        #expect(JSONNumber.negative(-1).exactly(UInt32.self) == nil)
        #expect(JSONNumber.unsigned(4_294_967_296).exactly(UInt32.self) == nil)
        #expect(JSONNumber.double(2.5).exactly(Int.self) == nil)
        #expect(JSONNumber.double(0x1p64).exactly(UInt64.self) == nil)
    }

    /// Input, then the line, column and reason of the error.
    @Test(arguments: [
        ("", 1, 1, "unexpected end of input, expected a value"),
        ("{", 1, 2, "unexpected end of input, expected a member name in quotes"),
        ("[1,]", 1, 4, "unexpected ']', expected a value"),
        ("[1 2]", 1, 4, "unexpected '2', expected ',' or ']' in an array"),
        ("{\"a\" 1}", 1, 6, "unexpected '1', expected ':' after a member name"),
        ("{\"a\":1,}", 1, 8, "unexpected '}', expected a member name in quotes"),
        ("{\"a\":1 \"b\":2}", 1, 8, "unexpected '\"', expected ',' or '}' in an object"),
        ("{1:2}", 1, 2, "unexpected '1', expected a member name in quotes"),
        ("[1] x", 1, 5, "unexpected 'x' after the document"),
        ("tru", 1, 4, "unexpected end of input, expected true"),
        ("nul1", 1, 4, "unexpected '1', expected null"),
        ("NaN", 1, 1, "unexpected 'N', expected a value"),
        ("+1", 1, 1, "unexpected '+', expected a value"),
        ("01", 1, 1, "a number cannot have a leading zero"),
        ("-", 1, 2, "unexpected end of input, expected a digit"),
        ("-a", 1, 2, "unexpected 'a', expected a digit"),
        ("1.", 1, 3, "unexpected end of input, expected a digit after '.'"),
        ("1.e5", 1, 3, "unexpected 'e', expected a digit after '.'"),
        ("1e", 1, 3, "unexpected end of input, expected a digit after an exponent"),
        ("1e+", 1, 4, "unexpected end of input, expected a digit after an exponent"),
        ("1e400", 1, 1, "number 1e400 is out of range"),
        ("\"abc", 1, 1, "unterminated string"),
        ("[\"a\\", 1, 4, "unterminated escape in a string"),
        ("\"a\tb\"", 1, 3, "control character byte 0x09 in a string"),
        ("\"\\x\"", 1, 2, "invalid escape \\x in a string"),
        ("\"\\u12G4\"", 1, 2, "\\u escape needs four hex digits"),
        ("\"\\u12\"", 1, 2, "\\u escape needs four hex digits"),
        ("\"ab\\uD800\"", 1, 4, "unpaired high surrogate \\uD800 in a string"),
        ("\"\\uD800\\u0041\"", 1, 2, "unpaired high surrogate \\uD800 in a string"),
        ("\"\\uDC00\"", 1, 2, "unpaired low surrogate \\uDC00 in a string"),
        ("{\n  \"a\": [1,\n    2,,\n  ]\n}", 3, 7, "unexpected ',', expected a value"),
        ("\n\n   @", 3, 4, "unexpected '@', expected a value"),
    ])
    func malformedInputNamesLineAndColumn(text: String, line: Int, column: Int, reason: String) {
        do {
            let value = try parse(text)
            Issue.record("accepted \(text) as \(value)")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.reason == reason)
        }
    }

    @Test func invalidUTF8IsRefusedAtItsByte() {
        for (bytes, offset) in [
            ([0x22, 0x61, 0xFF, 0x22], 2),
            ([0x22, 0x61, 0xC3, 0x22], 2),
            ([0x22, 0xC3, 0xA9, 0xED, 0xA0, 0x80, 0x22], 3),  // an encoded surrogate
            ([0x22, 0x5C, 0x6E, 0xC0, 0xAF, 0x22], 3),  // an overlong '/' after an escape
        ] as [([UInt8], Int)] {
            do {
                _ = try JSONParser.parse(bytes)
                Issue.record("accepted \(bytes)")
            } catch {
                #expect(
                    error.offset == offset && error.reason == "invalid UTF-8 in a string",
                    "\(error)")
            }
        }
    }

    @Test func aByteOrderMarkIsSkipped() throws {
        #expect(try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("[]".utf8)) == .array([]))
    }

    @Test func nestingIsLimited() throws {
        let depth = JSONParser.maximumDepth
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: Never.self) { try parse(deepest) }
        let objects =
            String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(throws: Never.self) { try parse(objects) }
        do {
            _ = try parse("[" + deepest + "]")
            Issue.record("accepted nesting deeper than \(depth)")
        } catch {
            #expect(error.reason == "nesting deeper than \(depth) levels")
            #expect(error.offset == depth)
        }
        // Far deeper input fails the same way instead of exhausting the stack.
        #expect(throws: JSONSyntaxError.self) {
            try parse(String(repeating: "[", count: 1_000_000))
        }
    }
}
