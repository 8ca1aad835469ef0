// libFuzzer entry for config.json decoding: any bytes must decode or fail with an OCIError.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOCISpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let (spec, warnings) = try? OCISpec.decode(bytes) {
        _ = try? ContainerConfig(oci: spec, bundle: "/bundle", warnings: warnings)
    }
    return 0
}
