import Glibc
import LXCRuntime
import LXCSystem

// MARK: - Console clients (lxc-console)

/// A client's hold on one of a container's terminals (`consoleFD(tty:)`): the controller to
/// read and write, and the command connection that keeps a tty held. The tty is free again
/// once both are closed (the value is dropped, or `close()`).
public struct TerminalClient: ~Copyable {
    /// The terminal's controller: what is written is the terminal's input, and the
    /// container's output on it can be read.
    public let controller: FileDescriptor
    /// The command connection to the monitor, which holds a tty as long as it is open.
    public let connection: FileDescriptor
    /// The terminal's number: 0 for the console, N for tty N.
    public let tty: Int

    init(controller: consuming FileDescriptor, connection: consuming FileDescriptor, tty: Int) {
        self.controller = controller
        self.connection = connection
        self.tty = tty
    }

    /// Closes both descriptors: the monitor frees the terminal.
    public consuming func close() {
        _ = Glibc.close(controller.release())
        _ = Glibc.close(connection.release())
    }

    /// Hands both descriptors over to the caller, who closes them.
    public consuming func release() -> (controller: Int32, connection: Int32) {
        (controller.release(), connection.release())
    }
}

extension Container {
    /// LXC's `console_getfd`: `tty` N > 0 is the container's tty N (`lxc.tty.max`), -1 the
    /// first one no client holds (the console when the container has none), 0 the console.
    /// A tty stays held, and another client gets EBUSY for it, while the returned value
    /// lives: the monitor watches its command connection, as LXC's does.
    public func consoleFD(tty: Int) throws(ContainerError) -> TerminalClient {
        let what = tty == 0 ? "console of \(name)" : "tty \(tty) of \(name)"
        let answer: (reply: CommandMessage, descriptors: DescriptorList)
        do {
            answer = try CommandClient.send(
                .consoleAttach, payload: [String(tty)], lxcpath: lxcpath, name: name,
                keepingConnection: true)
        } catch {
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command(what, error)
        }
        let connection = answer.descriptors.take(answer.descriptors.count - 1)
        guard answer.reply.code == 0, let connection, let fd = answer.descriptors.take(0) else {
            let code = answer.reply.code < 0 ? answer.reply.code : -EBADF
            throw .command(
                what,
                SyscallError(
                    Errno(rawValue: -code), call: "console", object: answer.reply.payload.first))
        }
        let number = answer.reply.payload.first.flatMap { Int($0) } ?? 0
        return TerminalClient(controller: fd, connection: connection, tty: number)
    }

    /// LXC's `console_getfd` for the console (tty 0): the controller of a terminal the
    /// monitor joins to the container's console. What is written to it is the console's
    /// input; what the container writes can be read from it (and still reaches the ring
    /// buffer and log file). One client at a time: a second gets EBUSY until the first
    /// closes its descriptor.
    public func consoleFD() throws(ContainerError) -> FileDescriptor {
        let what = "console of \(name)"
        let answer: (reply: CommandMessage, descriptors: DescriptorList)
        do {
            answer = try CommandClient.send(.consoleAttach, lxcpath: lxcpath, name: name)
        } catch {
            if error.errno == .ECONNREFUSED { throw .store(.notRunning(name)) }
            throw .command(what, error)
        }
        guard answer.reply.code == 0, let fd = answer.descriptors.take(0) else {
            let code = answer.reply.code < 0 ? answer.reply.code : -EBADF
            throw .command(
                what,
                SyscallError(
                    Errno(rawValue: -code), call: "console", object: answer.reply.payload.first))
        }
        return fd
    }

    /// LXC's `console`: connects `input` and `output` to the container's console (`tty` 0),
    /// its tty N, or the first free tty (-1; see `consoleFD(tty:)`) until the
    /// escape sequence (Ctrl+`escape`, then `q`; Ctrl+`escape` twice sends it once) or the
    /// container stops. A terminal on `input` is put in raw mode meanwhile, and the console
    /// gets its window size.
    public func runConsole(
        tty: Int = 0, input: Int32 = 0, output: Int32 = 1, escape: Character = "a"
    )
        throws(ContainerError)
    {
        let client = try consoleFD(tty: tty)
        let console = client.controller.rawValue
        let escapeByte = (escape.asciiValue ?? 97) & 0x1f
        var saved = termios()
        let rawInput = isatty(input) == 1 && tcgetattr(input, &saved) == 0
        if rawInput {
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(input, TCSAFLUSH, &raw)
            var size = winsize()
            if ioctl(input, UInt(TIOCGWINSZ), &size) == 0 {
                _ = ioctl(console, UInt(TIOCSWINSZ), &size)
            }
        }
        defer { if rawInput { tcsetattr(input, TCSAFLUSH, &saved) } }

        var buffer = [UInt8](repeating: 0, count: 4096)
        var sawEscape = false
        var fds = [
            pollfd(fd: input, events: Int16(POLLIN), revents: 0),
            pollfd(fd: console, events: Int16(POLLIN), revents: 0),
            // The monitor's end of the connection closes when it exits.
            pollfd(fd: client.connection.rawValue, events: 0x2000 /* POLLRDHUP */, revents: 0),
        ]
        while true {
            if poll(&fds, 3, -1) < 0 { continue }  // EINTR
            if fds[2].revents != 0 { return }
            if fds[1].revents != 0 {
                let count = buffer.withUnsafeMutableBytes {
                    read(console, $0.baseAddress, $0.count)
                }
                if count <= 0 { return }  // the container stopped: its monitor closed the proxy
                Self.writeAll(output, buffer[0..<count])
            }
            if fds[0].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if count <= 0 { return }
                var forward: [UInt8] = []
                for byte in buffer[0..<count] {
                    if sawEscape {
                        sawEscape = false
                        if byte == UInt8(ascii: "q") { return }
                        forward.append(byte)
                    } else if byte == escapeByte {
                        sawEscape = true
                    } else {
                        forward.append(byte)
                    }
                }
                Self.writeAll(console, forward[...])
            }
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
