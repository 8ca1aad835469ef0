// libFuzzer entry for the LXC config parser: any bytes must parse, model and save without a
// crash, and a saved config must load back to the same text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLXCConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var config = LXCConfiguration()
    let errors = config.load(text, file: "fuzz")
    _ = errors.map(\.description)
    _ = try? ContainerConfig(lxc: config, name: "fuzz")
    for key in ["lxc.net", "lxc.cgroup", "lxc.mount.auto", "lxc.idmap", "lxc.prlimit"] {
        _ = try? config.get(key)
    }
    if errors.isEmpty, !text.contains("lxc.include"), !text.contains("\r") {
        var again = LXCConfiguration()
        _ = again.load(config.text, file: "fuzz")
        if again.text != config.text { fatalError("save and reload changed the text") }
    }
    return 0
}
