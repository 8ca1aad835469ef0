import Foundation
import LXC
import Testing

@testable import LXCConfig

@Suite struct BadInputTests {
    /// Each line is loaded as line 12 of `/var/lib/lxc/web/config` after 11 comment lines.
    @Test(arguments: [
        ("lxc.prlimit.nofile = abc", "lxc.prlimit.nofile = abc: invalid limit"),
        ("lxc.bogus = 1", "lxc.bogus = 1: unknown key"),
        ("lxc.network.type = veth", "lxc.network.type = veth: legacy key, use lxc.net.[i].type"),
        (
            "lxc.network.0.ipv4 = 10.0.0.1/24",
            "lxc.network.0.ipv4 = 10.0.0.1/24: legacy key, use lxc.net.0.ipv4.address"
        ),
        ("lxc.utsname = web", "lxc.utsname = web: legacy key, use lxc.uts.name"),
        ("lxc.limit.nofile = 10", "lxc.limit.nofile = 10: legacy key, use lxc.prlimit.nofile"),
        ("lxc.tty.max = -1", "lxc.tty.max = -1: not a number"),
        ("lxc.tty.max = 99999999999", "lxc.tty.max = 99999999999: number out of range"),
        ("lxc.autodev = 2", "lxc.autodev = 2: expected 0 or 1"),
        (
            "lxc.cap.drop = CAP_SYS_ADMIN",
            "lxc.cap.drop = CAP_SYS_ADMIN: unknown capability CAP_SYS_ADMIN"
        ),
        (
            "lxc.idmap = b 0 1 2",
            "lxc.idmap = b 0 1 2: expected u|g <container id> <host id> <count>"
        ),
        ("lxc.net.0.veth.vlan.id = 5000", "lxc.net.0.veth.vlan.id = 5000: number out of range"),
        (
            "lxc.net.0.ipv4.address = 10.0.0.1/33",
            "lxc.net.0.ipv4.address = 10.0.0.1/33: invalid prefix"
        ),
        ("lxc.net.0.bogus = 1", "lxc.net.0.bogus = 1: unknown key"),
        ("lxc.net.x.type = veth", "lxc.net.x.type = veth: invalid network index"),
        ("lxc.namespace.clone = mount", "lxc.namespace.clone = mount: unknown namespace mount"),
        (
            "lxc.time.offset.boot = 1d",
            "lxc.time.offset.boot = 1d: invalid time offset unit, expected h, m, s, ms, us or ns"
        ),
        ("lxc.signal.halt = PWR", "lxc.signal.halt = PWR: invalid signal"),
        (
            "lxc.mount.auto = proc:bogus",
            "lxc.mount.auto = proc:bogus: invalid filesystem to automount proc:bogus"
        ),
        (
            "lxc.include = /nonexistent/x.conf",
            "lxc.include = /nonexistent/x.conf: cannot read /nonexistent/x.conf: no such file or directory"
        ),
        ("lxc.uts.name", "lxc.uts.name = : missing ="),
    ])
    func badLineNamesFileLineKeyAndValue(line: String, message: String) {
        let text = String(repeating: "# comment\n", count: 11) + line + "\n"
        var config = LXCConfiguration()
        let errors = config.load(text, file: "/var/lib/lxc/web/config")
        #expect(errors.map(\.description) == ["/var/lib/lxc/web/config:12: " + message])
    }

    @Test func failedSetLeavesTheConfigUnchanged() throws {
        var config = LXCConfiguration()
        try config.set("lxc.net.0.type", "veth")
        try config.set("lxc.prlimit.nofile", "10")
        let before = config
        #expect(throws: ConfigError.self) { try config.set("lxc.prlimit.nofile", "abc") }
        #expect(throws: ConfigError.self) { try config.set("lxc.net.1.type", "bogus") }
        #expect(throws: ConfigError.self) { try config.set("lxc.mount.auto", "proc bogus") }
        #expect(config == before)
    }

    @Test func checkReportsEveryErrorAndKeepsGoing() {
        var config = LXCConfiguration()
        let errors = config.load("lxc.tty.max = x\nlxc.uts.name = a\nlxc.pty.max = y\n", file: "f")
        #expect(errors.map(\.line) == [1, 3])
        #expect((try? config.get("lxc.uts.name")) == "a")
    }

    @Test func includeOfADirectoryReadsItsConfFilesInOrder() throws {
        let directory = scratchDirectory()
        try "lxc.uts.name = one\n".write(
            toFile: directory + "/a.conf", atomically: true, encoding: .utf8)
        try "lxc.uts.name = two\nlxc.tty.max = 3\n".write(
            toFile: directory + "/b.conf", atomically: true, encoding: .utf8)
        try "lxc.uts.name = ignored\n".write(
            toFile: directory + "/c.txt", atomically: true, encoding: .utf8)
        try "lxc.tty.max = x\n".write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
        let config = try LXCConfiguration(parsing: "lxc.include = \(directory)\n")
        #expect(try config.get("lxc.uts.name") == "two")
        #expect(config.text == "lxc.include = \(directory)\n")
        var other = LXCConfiguration()
        let errors = other.load("lxc.include = \(directory)/bad\n", file: "main")
        #expect(errors.map(\.description) == ["\(directory)/bad:1: lxc.tty.max = x: not a number"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func familiesClearTogether() throws {
        var config = try LXCConfiguration(
            parsing: """
                lxc.net.0.type = veth
                lxc.net.0.ipv4.address = 10.0.0.2/24
                lxc.net.1.type = macvlan
                lxc.cgroup.cpu.shares = 512
                lxc.cgroup.memory.limit_in_bytes = 1G

                """)
        try config.clear("lxc.net.0")
        #expect(try config.get("lxc.net") == "macvlan\n")
        #expect(!config.text.contains("lxc.net.0."))
        try config.clear("lxc.cgroup")
        #expect(try config.get("lxc.cgroup") == "")
        try config.clear("lxc.net")
        #expect(try config.get("lxc.net") == "")
        #expect(throws: ConfigError.self) { try config.get("lxc.net.1.type") }
    }

