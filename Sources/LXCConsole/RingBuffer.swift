import Glibc
import LXCSystem

/// The console's ring buffer (`lxc.console.buffer.size`): the newest bytes the container
/// wrote to its console, kept in memory for `console_log` readers.
///
/// One memfd of `capacity` bytes is mapped twice, back to back, so the bytes at any offset
/// are contiguous for up to `capacity` bytes past it: a write or a read that wraps around the
/// end is still one `memcpy`. Offsets are running byte counts; the position in the mapping is
/// the offset modulo `capacity`.
///
/// Not thread-safe: the monitor's single loop owns it.
public final class RingBuffer {
    /// Bytes the buffer holds when full; a multiple of the page size.
    public let capacity: Int
    /// The first of the two mappings; the second follows at `base + capacity`.
    private let base: UnsafeMutableRawPointer
    /// Running count of bytes consumed or dropped.
    private var readOffset: UInt64 = 0
    /// Running count of bytes written.
    private var writeOffset: UInt64 = 0

    /// Maps a buffer of `capacity` bytes, which must be a positive multiple of the page size
    /// (the config rounds `lxc.console.buffer.size` to one).
    public init(capacity: Int) throws(SyscallError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard capacity > 0, capacity % page == 0, capacity <= Int.max / 2 else {
            throw SyscallError(
                .EINVAL, call: "mmap",
                object: "ring buffer of \(capacity) bytes (must be a multiple of \(page))")
        }
        let memory = try ProcessControl.memfd("swiftlxc-console-ring")
        _ = try check(ftruncate(memory.rawValue, off_t(capacity)), "ftruncate", "ring buffer")
        // Reserve both halves first so that nothing else can be mapped between them.
        guard
            let reserved = mmap(nil, 2 * capacity, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            reserved != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            throw SyscallError(.current, call: "mmap", object: "ring buffer reservation")
        }
        for half in 0..<2 {
            let address = reserved + half * capacity
            let mapped = mmap(
                address, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                memory.rawValue, 0)
            if mapped == nil || mapped == UnsafeMutableRawPointer(bitPattern: -1) {
                let error = SyscallError(.current, call: "mmap", object: "ring buffer half \(half)")
                munmap(reserved, 2 * capacity)
                throw error
            }
        }
        // The mappings keep the memory alive; the memfd itself is no longer needed.
        self.base = reserved
        self.capacity = capacity
    }

    deinit {
        munmap(base, 2 * capacity)
    }

    /// Bytes held, oldest first.
    public var count: Int { Int(writeOffset - readOffset) }

    /// Appends `bytes`. When they do not fit, the oldest bytes are dropped to make room; of a
    /// write longer than the whole buffer only its last `capacity` bytes are kept.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard var source = bytes.baseAddress, bytes.count > 0 else { return }
        var length = bytes.count
        if length > capacity {
            source += length - capacity
            length = capacity
        }
        let free = capacity - count
        if length > free { readOffset += UInt64(length - free) }
        let position = Int(writeOffset % UInt64(capacity))
        (base + position).copyMemory(from: source, byteCount: length)
        writeOffset += UInt64(length)
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// The oldest `limit` bytes (all of them when nil), left in the buffer.
    public func peek(limit: Int? = nil) -> [UInt8] {
        let length = min(count, max(0, limit ?? count))
        let position = Int(readOffset % UInt64(capacity))
        return [UInt8](UnsafeRawBufferPointer(start: base + position, count: length))
    }

    /// The oldest `limit` bytes (all of them when nil), removed from the buffer.
    public func read(limit: Int? = nil) -> [UInt8] {
        let bytes = peek(limit: limit)
        readOffset += UInt64(bytes.count)
        return bytes
    }

    /// Drops everything held.
    public func clear() {
        readOffset = writeOffset
    }
}
