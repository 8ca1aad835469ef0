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
    /// The terminal a console client (`lxc-console`, `console_getfd`) holds the controller of;
    /// the monitor copies between its peer and the container's console. One at a time.
    private var proxy: ProxyTerminal?
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
            if let proxy { Self.writeDropping(chunk, to: proxy.peer.rawValue) }
            if let logFile, !logFailed {
                do {
                    try logFile.write(chunk)
                } catch {
                    // Logged once: a full disk must not flood the monitor's log.
                    logFailed = true
                    log.error("console log file: \(error); no more output goes there")
                }
            }
            // A short read took all there was: the next poll says when there is more, which
            // saves the read that would only answer EAGAIN.
            if count < readBuffer.count { return }
        }
    }

    // MARK: - Console clients

    /// Opens the proxy terminal for a console client and returns its controller, which the
    /// client reads the container's output from and writes its input to. EBUSY while another
    /// client holds it, as LXC answers a second `lxc-console` on the same tty.
    public func attachClient() throws(SyscallError) -> FileDescriptor {
        if proxy != nil { detachClientIfGone() }
        guard proxy == nil else {
            throw SyscallError(.EBUSY, call: "console", object: "another client holds the console")
        }
        let pair = try PseudoTerminal.open()
        // Raw: the bytes pass between the client and the container's line discipline as they
        // are; the container's own terminal does the echo and the line editing.
        var settings = termios()
        _ = try check(tcgetattr(pair.peer.rawValue, &settings), "tcgetattr", pair.peerPath)
        cfmakeraw(&settings)
        _ = try check(tcsetattr(pair.peer.rawValue, TCSANOW, &settings), "tcsetattr", pair.peerPath)
        try pair.peer.setNonBlocking(true)
        // The monitor keeps only the peer: when the client closes the controller, the peer
        // hangs up and the next client may come.
        let client = pair.controller
        proxy = ProxyTerminal(peer: pair.peer)
        return client
    }

    /// The proxy's peer, which the monitor polls for the client's input, or -1.
    public var clientDescriptor: Int32 { proxy?.peer.rawValue ?? -1 }

    /// Copies what the client typed to the container's console. A client that closed its
    /// end (the peer reads EIO) is detached.
    public func forwardClientInput() {
        guard let proxy else { return }
        while true {
            let count = read(proxy.peer.rawValue, readBuffer.baseAddress, readBuffer.count)
            if count < 0 && errno == EINTR { continue }
            if count < 0 && errno == EAGAIN { return }
            guard count > 0 else {
                self.proxy = nil
                return
            }
            Self.writeDropping(
                UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]),
                to: terminal.controller.rawValue)
        }
    }

    /// Detaches a client whose controller is closed (its peer hangs up).
    private func detachClientIfGone() {
        guard let proxy else { return }
        var event = pollfd(fd: proxy.peer.rawValue, events: Int16(POLLIN), revents: 0)
        if poll(&event, 1, 0) == 1 && event.revents & Int16(POLLHUP) != 0 { self.proxy = nil }
    }

    /// Writes what a non-blocking terminal takes now; the rest is dropped, since a client
    /// that does not read must not stall the monitor (the ring buffer keeps everything).
    private static func writeDropping(_ chunk: UnsafeRawBufferPointer, to fd: Int32) {
        var offset = 0
        while offset < chunk.count {
            let written = write(fd, chunk.baseAddress! + offset, chunk.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
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

/// The peer of a console client's terminal, held by reference so the monitor can pass it
/// around; the client holds the controller.
private final class ProxyTerminal {
    let peer: FileDescriptor

    init(peer: consuming FileDescriptor) {
        self.peer = peer
    }
}
