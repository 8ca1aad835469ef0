import CShim
import Glibc
import LXCSystem
import Testing

@testable import LXC

/// LXC's `devpts_fd` on real busybox containers: the monitor hands out the mount of the
/// container's devpts instance, and a pty opened beneath it is one the container sees.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct DevptsFDTests {
    private func defined(_ tag: String, in lxcpath: TestLXCPath) throws -> Container {
        let container = Container(name: "\(tag)\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.mount.auto", "proc:mixed sys:mixed"), ("lxc.net.0.type", "empty")])
        return container
    }

    @Test func aPtyBeneathTheFDIsTheContainers() throws {
        let lxcpath = TestLXCPath("devpts")
        let container = try defined("dpts", in: lxcpath)
        try container.start(command: ["/bin/sleep", "1000"])
        defer { try? container.stop() }

        let devpts = try container.devptsFD()
        var info = statfs()
        #expect(fstatfs(devpts.rawValue, &info) == 0 && info.f_type == 0x1cd1, "DEVPTS_SUPER_MAGIC")
        let controller = try devpts.openAt("ptmx", O_RDWR | O_NOCTTY)
        // TIOCSPTLCK, TIOCGPTN and TIOCGPTPEER, which Glibc does not export.
        var unlock: Int32 = 0
        var number: Int32 = -1
        #expect(ioctl(controller.rawValue, UInt(0x4004_5431), &unlock) == 0)
        #expect(ioctl(controller.rawValue, UInt(0x8004_5430), &number) == 0)
        let peerFD = ioctl(controller.rawValue, UInt(0x5441), O_RDWR | O_NOCTTY)
        try #require(peerFD >= 0, "TIOCGPTPEER: errno \(errno)")
        let peer = FileDescriptor(owning: peerFD)

        // The peer is /dev/pts/N of the container's instance, not of the host's.
        var peerInfo = stat()
        var inside = stat()
        var host = stat()
        #expect(fstat(peer.rawValue, &peerInfo) == 0)
        let path = "/proc/\(container.initPID)/root/dev/pts/\(number)"
        try #require(stat(path, &inside) == 0, "\(path) is missing")
        #expect(inside.st_rdev == peerInfo.st_rdev && inside.st_dev == peerInfo.st_dev)
        #expect(stat("/dev/pts", &host) == 0 && host.st_dev != inside.st_dev)

        // An attached ls lists it too.
        let listing = try attachedOutput(container, ["/bin/ls", "/dev/pts"])
        #expect(listing.split(separator: "\n").contains(Substring(String(number))), "\(listing)")
    }

    @Test func aStoppedContainerHasNone() throws {
        let lxcpath = TestLXCPath("devptsoff")
        let container = try defined("dptsoff", in: lxcpath)
        do {
            _ = try container.devptsFD()
            Issue.record("devptsFD of a stopped container returned an fd")
        } catch {
            #expect("\(error)".contains("not running"), "\(error)")
        }
    }

    /// The output of a command attached to `container`, through a pipe.
    private func attachedOutput(_ container: Container, _ command: [String]) throws -> String {
        let pipe = try Pipe()
        var options = AttachOptions()
        options.stdout = pipe.writeEnd.rawValue
        let process = try container.attach(command, options: options)
        try pipe.writeEnd.close()
        let output = String(decoding: try pipe.readEnd.readAll(), as: UTF8.self)
        #expect(try process.wait() == .exited(0))
        return output
    }
}