    @Test func quotesAndWhitespaceAroundEqualsAreAccepted() throws {
        let config = try LXCConfiguration(parsing: "  lxc.uts.name\t=   \"web\"  \n\n# c\n")
        #expect(try config.get("lxc.uts.name") == "web")
        #expect(config.text == "  lxc.uts.name\t=   \"web\"  \n\n# c\n")
    }

    @Test func getKeysMatchesLiblxc() throws {
        var config = LXCConfiguration()
        try config.set("lxc.net.0.type", "veth")
        try config.set("lxc.net.1.type", "macvlan")
        #expect(
            try config.keys("lxc.net.0") == [
                "type", "script.up", "script.down", "flags", "link", "name", "hwaddr", "mtu",
                "ipv6.address", "ipv6.gateway", "ipv4.address", "ipv4.gateway", "veth.pair",
                "veth.ipv4.route", "veth.ipv6.route", "veth.vlan.id",
            ])
        #expect(try config.keys("lxc.net.1").last == "macvlan.mode")
        #expect(try config.keys("lxc.cgroup") == ["dir"])
        #expect(throws: ConfigError.self) { try config.keys("lxc.net.5") }
        #expect(throws: ConfigError.self) { try config.keys("lxc.bogus") }
    }

    @Test func docsFileEqualsTheGeneratedText() throws {
        let file = Fixtures.directory + "/../../../Docs/config.md"
        #expect(try String(contentsOfFile: file, encoding: .utf8) == ConfigDocs.markdown)
    }

    @Test func apiExtensionAndLibraryFaceAnswer() {
        #expect(hasAPIExtension("lxc_config_item_is_supported"))
        #expect(configItemIsSupported("lxc.net"))
        #expect(!configItemIsSupported("lxc.net.0.type"))
        #expect(!configItemIsSupported("lxc.cgroup.memory.limit_in_bytes"))
        #expect(!configItemIsSupported("lxc.network.type"))
    }
}

@Suite struct OCITests {
    @Test func unknownKeysAndIgnoredFieldsBecomeWarnings() throws {
        let json = """
            {"ociVersion":"1.2.0","process":{"user":{"uid":1,"gid":2},"cwd":"/","args":["sh"],
             "ioPriority":{"class":"IOPRIO_CLASS_IDLE"},"rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":2}],
             "capabilities":{"bounding":["CAP_NET_RAW","sys_admin"]}},
             "root":{"path":"rootfs","readonly":true},"hostname":"h","extra":1,
             "linux":{"intelRdt":{"closID":"x"},"namespaces":[{"type":"pid"},
               {"type":"network","path":"/proc/1/ns/net"}],
             "timeOffsets":{"boottime":{"secs":5,"nanosecs":6}},
             "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
              "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY",
                "args":[{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]}]}}}
            """
        let (spec, warnings) = try OCISpec.decode(Array(json.utf8))
        #expect(
            warnings == [
                "extra is not supported and is ignored",
                "process.ioPriority is not supported and is ignored",
                "linux.intelRdt is not supported and is ignored",
            ])
        let model = try ContainerConfig(oci: spec, bundle: "/b", warnings: warnings)
        #expect(model.rootfs.path == "/b/rootfs" && model.rootfs.readOnly)
        #expect(model.capabilities.oci?.bounding == ["CAP_NET_RAW", "CAP_SYS_ADMIN"])
        #expect(model.process.rlimits == [.init(resource: "nofile", soft: 1, hard: 2)])
        #expect(model.namespaces.create == [.pid])
        #expect(model.namespaces.join == [.init(kind: .net, path: "/proc/1/ns/net")])
        #expect(model.timeOffsets.boot == .init(seconds: 5, nanoseconds: 6))
        #expect(model.seccomp.oci?.syscalls?.first?.args?.first?.index == 1)
        #expect(model.warnings.count == 3)
    }

    @Test(arguments: [
        (
            "{",
            "invalid json at line 1, column 2: unexpected end of input, expected a member name in quotes"
        ),
        ("{\"ociVersion\":1}", "ociVersion: expected a string, found a number"),
        (
            "{\"ociVersion\":\"1.0\",\"process\":{\"cwd\":\"/\"}}",
            "process.user: missing required field"
        ),
        (
            "{\"ociVersion\":\"1.0\",\"process\":{\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},"
                + "\"capabilities\":{\"bounding\":[\"CAP_BOGUS\"]}}}",
            "process.capabilities.bounding: unknown capability CAP_BOGUS"
        ),
        (
            "{\"ociVersion\":\"1.0\",\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}",
            "linux.namespaces[0].type: unknown namespace bogus"
        ),
    ])
    func badDocumentsNameThePath(json: String, message: String) {
        do {
            let (spec, warnings) = try OCISpec.decode(Array(json.utf8))
            _ = try ContainerConfig(oci: spec, bundle: "/b", warnings: warnings)
            Issue.record("accepted \(json)")
        } catch {
            #expect("\(error)" == message)
        }
    }
}
