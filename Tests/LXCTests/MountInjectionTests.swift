import CShim
import Glibc
import LXCSystem
import Testing

@testable import LXC

/// Mounts injected into running containers. What the container sees is read through
/// `/proc/<init>/root`, which walks the container's own mount tree.
@Suite(.enabled(if: getuid() == 0, "starting containers needs root"), .serialized)
struct MountInjectionTests {
    private func running(_ tag: String, in lxcpath: TestLXCPath) throws -> Container {
        let container = Container(name: "\(tag)\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [
                ("lxc.mount.auto", "proc:mixed sys:mixed"), ("lxc.net.0.type", "empty"),
                ("lxc.console.buffer.size", "4096"),
            ])
        try container.start(command: ["/bin/sleep", "1000"])
        return container
    }

    /// A host directory with one file, removed with its parent when the test ends.
    private final class HostDirectory {
        let path: String
        init(_ tag: String, file: String = "hello", contents: String = "from the host\n") throws {
            path = "/tmp/swiftlxc-inject-\(getpid())-\(tag)"
            mkdir(path, 0o755)
            try FileContents.write(
                contents, to: "\(path)/\(file)", flags: O_WRONLY | O_CREAT | O_TRUNC)
        }
        deinit {
            _ = try? Spawn.run(SpawnRequest(path: "/bin/rm", arguments: ["rm", "-rf", path]))
        }
    }

    private func inside(_ container: Container, _ path: String) -> String {
        "/proc/\(container.initPID)/root\(path)"
    }

    private func hostMountCount() -> Int {
        ((try? FileContents.readText("/proc/self/mountinfo")) ?? "").split(separator: "\n").count
    }

    /// Rootfs paths the injections created, removed from the shared test rootfs afterwards.
    private func removeFromRootfs(_ paths: [String]) {
        for path in paths { _ = rmdir(rootfs + path) }
    }

    @Test func bindsADirectoryReadOnlyAndUnmountsIt() throws {
        let lxcpath = TestLXCPath("inject")
        let container = try running("inj", in: lxcpath)
        defer { try? container.stop() }
        let source = try HostDirectory("dir")
        let target = "/mnt/injected-\(getpid())"
        defer { removeFromRootfs([target]) }
        let hostMounts = hostMountCount()

        try container.mount(source: source.path, target: target, options: "bind,ro")
        let text = try FileContents.readText(inside(container, target + "/hello"))
        #expect(text == "from the host\n")
        // Read-only inside, as asked.
        let write = open(inside(container, target + "/new"), O_WRONLY | O_CREAT, 0o644)
        #expect(write < 0 && errno == EROFS)
        if write >= 0 { close(write) }
        // The host's own mount table did not change.
        #expect(hostMountCount() == hostMounts)

        try container.unmount(target)
        #expect(access(inside(container, target + "/hello"), F_OK) != 0)
    }

    @Test func mountsAFilesystemAndBindsAFile() throws {
        let lxcpath = TestLXCPath("injectfs")
        let container = try running("injfs", in: lxcpath)
        defer { try? container.stop() }
        let directory = "/mnt/scratch-\(getpid())"
        let file = "/etc/injected-\(getpid()).conf"
        defer {
            removeFromRootfs([directory])
            _ = unlink(rootfs + file)
        }

        try container.mount(
            source: "tmpfs", target: directory, type: "tmpfs", flags: 0, data: "size=1m,mode=700")
        var fs = statfs()
        #expect(statfs(inside(container, directory), &fs) == 0)
        #expect(fs.f_type == 0x0102_1994)  // TMPFS_MAGIC
        var status = stat()
        #expect(stat(inside(container, directory), &status) == 0)
        #expect(status.st_mode & 0o777 == 0o700)

        let source = try HostDirectory("file", file: "app.conf", contents: "key=value\n")
        try container.mount(
            source: source.path + "/app.conf", target: file, flags: UInt(MS_BIND))
        #expect(try FileContents.readText(inside(container, file)) == "key=value\n")
        try container.unmount(file)
        try container.unmount(directory, flags: Int32(MNT_DETACH))
    }

    /// The container is seen from inside: its shell reads the injected file and writes it to
    /// the console.
    @Test func theContainerItselfSeesTheMount() throws {
        let lxcpath = TestLXCPath("injectsee")
        let container = Container(name: "injsee\(getpid())", lxcpath: lxcpath.path)
        try container.create(
            rootfs: .inPlace(rootfs),
            items: [("lxc.net.0.type", "empty"), ("lxc.console.buffer.size", "4096")])
        let target = "/mnt/seen-\(getpid())"
        defer { removeFromRootfs([target]) }
        try container.start(command: [
            "/bin/sh", "-c",
            "until [ -e \(target)/hello ]; do sleep 0.05; done; cat \(target)/hello; exec sleep 1000",
        ])
        defer { try? container.stop() }
        let source = try HostDirectory("seen", contents: "seen inside\n")
        try container.mount(source: source.path, target: target, options: "bind")
        var text = ""
        for _ in 0..<300 where !text.contains("seen inside") {
            text += String(decoding: try container.consoleLog(), as: UTF8.self)
            usleep(10_000)
        }
        #expect(text.contains("seen inside"))
    }

    /// A symlink inside the container cannot send the mount to a host path: the target is
    /// resolved in the container's root, and nothing is created through a dangling link.
    @Test func aSymlinkInTheContainerStaysInTheContainer() throws {
        let lxcpath = TestLXCPath("injectlink")
        let container = try running("injlink", in: lxcpath)
        defer { try? container.stop() }
        // /home exists on the host and in the rootfs (/home/user).
        let link = "/tmp/escape-\(getpid())"
        #expect(symlink("/home", rootfs + link) == 0)
        defer { _ = unlink(rootfs + link) }
        let source = try HostDirectory("linksource", file: "marker", contents: "injected\n")
        try container.mount(source: source.path, target: link, options: "bind")
        // The host's /home is untouched; the container's /home has the mount.
        #expect(access("/home/marker", F_OK) != 0)
        #expect(try FileContents.readText(inside(container, "/home/marker")) == "injected\n")
        try container.unmount("/home")
        #expect(access(inside(container, "/home/user"), F_OK) == 0)

        let dangling = "/tmp/dangling-\(getpid())"
        let hostPath = "/tmp/swiftlxc-inject-\(getpid())-nowhere"
        #expect(symlink(hostPath, rootfs + dangling) == 0)
        defer { _ = unlink(rootfs + dangling) }
        #expect(throws: ContainerError.self) {
            try container.mount(source: source.path, target: dangling, options: "bind")
        }
        #expect(access(hostPath, F_OK) != 0)
        #expect(access(rootfs + hostPath, F_OK) != 0)
    }

    @Test func errorsNameTheCallAndThePath() throws {
        let lxcpath = TestLXCPath("injecterr")
        let container = try running("injerr", in: lxcpath)
        let hostMounts = hostMountCount()
        #expect {
            try container.mount(
                source: "/nonexistent-source-\(getpid())", target: "/mnt/x", options: "bind")
        } throws: { error in
            "\(error)".contains("open_tree") && "\(error)".contains("/nonexistent-source")
        }
        #expect {
            try container.mount(
                source: "none", target: "/mnt/y", type: "nosuchfs", options: "defaults")
        } throws: { error in "\(error)".contains("nosuchfs") }
        #expect {
            try container.unmount("/mnt/not-a-mount-\(getpid())")
        } throws: { error in "\(error)".contains("/mnt/not-a-mount") }
        #expect {
            try container.mount(source: "/tmp", target: "relative/path", options: "bind")
        } throws: { error in "\(error)".contains("not absolute") }
        #expect(hostMountCount() == hostMounts)

        try container.stop()
        #expect {
            try container.mount(source: "/tmp", target: "/mnt/z", options: "bind")
        } throws: { error in "\(error)".contains("not running") || "\(error)".contains("connect") }
    }
}
