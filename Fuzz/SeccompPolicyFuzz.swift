// libFuzzer entry for the seccomp policy readers: any bytes must parse as an LXC policy or
// OCI seccomp json, or be refused with a message naming the file, without a crash; whatever
// parses must compile or be refused the same way.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSeccompPolicy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    var policies: [SeccompPolicy] = []
    do {
        policies.append(try LXCPolicyParser.parse(text, file: "fuzz", native: .x86_64))
    } catch {
        if !error.description.hasPrefix("fuzz") { fatalError("error without the file: \(error)") }
    }
    if let oci = try? OCISeccompPolicy.decode(bytes, file: "fuzz") {
        do {
            policies.append(try oci.policy(file: "fuzz", kernel: (6, 1), native: .x86_64))
        } catch {
            if !error.description.hasPrefix("fuzz") {
                fatalError("error without the file: \(error)")
            }
        }
    }
    for policy in policies {
        guard let filter = try? SeccompCompiler.compile(policy) else { continue }
        if filter.program.isEmpty || filter.program.count % 8 != 0 {
            fatalError("compiled a program of \(filter.program.count) bytes")
        }
    }
    return 0
}
