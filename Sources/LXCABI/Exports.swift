import CLXCABI
import Glibc
import LXC
import LXCConfig
import LXCRuntime
import LXCSystem
import Synchronization

// The public functions of liblxc.so.1 (LXC 5.0.2), exported under their C names.

/// The version programs see: the LXC release whose ABI and behaviour SwiftLXC follows.
private nonisolated(unsafe) let versionText = strdup("5.0.2")!

@_cdecl("lxc_get_version")
public func lxc_get_version() -> UnsafePointer<CChar> {
    UnsafePointer(versionText)
}

@_cdecl("lxc_container_new")
public func lxc_container_new(
    _ name: UnsafePointer<CChar>?, _ configpath: UnsafePointer<CChar>?
) -> UnsafeMutablePointer<lxc_container>? {
    guard let name = string(name), !name.isEmpty else {
        errno = EINVAL
        return nil
    }
    return makeContainer(
        name: name, lxcpath: string(configpath) ?? GlobalConfig.value("lxc.lxcpath") ?? "")
}

/// The references of every container struct, under one lock (liblxc's `privlock`).
private let references = Mutex<Void>(())

@_cdecl("lxc_container_get")
public func lxc_container_get(_ c: UnsafeMutablePointer<lxc_container>?) -> Int32 {
    guard let c else { return 0 }
    return references.withLock { _ in
        // A struct being freed cannot be taken again.
        guard c.pointee.numthreads >= 1 else { return 0 }
        c.pointee.numthreads += 1
        return 1
    }
}

@_cdecl("lxc_container_put")
public func lxc_container_put(_ c: UnsafeMutablePointer<lxc_container>?) -> Int32 {
    guard let c else { return -1 }
    let last = references.withLock { _ -> Bool in
        c.pointee.numthreads -= 1
        return c.pointee.numthreads == 0
    }
    guard last else { return 0 }
    freeContainer(c)
    return 1
}

@_cdecl("lxc_get_wait_states")
public func lxc_get_wait_states(_ states: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    let names = ContainerState.allCases
    if let states {
        for (index, state) in names.enumerated() { states[index] = stateName(state) }
    }
    return Int32(names.count)
}

@_cdecl("lxc_get_global_config_item")
public func lxc_get_global_config_item(_ key: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let key = string(key) else { return nil }
    return GlobalConfig.pointer(key)
}

@_cdecl("lxc_has_api_extension")
public func lxc_has_api_extension(_ name: UnsafePointer<CChar>?) -> Bool {
    guard let name = string(name) else { return false }
    return hasAPIExtension(name)
}

@_cdecl("lxc_config_item_is_supported")
public func lxc_config_item_is_supported(_ key: UnsafePointer<CChar>?) -> Bool {
    guard let key = string(key) else { return false }
    return ConfigKeys.isSupported(key)
}

@_cdecl("list_defined_containers")
public func list_defined_containers(
    _ lxcpath: UnsafePointer<CChar>?,
    _ names: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?,
    _ containers: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<lxc_container>?>?>?
) -> Int32 {
    listContainers(lxcpath, defined: true, active: false, names, containers)
}

@_cdecl("list_active_containers")
public func list_active_containers(
    _ lxcpath: UnsafePointer<CChar>?,
    _ names: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?,
    _ containers: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<lxc_container>?>?>?
) -> Int32 {
    listContainers(lxcpath, defined: false, active: true, names, containers)
}

@_cdecl("list_all_containers")
public func list_all_containers(
    _ lxcpath: UnsafePointer<CChar>?,
    _ names: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?,
    _ containers: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<lxc_container>?>?>?
) -> Int32 {
    listContainers(lxcpath, defined: true, active: true, names, containers)
}

@_cdecl("lxc_log_init")
public func lxc_log_init(_ log: UnsafeMutablePointer<lxc_log>?) -> Int32 {
    guard let log else { return -1 }
    let options = LogOptions(
        name: string(log.pointee.name), lxcpath: string(log.pointee.lxcpath),
        file: string(log.pointee.file), level: string(log.pointee.level),
        prefix: string(log.pointee.prefix), quiet: log.pointee.quiet)
    do {
        try Log.initialize(options)
        return 0
    } catch {
        return -1
    }
}

@_cdecl("lxc_log_close")
public func lxc_log_close() {
    Log.close()
}

// MARK: - Containers

private func makeContainer(name: String, lxcpath: String) -> ContainerPointer? {
    locateExecutables()
    guard let raw = calloc(1, MemoryLayout<lxc_container>.size) else { return nil }
    let c = raw.bindMemory(to: lxc_container.self, capacity: 1)
    c.pointee.name = strdup(name)
    c.pointee.config_path = strdup(lxcpath)
    c.pointee.configfile = strdup("\(lxcpath)/\(name)/config")
    c.pointee.numthreads = 1
    c.pointee.daemonize = true
    let box = Handle(container: Container(name: name, lxcpath: lxcpath))
    c.pointee.lxc_conf = Unmanaged.passRetained(box).toOpaque()
    installOperations(c)
    // As liblxc: an existing config is loaded, and one that does not load fails the call.
    if access("\(lxcpath)/\(name)/config", F_OK) == 0 {
        guard c.pointee.load_config(c, nil) else {
            freeContainer(c)
            return nil
        }
    }
    return c
}

