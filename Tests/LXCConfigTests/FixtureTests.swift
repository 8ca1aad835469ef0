import Foundation
import Testing

@testable import LXCConfig

@Suite struct FixtureTests {
    @Test(arguments: ["lxc-create-busybox.conf", "liblxc-saved.conf"])
    func lxcWrittenConfigLoadsAndSavesByteStable(name: String) throws {
        let original = try Fixtures.text(name)
        let config = try LXCConfiguration(contentsOf: Fixtures.path(name))
        #expect(config.text == original)
        let again = try LXCConfiguration(parsing: config.text)
        #expect(again.text == original)
        #expect(again == config)
        _ = try ContainerConfig(lxc: config, name: "fixture")
    }

    @Test func busyboxConfigBecomesTheModel() throws {
        let config = try LXCConfiguration(contentsOf: Fixtures.path("lxc-create-busybox.conf"))
        #expect(try config.get("lxc.rootfs.path") == "/tmp/fx/fixture/rootfs")
        #expect(try config.get("lxc.uts.name") == "fixture")
        #expect(try config.get("lxc.signal.halt") == "10")
        let model = try ContainerConfig(lxc: config, name: "fixture")
        #expect(model.hostname == "fixture")
        #expect(model.capabilities.drop.contains("CAP_SYS_MODULE"))
        #expect(model.mountAuto.proc == .mixed && model.mountAuto.sys == .ro)
        #expect(model.mounts.first?.options == ["defaults", "create=dir"])
        #expect(model.networks.first?.type == "veth" && model.networks.first?.up == true)
        #expect(model.console.ttyCount == 5)
    }

    @Test func savedConfigBecomesTheModel() throws {
        let config = try LXCConfiguration(contentsOf: Fixtures.path("liblxc-saved.conf"))
        let model = try ContainerConfig(lxc: config, name: "web")
        #expect(
            model.idmaps.first == .init(kind: .user, containerID: 0, hostID: 100000, count: 65536))
        #expect(model.process.rlimits == [.init(resource: "nofile", soft: 1024, hard: 4096)])
        #expect(model.networks.first?.vethIPv4Routes == ["198.51.100.0/24"])
        #expect(model.sysctls == [.init("net.ipv4.ip_forward", "1")])
        #expect(model.cgroup.v1 == [.init("memory.limit_in_bytes", "512M")])
        #expect(model.cgroup.v2 == [.init("pids.max", "100")])
        #expect(model.hooks.lxc["pre-start"]?.first?.path == "/usr/local/bin/prestart")
        #expect(model.timeOffsets.boot.seconds == 3600)
        #expect(model.process.args == ["/sbin/init", "--log"])
        #expect(model.namespaces.create == [.mnt, .pid, .uts, .ipc, .net])
        #expect(try config.get("lxc.console.buffer.size") == "131072")
    }

    /// Saves a config through SwiftLXC and loads it with the real liblxc.
    @Test func savedFileLoadsInLiblxc() throws {
        guard pythonHasLXC else {
            print("skipped: /usr/bin/python3 cannot import lxc")
            return
        }
        var config = try LXCConfiguration(contentsOf: Fixtures.path("liblxc-saved.conf"))
        try config.set("lxc.net.1.type", "macvlan")
        try config.set("lxc.net.1.macvlan.mode", "bridge")
        try config.set("lxc.prlimit.nproc", "100:unlimited")
        let directory = scratchDirectory()
        let file = directory + "/config"
        try config.save(to: file)
        let keys = [
            "lxc.uts.name", "lxc.idmap", "lxc.net.0.veth.ipv4.route", "lxc.net.1.macvlan.mode",
            "lxc.prlimit.nproc", "lxc.mount.entry", "lxc.console.buffer.size", "lxc.cgroup",
            "lxc.time.offset.boot", "lxc.namespace.clone",
        ]
        let script = """
            import lxc, _lxc, sys, json
            c = lxc.Container("probe", "\(directory)")
            assert c.load_config(sys.argv[1])
            print(json.dumps([_lxc.Container.get_config_item(c, k) for k in sys.argv[2:]]))
            """
        let result = try run("/usr/bin/python3", ["-c", script, file] + keys)
        #expect(result.status == 0, "\(result.output)")
        let values = try #require(
            try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String])
        for (key, value) in zip(keys, values) {
            #expect(try config.get(key) == value, "\(key)")
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test(arguments: ["crun-spec.json", "runc-spec.json", "podman-config.json"])
    func ociSpecsDecode(name: String) throws {
        guard FileManager.default.fileExists(atPath: Fixtures.path(name)) else {
            Issue.record("fixture \(name) is missing")
            return
        }
        let model = try ContainerConfig(ociFile: Fixtures.path(name), name: "oci")
        #expect(!model.process.args.isEmpty)
        #expect(model.rootfs.path.hasPrefix("/"))
        #expect(model.namespaces.create.contains(.mnt))
        #expect(!model.mounts.isEmpty)
        #expect(model.capabilities.oci?.bounding.allSatisfy { $0.hasPrefix("CAP_") } == true)
    }
}
