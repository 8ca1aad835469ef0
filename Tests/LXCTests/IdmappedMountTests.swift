import Glibc
import LXCInit
import LXCMount
import LXCSystem
import Testing

@testable import LXC

/// Runs `execute` with stdout captured.
private func run(_ options: ExecuteOptions) throws -> (String, TerminationStatus) {
    let pipe = try Pipe()
    var options = options
    options.stdio = [-1, pipe.writeEnd.rawValue, 2]
    let status = try execute(options)
    try pipe.writeEnd.close()
    return (String(decoding: try pipe.readEnd.readAll(), as: UTF8.self), status)
}

private func mountTable() -> String {
    (try? FileContents.readText("/proc/self/mountinfo")) ?? ""
}

private func shell(_ script: String) throws {
    let status = try Spawn.run(
        SpawnRequest(path: "/bin/sh", arguments: ["sh", "-c", script], fileMap: [0, 2, 2]))
    guard status == .exited(0) else { throw SyscallError(.EIO, call: "sh", object: script) }
}

/// A copy of the test rootfs and a directory of host-root-owned files, removed by `remove`.
private struct Scratch {
    let root: String
    let rootfs: String
    let shared: String

    init(_ name: String) throws {
        root = "/tmp/swiftlxc-idmap-\(name)-\(getpid())"
        rootfs = root + "/rootfs"
        shared = root + "/shared"
        try shell(
            "rm -rf \(root) && mkdir -p \(shared) && cp -a \(LXCTests.rootfs) \(rootfs)"
                + " && chown -R 0:0 \(rootfs) && echo hi > \(shared)/file && chown 0:0 \(shared)/file"
        )
    }

    func remove() { try? shell("rm -rf \(root)") }
}

private let userNamespace = [("lxc.idmap", "u 0 100000 65536"), ("lxc.idmap", "g 0 100000 65536")]

@Suite(.enabled(if: getuid() == 0, "idmapped mounts need root"), .serialized)
struct IdmappedMountTests {
    @Test func rootfsIdmappedToTheContainer() throws {
        let scratch = try Scratch("rootfs")
        defer { scratch.remove() }
        let before = mountTable()
        let (output, status) = try run(
            ExecuteOptions(
                name: "idmap-root", rootfs: scratch.rootfs,
                items: userNamespace + [("lxc.rootfs.options", "idmap=container")],
                command: [
                    "/bin/sh", "-c",
                    "stat -c %u:%g /bin/busybox; echo x > /root/made && stat -c %u /root/made;"
                        + " echo y > /tmp/made && stat -c %u /tmp/made",
                ]))
        #expect(status == .exited(0))
        #expect(output == "0:0\n0\n0\n")
        // Container root wrote through the idmapped mount: host root owns the files.
        var info = stat()
        #expect(stat(scratch.rootfs + "/root/made", &info) == 0 && info.st_uid == 0)
        #expect(mountTable() == before)
    }

    @Test func withoutIdmapRootfsFilesAreNobodys() throws {
        let scratch = try Scratch("plain")
        defer { scratch.remove() }
        let (output, status) = try run(
            ExecuteOptions(
                name: "idmap-plain", rootfs: scratch.rootfs, items: userNamespace,
                command: [
                    "/bin/sh", "-c", "stat -c %u /bin/busybox; echo x > /root/made || echo refused",
                ]))
        #expect(status == .exited(0))
        #expect(output.hasPrefix("65534\n"))
        #expect(output.hasSuffix("refused\n"))
    }

    @Test func mountEntryIdmappedToTheContainer() throws {
        let scratch = try Scratch("entry")
        defer { scratch.remove() }
        // The rootfs itself is not idmapped here: container root may not create the targets.
        try shell("mkdir \(scratch.rootfs)/mnt/x \(scratch.rootfs)/mnt/y \(scratch.rootfs)/mnt/z")
        let before = mountTable()
        let (output, status) = try run(
            ExecuteOptions(
                name: "idmap-entry", rootfs: scratch.rootfs,
                items: userNamespace + [
                    (
                        "lxc.mount.entry",
                        "\(scratch.shared) mnt/x none bind,create=dir,idmap=container 0 0"
                    ),
                    ("lxc.mount.entry", "\(scratch.shared) mnt/y none bind,create=dir 0 0"),
                    (
                        "lxc.mount.entry",
                        "\(scratch.shared) mnt/z none bind,ro,create=dir,idmap=container 0 0"
                    ),
                    (
                        "lxc.mount.entry",
                        "/nonexistent mnt/w none bind,optional,create=dir,idmap=container 0 0"
                    ),
                ],
                command: [
                    "/bin/sh", "-c",
                    "stat -c %u /mnt/x/file /mnt/y/file /mnt/z/file; echo z > /mnt/x/new && stat -c %u /mnt/x/new;"
                        + " echo z > /mnt/z/new || echo read-only; test -e /mnt/w || echo skipped",
                ]))
        #expect(status == .exited(0))
        #expect(output == "0\n65534\n0\n0\nread-only\nskipped\n")
        var info = stat()
        #expect(stat(scratch.shared + "/new", &info) == 0 && info.st_uid == 0)
        #expect(mountTable() == before)
    }

