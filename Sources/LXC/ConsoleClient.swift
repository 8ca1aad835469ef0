import Glibc
import LXCRuntime
import LXCSystem

// MARK: - Console clients (lxc-console)

extension Container {
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

    /// LXC's `console`: connects `input` and `output` to the container's console until the
    /// escape sequence (Ctrl+`escape`, then `q`; Ctrl+`escape` twice sends it once) or the
    /// container stops. A terminal on `input` is put in raw mode meanwhile, and the console
    /// gets its window size.
    public func runConsole(input: Int32 = 0, output: Int32 = 1, escape: Character = "a")
        throws(ContainerError)
    {
        let console = try consoleFD()
        let escapeByte = (escape.asciiValue ?? 97) & 0x1f
        var saved = termios()
        let rawInput = isatty(input) == 1 && tcgetattr(input, &saved) == 0
        if rawInput {
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(input, TCSAFLUSH, &raw)
            var size = winsize()
            if ioctl(input, UInt(TIOCGWINSZ), &size) == 0 {
                _ = ioctl(console.rawValue, UInt(TIOCSWINSZ), &size)
            }
        }
        defer { if rawInput { tcsetattr(input, TCSAFLUSH, &saved) } }

        var buffer = [UInt8](repeating: 0, count: 4096)
        var sawEscape = false
        var fds = [
            pollfd(fd: input, events: Int16(POLLIN), revents: 0),
            pollfd(fd: console.rawValue, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            if poll(&fds, 2, -1) < 0 { continue }  // EINTR
            if fds[1].revents != 0 {
                let count = buffer.withUnsafeMutableBytes {
                    read(console.rawValue, $0.baseAddress, $0.count)
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
                Self.writeAll(console.rawValue, forward[...])
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
