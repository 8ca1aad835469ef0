import CLXCABI
import Glibc
import LXC
import LXCConfig
import LXCRuntime
import LXCSystem

/// What SwiftLXC keeps for one `struct lxc_container`, in its private `lxc_conf` slot: the
/// Swift `Container` and the in-memory config that `set_config_item` changes and
/// `save_config` writes, as liblxc keeps its `struct lxc_conf`.
final class Handle: @unchecked Sendable {
    var container: Container
    /// nil until a config is loaded or an item is set (liblxc's `lxc_conf == NULL`).
    var configuration: LXCConfiguration?
    /// Whether `configuration` differs from the container's config file.
    var unsaved = false
    var closeAllFDs = false

    init(container: Container) {
        self.container = container
    }
}

typealias ContainerPointer = UnsafeMutablePointer<lxc_container>

/// The handle of `c`, or nil for a NULL or foreign container.
func handle(_ c: ContainerPointer?) -> Handle? {
    guard let slot = c?.pointee.lxc_conf else { return nil }
    return Unmanaged<Handle>.fromOpaque(slot).takeUnretainedValue()
}

/// A malloc'ed copy the caller frees, as liblxc returns strings.
func duplicate(_ text: String) -> UnsafeMutablePointer<CChar>? {
    strdup(text)
}

func string(_ pointer: UnsafePointer<CChar>?) -> String? {
    pointer.map { String(cString: $0) }
}

/// A NULL-terminated `char *argv[]` as strings.
func strings(_ list: UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard var entry = list else { return [] }
    var result: [String] = []
    while let item = entry.pointee {
        result.append(String(cString: item))
        entry += 1
    }
    return result
}

func strings(_ list: UnsafePointer<UnsafePointer<CChar>?>?) -> [String] {
    guard var entry = list else { return [] }
    var result: [String] = []
    while let item = entry.pointee {
        result.append(String(cString: item))
        entry += 1
    }
    return result
}

/// A malloc'ed, NULL-terminated array of malloc'ed strings (`get_interfaces`, `get_ips`).
func stringArray(_ items: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    let size = MemoryLayout<UnsafeMutablePointer<CChar>?>.stride * (items.count + 1)
    guard let raw = malloc(size) else { return nil }
    let array = raw.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: items.count + 1)
    for (index, item) in items.enumerated() { array[index] = strdup(item) }
    array[items.count] = nil
    return array
}

/// liblxc's `strprint` convention: the value's full length is returned; `retv` (when given)
/// receives as much as fits in `inlen`, NUL-terminated, the rest zeroed.
func copyOut(_ value: String, _ retv: UnsafeMutablePointer<CChar>?, _ inlen: Int32) -> Int32 {
    let bytes = Array(value.utf8)
    if let retv, inlen > 0 {
        memset(retv, 0, Int(inlen))
        let count = min(bytes.count, Int(inlen) - 1)
        bytes.withUnsafeBufferPointer { buffer in
            if count > 0 { memcpy(retv, buffer.baseAddress!, count) }
        }
    }
    return Int32(clamping: bytes.count)
}

/// The errno a failure stands for.
func errnoValue(_ error: any Error) -> Int32 {
    if let error = error as? SyscallError { return error.errno.rawValue }
    if let error = error as? StoreError { return errnoValue(store: error) }
    guard let error = error as? ContainerError else { return EINVAL }
    switch error {
    case .store(let store): return errnoValue(store: store)
    case .command(_, let syscall): return syscall.errno.rawValue
    case .config: return EINVAL
    case .timedOut: return ETIMEDOUT
    case .plan, .launch, .network: return EIO
    }
}

private func errnoValue(store: StoreError) -> Int32 {
    switch store {
    case .invalidName: return EINVAL
    case .missingPath, .notDefined, .templateNotFound: return ENOENT
    case .alreadyDefined: return EEXIST
    case .running: return EBUSY
    case .notRunning: return ESRCH
    case .failed(_, let syscall): return syscall.errno.rawValue
    case .commandFailed: return EIO
    }
}

/// Records a failure in `error_num` and `error_string` and logs it; returns the errno.
@discardableResult
func fail(_ c: ContainerPointer?, _ what: String, _ error: any Error) -> Int32 {
    let number = errnoValue(error)
    report(c, "\(what): \(error)", errno: number)
    return number
}

@discardableResult
func report(_ c: ContainerPointer?, _ message: String, errno number: Int32) -> Int32 {
    if let c {
        free(c.pointee.error_string)
        c.pointee.error_string = strdup(message)
        c.pointee.error_num = number
    }
    Log.write(
        .error, category: "lxccontainer", message, file: #fileID, function: #function, line: #line)
    if traceFailures {
        let line = Array("liblxc (SwiftLXC): \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
    errno = number
    return number
}

/// An operation SwiftLXC does not implement: ENOSYS in `error_num` and `errno`.
@discardableResult
func notImplemented(_ c: ContainerPointer?, _ name: String) -> Int32 {
    report(c, "\(name) is not implemented by SwiftLXC", errno: ENOSYS)
}

/// `SWIFTLXC_ABI_TRACE=1` prints every failure to stderr: a program that only sees `false`
/// (python3-lxc shows neither `error_string` nor `error_num`) can then tell why.
private let traceFailures = getenv("SWIFTLXC_ABI_TRACE").map { String(cString: $0) == "1" } ?? false