/// A new struct for another container in the same lxcpath (`clone`).
func makeSibling(name: String, lxcpath: String) -> ContainerPointer? {
    makeContainer(name: name, lxcpath: lxcpath)
}

private func freeContainer(_ c: ContainerPointer) {
    if let slot = c.pointee.lxc_conf { Unmanaged<Handle>.fromOpaque(slot).release() }
    free(c.pointee.name)
    free(c.pointee.configfile)
    free(c.pointee.pidfile)
    free(c.pointee.error_string)
    free(c.pointee.config_path)
    free(c)
}

private func listContainers(
    _ lxcpath: UnsafePointer<CChar>?, defined: Bool, active: Bool,
    _ names: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?,
    _ containers: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<lxc_container>?>?>?
) -> Int32 {
    let path = string(lxcpath) ?? GlobalConfig.value("lxc.lxcpath") ?? Container.defaultLXCPath
    let found = LXC.listContainers(lxcpath: path, defined: defined, active: active)
    if let names { names.pointee = stringArray(found) }
    if let containers {
        let size = MemoryLayout<ContainerPointer?>.stride * (found.count + 1)
        guard let raw = malloc(size) else { return -1 }
        let list = raw.bindMemory(to: ContainerPointer?.self, capacity: found.count + 1)
        var count = 0
        for name in found {
            if let c = makeContainer(name: name, lxcpath: path) {
                list[count] = c
                count += 1
            }
        }
        list[count] = nil
        containers.pointee = list
    }
    return Int32(found.count)
}

/// `state` strings, allocated once and never freed.
private nonisolated(unsafe) let stateNames: [ContainerState: UnsafeMutablePointer<CChar>] = {
    var names: [ContainerState: UnsafeMutablePointer<CChar>] = [:]
    for state in ContainerState.allCases { names[state] = strdup(state.rawValue) }
    return names
}()

func stateName(_ state: ContainerState) -> UnsafePointer<CChar>? {
    stateNames[state].map { UnsafePointer($0) }
}

/// In another program (python3, a Go binary) `/proc/self/exe` is not beside `swiftlxc`:
/// the monitor and init are looked for beside this library, when they are there.
private let executablesLocated: Void = {
    // Resolved: the library is usually reached through a `liblxc.so.1` symlink.
    guard let file = cabi_library_path(), let resolved = realpath(file, nil) else { return }
    let path = String(cString: resolved)
    free(resolved)
    guard let slash = path.lastIndex(of: "/") else { return }
    let directory = String(path[..<slash])
    if access("\(directory)/swiftlxc", X_OK) == 0 && getenv("SWIFTLXC_BIN") == nil {
        Launcher.executableDirectory = directory
    }
}()

private func locateExecutables() {
    _ = executablesLocated
}

// MARK: - Global config

/// `lxc_get_global_config_item`: LXC's defaults for root (or the user's), with
/// `/etc/lxc/lxc.conf` (`~/.config/lxc/lxc.conf`) over them. The strings live forever.
enum GlobalConfig {
    private static let values = Mutex<[String: UnsafeMutablePointer<CChar>]>([:])

    static let keys = [
        "lxc.default_config", "lxc.lxcpath", "lxc.bdev.lvm.vg", "lxc.bdev.lvm.thin_pool",
        "lxc.bdev.zfs.root", "lxc.bdev.rbd.rbdpool", "lxc.cgroup.use", "lxc.cgroup.pattern",
    ]

    static func value(_ key: String) -> String? {
        pointer(key).map { String(cString: $0) }
    }

    static func pointer(_ key: String) -> UnsafePointer<CChar>? {
        values.withLock { values -> UnsafePointer<CChar>? in
            if values.isEmpty { values = load() }
            return values[key].map { UnsafePointer($0) }
        }
    }

    private static func load() -> [String: UnsafeMutablePointer<CChar>] {
        let root = geteuid() == 0
        let home = getenv("HOME").map { String(cString: $0) } ?? "/"
        var text: [String: String] = [
            "lxc.lxcpath": root ? "/var/lib/lxc" : "\(home)/.local/share/lxc",
            "lxc.default_config": root
                ? "/etc/lxc/default.conf" : "\(home)/.config/lxc/default.conf",
            "lxc.bdev.lvm.vg": "lxc", "lxc.bdev.lvm.thin_pool": "lxc", "lxc.bdev.zfs.root": "lxc",
            "lxc.bdev.rbd.rbdpool": "lxc",
        ]
        let file = root ? "/etc/lxc/lxc.conf" : "\(home)/.config/lxc/lxc.conf"
        if let contents = try? FileContents.readText(file) {
            for line in contents.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let key = parts[0].trimmingSpaces
                if keys.contains(key) { text[key] = parts[1].trimmingSpaces }
            }
        }
        return text.mapValues { strdup($0)! }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(
            drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
