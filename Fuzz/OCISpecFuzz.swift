import FoundationEssentials

// libFuzzer entry for config.json decoding: any bytes must parse or fail with a
// JSONSyntaxError, decode or fail with an OCIError, and then:
// - every string of the tree survives JSONText.quote and a second parse unchanged;
// - a spec both this decoder and FoundationEssentials' JSONDecoder accept is the same spec,
//   unless the document repeats a key (JSONDecoder keeps the first, runc and this the last).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOCISpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let tree = try? JSONParser.parse(bytes) else { return 0 }
    checkStrings(tree)
    guard let (spec, warnings) = try? OCISpec.decode(bytes) else { return 0 }
    _ = try? ContainerConfig(oci: spec, bundle: "/bundle", warnings: warnings)
    if !warnings.contains(where: { $0.hasSuffix("the last value is used") }),
        let reference = try? JSONDecoder().decode(OCISpec.self, from: Data(bytes)),
        reference != spec
    {
        fatalError("JSONDecoder decoded another spec:\n\(reference)\nthan OCISpec.decode:\n\(spec)")
    }
    return 0
}

private func checkStrings(_ value: JSONValue) {
    switch value {
    case .string(let text):
        let again = try? JSONParser.parse(Array(JSONText.quote(text).utf8))
        if again != .string(text) { fatalError("\(text.debugDescription) does not round-trip") }
    case .array(let items):
        for item in items { checkStrings(item) }
    case .object(let members):
        for member in members {
            checkStrings(.string(member.key))
            checkStrings(member.value)
        }
    default:
        break
    }
}
