import Glibc
import LXCSystem

/// A pseudo-terminal pair from the host's `/dev/ptmx`: the runtime keeps the controlling
/// side, the container gets the other as its `/dev/console` and the init's stdio.
public struct PseudoTerminal: ~Copyable {
    /// The side the runtime reads the container's output from and writes its input to.
    public let controller: FileDescriptor
    /// The side that becomes the container's console.
    public let peer: FileDescriptor
    /// The peer's path (`/dev/pts/N`), which the container side binds onto `/dev/console`.
    public let peerPath: String

    /// Opens a new pair. `owner` chowns the peer (to the container's root when a user
    /// namespace maps it elsewhere).
    public static func open(owner: (uid: UInt32, gid: UInt32)? = nil) throws(SyscallError)
        -> PseudoTerminal
    {
        let controller = try FileDescriptor.open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        _ = try check(ioctl(controller.rawValue, tiocsptlck, &unlock), "ioctl TIOCSPTLCK")
        var number: UInt32 = 0
        _ = try check(ioctl(controller.rawValue, tiocgptn, &number), "ioctl TIOCGPTN")
        // TIOCGPTPEER opens the peer through the controller itself, not by a path that a
        // racing process could replace.
        let peerFD = try check(
            ioctl(controller.rawValue, tiocgptpeer, O_RDWR | O_NOCTTY | O_CLOEXEC),
            "ioctl TIOCGPTPEER")
        let peer = FileDescriptor(owning: peerFD)
        let path = "/dev/pts/\(number)"
        if let owner {
            _ = try check(fchown(peer.rawValue, owner.uid, owner.gid), "fchown", path)
        }
        return PseudoTerminal(controller: controller, peer: peer, peerPath: path)
    }

    private init(
        controller: consuming FileDescriptor, peer: consuming FileDescriptor, peerPath: String
    ) {
        self.controller = controller
        self.peer = peer
        self.peerPath = peerPath
    }

    /// Sets the terminal's size (`TIOCSWINSZ`), as OCI's `process.consoleSize` asks.
    public borrowing func setSize(rows: UInt16, columns: UInt16) throws(SyscallError) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = try check(ioctl(controller.rawValue, UInt(TIOCSWINSZ), &size), "ioctl TIOCSWINSZ")
    }
}

// The pty ioctls, which Swift's Glibc module does not import.
/// `TIOCSPTLCK`, `_IOW('T', 0x31, int)`: lock or unlock the peer.
let tiocsptlck: UInt = 0x4004_5431
/// `TIOCGPTN`, `_IOR('T', 0x30, unsigned int)`: the peer's number.
let tiocgptn: UInt = 0x8004_5430
/// `TIOCGPTPEER`, `_IO('T', 0x41)`: open the peer.
let tiocgptpeer: UInt = 0x5441
