import Foundation
import Testing

@testable import LXCConfig

/// `lxc.environment.runtime` / `lxc.environment.hooks` (LXC 7.0) and the cgroup2 tokens of
/// `lxc.mount.auto` (LXC 4.0.12), as parsed and modelled.
@Suite struct EnvironmentAndCgroup2Tests {
    private func model(_ text: String) throws -> ContainerConfig {
        var config = LXCConfiguration()
        let errors = config.load(text, file: "config")
        #expect(errors.isEmpty, "\(errors)")
        return try ContainerConfig(lxc: config)
    }

    @Test func runtimeGoesToTheInitHooksToTheHooksAndPlainToBoth() throws {
        let config = try model(
            """
            lxc.environment = BOTH=1
            lxc.environment.runtime = ONLY_INIT=2
            lxc.environment.hooks = ONLY_HOOKS=3
            lxc.environment.runtime = SECOND=4
            """)
        #expect(config.process.env == ["BOTH=1", "ONLY_INIT=2", "SECOND=4"])
        #expect(config.hooks.lxcEnvironment == ["BOTH=1", "ONLY_HOOKS=3"])
    }

    @Test func aBareNameCopiesTheCallersValue() throws {
        setenv("SWIFTLXC_ENV_TEST", "from caller", 1)
        defer { unsetenv("SWIFTLXC_ENV_TEST") }
        var config = LXCConfiguration()
        try config.set("lxc.environment.hooks", "SWIFTLXC_ENV_TEST")
        try config.set("lxc.environment.runtime", "SWIFTLXC_ENV_TEST")
        #expect(try config.get("lxc.environment.hooks") == "SWIFTLXC_ENV_TEST=from caller\n")
        #expect(try config.get("lxc.environment.runtime") == "SWIFTLXC_ENV_TEST=from caller\n")
        #expect(throws: ConfigError.self) {
            try config.set("lxc.environment.runtime", "SWIFTLXC_SURELY_UNSET_VARIABLE")
        }
    }

    @Test func eachKeyIsSetReadAndClearedOnItsOwn() throws {
        var config = LXCConfiguration()
        try config.set("lxc.environment", "A=1")
        try config.set("lxc.environment.runtime", "B=2")
        try config.set("lxc.environment.runtime", "C=3")
        try config.set("lxc.environment.hooks", "D=4")
        #expect(try config.get("lxc.environment") == "A=1\n")
        #expect(try config.get("lxc.environment.runtime") == "B=2\nC=3\n")
        #expect(try config.get("lxc.environment.hooks") == "D=4\n")
        try config.clear("lxc.environment.runtime")
        #expect(try config.get("lxc.environment.runtime") == "")
        #expect(try config.get("lxc.environment") == "A=1\n")
        try config.set("lxc.environment.hooks", "")
        #expect(try config.get("lxc.environment.hooks") == "")
        #expect(try config.keys().contains("lxc.environment.runtime"))
        #expect(try config.keys().contains("lxc.environment.hooks"))
    }

    @Test(arguments: [
        ("cgroup2", MountAuto.Cgroup.Mode.rw), ("cgroup2:force", .rw), ("cgroup2:ro", .ro),
        ("cgroup2:ro:force", .ro),
    ])
    func cgroup2TokensAreAlwaysForced(token: String, mode: MountAuto.Cgroup.Mode) throws {
        let config = try model("lxc.mount.auto = proc:mixed sys:mixed \(token)\n")
        #expect(
            config.mountAuto.cgroup == MountAuto.Cgroup(kind: .cgroup2, mode: mode, force: true))
        #expect(config.mountAuto.proc == .mixed && config.mountAuto.sys == .mixed)
    }

    @Test(arguments: [
        "cgroup2:rw", "cgroup2:mixed", "cgroup2:", "cgroup2:ro:ro", "cgroup2:force:ro",
    ])
    func badCgroup2VariantsAreRefusedNamingTheKey(token: String) {
        var config = LXCConfiguration()
        let errors = config.load("lxc.mount.auto = \(token)\n", file: "config")
        #expect(
            errors.map(\.description) == [
                "config:1: lxc.mount.auto = \(token): invalid filesystem to automount \(token)"
            ])
    }
}