    @Test func mountEntryIdmappedToANamespacePath() throws {
        let scratch = try Scratch("path")
        defer { scratch.remove() }
        // A user namespace of another process, mapped by hand; the container has none.
        let holder = try Spawn.start(
            SpawnRequest(
                path: "/usr/bin/unshare", arguments: ["unshare", "--user", "sleep", "60"],
                fileMap: [0, 2, 2]))
        defer {
            try? holder.signal(SIGKILL)
            _ = try? holder.wait()
        }
        var mapped = false
        for _ in 0..<100 where !mapped {
            mapped =
                (try? FileContents.write("0 100000 65536\n", to: "/proc/\(holder.pid)/uid_map"))
                != nil
            if !mapped { usleep(10000) }
        }
        try FileContents.write("0 100000 65536\n", to: "/proc/\(holder.pid)/gid_map")
        let (output, status) = try run(
            ExecuteOptions(
                name: "idmap-path", rootfs: scratch.rootfs,
                items: [
                    (
                        "lxc.mount.entry",
                        "\(scratch.shared) mnt/x none bind,create=dir,idmap=/proc/\(holder.pid)/ns/user 0 0"
                    )
                ],
                command: ["/bin/sh", "-c", "stat -c %u:%g /mnt/x/file"]))
        #expect(status == .exited(0))
        #expect(output == "100000:100000\n")
    }

    @Test(arguments: [
        (
            "lxc.mount.entry", "SHARED mnt/x none bind,create=dir,idmap=bogus 0 0",
            "lxc.mount.entry", true
        ),
        (
            "lxc.mount.entry", "SHARED mnt/x none bind,create=dir,idmap= 0 0", "lxc.mount.entry",
            true
        ),
        (
            "lxc.mount.entry", "tmpfs mnt/x tmpfs create=dir,idmap=container 0 0",
            "lxc.mount.entry", true
        ),
        (
            "lxc.mount.entry", "SHARED mnt/x none bind,create=dir,idmap=/etc/hostname 0 0",
            "lxc.mount.entry idmap=/etc/hostname: open the user namespace: open /etc/hostname is not a user namespace",
            true
        ),
        (
            "lxc.mount.entry", "SHARED mnt/x none bind,create=dir,idmap=/nonexistent 0 0",
            "lxc.mount.entry idmap=/nonexistent", true
        ),
        ("lxc.rootfs.options", "idmap=nope", "lxc.rootfs.options", true),
        ("lxc.rootfs.options", "idmap=container", "lxc.rootfs.options", false),
    ])
    func badIdmapIsNamedAndLeavesNothing(key: String, value: String, expected: String, userns: Bool)
        throws
    {
        let scratch = try Scratch("bad")
        defer { scratch.remove() }
        let before = mountTable()
        let value = value.replacing("SHARED", with: scratch.shared)
        #expect {
            _ = try run(
                ExecuteOptions(
                    name: "idmap-bad", rootfs: scratch.rootfs,
                    items: (userns ? userNamespace : []) + [(key, value)], command: ["true"]))
        } throws: { error in
            let text = (error as? RunError)?.description ?? ""
            return text.contains(expected)
        }
        #expect(mountTable() == before)
        var info = stat()
        #expect(stat(scratch.rootfs + "/mnt/x", &info) != 0, "no target left behind")
    }
}

@Suite struct IdmapOptionTests {
    @Test func parsesAndTravelsInThePlan() throws {
        let options = try MountOptions(parsing: "bind,create=dir,idmap=/proc/7/ns/user")
        #expect(options.idmap == "/proc/7/ns/user")
        #expect(options.data.isEmpty)
        #expect(throws: MountOptionError.invalid("idmap=user")) {
            try MountOptions(parsing: "bind,idmap=user")
        }
        var rootfs = RootfsPlan(path: "/r")
        rootfs.idmap = "container"
        rootfs.mounts = [MountSpec(source: "/s", target: "/t", type: "none", options: options)]
        let plan = ContainerPlan(
            name: "p", newNamespaces: NamespaceSet([.mount, .user]), rootfs: rootfs,
            arguments: ["true"])
        let decoded = try ContainerPlan(decoding: plan.encoded())
        #expect(decoded.rootfs.idmap == "container")
        #expect(decoded.rootfs.mounts.first?.options.idmap == "/proc/7/ns/user")
    }
}
