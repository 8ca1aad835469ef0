import Glibc
import LXCSystem

/// What `lxc.console.*` asks of a container's console.
public struct ConsoleOptions: Sendable, Equatable {
    /// `lxc.console.buffer.size`: bytes kept for `console_log`; 0 keeps none.
    public var bufferSize: UInt64 = 0
    /// `lxc.console.logfile`.
    public var logFile: String?
    /// `lxc.console.size`: the log file's limit; 0 for none.
    public var logSize: UInt64 = 0
    /// `lxc.console.rotate`.
    public var rotate = false
    /// The host uid and gid of the container's root, when a user namespace maps it; the
    /// console's peer is chowned to them so that the container's root can open it.
    public var owner: (uid: UInt32, gid: UInt32)?

    public init() {}

    public static func == (lhs: ConsoleOptions, rhs: ConsoleOptions) -> Bool {
        lhs.bufferSize == rhs.bufferSize && lhs.logFile == rhs.logFile
            && lhs.logSize == rhs.logSize && lhs.rotate == rhs.rotate
            && lhs.owner?.uid == rhs.owner?.uid && lhs.owner?.gid == rhs.owner?.gid
    }
}

/// Why a console log request got no bytes, in LXC's terms.
public enum ConsoleLogError: Error, Sendable, Equatable {
    /// The container has no ring buffer (`lxc.console.buffer.size` is 0): LXC's EFAULT.
    case noBuffer
    /// A read found the buffer empty: LXC's ENODATA.
    case empty
}

/// A running container's console on the host side: the terminal pair, and where its output
/// goes (the ring buffer, the log file). It lives in the monitor, across reboots of the
/// container, and is drained by the monitor's loop.
public final class ContainerConsole {
    public let options: ConsoleOptions
    private let terminal: PseudoTerminal
    public let ring: RingBuffer?
    private let logFile: ConsoleLogFile?
    private var logFailed = false
    /// One read's worth of the controller, reused by every drain.
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    /// An fd that also gets the output as it comes (a foreground start's stdout), or -1.
    /// Input is not forwarded from it.
    public var mirror: Int32 = -1
    private let log = Logger("console")

    /// Opens the terminal pair and the ring buffer and log file that `options` ask for.
    public init(_ options: ConsoleOptions) throws(SyscallError) {
        self.options = options
        terminal = try PseudoTerminal.open(owner: options.owner)
        try terminal.controller.setNonBlocking(true)
        ring = options.bufferSize > 0 ? try RingBuffer(capacity: Int(options.bufferSize)) : nil
        logFile = try options.logFile.map { (path) throws(SyscallError) in
            try ConsoleLogFile(path: path, sizeLimit: options.logSize, rotate: options.rotate)
        }
    }

    deinit {
        readBuffer.deallocate()
    }

    /// The controlling side, for the monitor's poll set.
    public var controllerDescriptor: Int32 { terminal.controller.rawValue }
    /// The container's side, passed as its stdio.
    public var peerDescriptor: Int32 { terminal.peer.rawValue }
    /// The container's side by path, bound onto `/dev/console`.
    public var peerPath: String { terminal.peerPath }

    /// Moves everything the container has written into the ring buffer and the log file.
    /// The monitor holds the peer open, so the controller never reports a hang-up.
    public func drain() {
        while true {
            let count = read(terminal.controller.rawValue, readBuffer.baseAddress, readBuffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }  // EAGAIN: nothing more for now
            let chunk = UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])
            ring?.write(chunk)
            if mirror >= 0 { copyToMirror(chunk) }
            if let logFile, !logFailed {
                do {
                    try logFile.write(chunk)
                } catch {
                    // Logged once: a full disk must not flood the monitor's log.
                    logFailed = true
                    log.error("console log file: \(error); no more output goes there")
                }
            }
        }
    }

    private func copyToMirror(_ chunk: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < chunk.count {
            let written = write(mirror, chunk.baseAddress! + offset, chunk.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                mirror = -1  // a closed stdout stops the mirror, not the console
                return
            }
            offset += written
        }
    }

    /// LXC's `console_log`: with `read`, the oldest bytes, at most `limit` (0 for all), taken
    /// out of the buffer; with `clear`, the buffer emptied (after the read, if both).
    public func consoleLog(read: Bool, clear: Bool, limit: UInt64) -> Result<
        [UInt8], ConsoleLogError
    > {
        guard let ring else { return .failure(.noBuffer) }
        drain()
        if read && ring.count == 0 { return .failure(.empty) }
        let bytes = read ? ring.read(limit: limit == 0 ? nil : Int(clamping: limit)) : []
        if clear { ring.clear() }
        return .success(bytes)
    }
}
