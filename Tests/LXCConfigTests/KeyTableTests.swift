import Foundation
import Testing

@testable import LXCConfig

@Suite struct KeyTableTests {
    @Test func topLevelKeysAreThoseLxcTestGetkeysPrints() throws {
        var expected = try Fixtures.text("lxc-test-getkeys.txt").split(separator: "\n").map(
            String.init)
        // LXC 7.0 (environment_runtime_hooks) lists two keys before lxc.environment.
        let environment = try #require(expected.firstIndex(of: "lxc.environment"))
        expected.insert(
            contentsOf: ["lxc.environment.runtime", "lxc.environment.hooks"], at: environment)
        #expect(ConfigKeys.top.map(\.name) == expected)
        #expect(try LXCConfiguration().keys() == expected)
    }

    @Test func networkTableHasTheTwentyFiveSubkeys() {
        #expect(ConfigKeys.network.count == 25)
        #expect(Set(ConfigKeys.network.map(\.name)).count == 25)
    }

    @Test(arguments: [
        ("lxc.net", true), ("lxc.cgroup", true), ("lxc.uts.name", true), ("lxc.proc", true),
        ("lxc.net.0.type", false), ("lxc.net.0.veth.ipv4.route", false),
        ("lxc.cgroup.memory.limit_in_bytes", false), ("lxc.sysctl.net.ipv4.ip_forward", false),
        ("lxc.network.type", false), ("lxc.namespace.share.", false), ("lxc.net.", false),
        ("", false), ("lxc.bogus", false),
    ])
    func isSupportedMatchesWholeTopLevelKeys(key: String, expected: Bool) {
        #expect(ConfigKeys.isSupported(key) == expected)
    }

    /// Pairs where SwiftLXC refuses a value liblxc stores (or stores then reports as an error);
    /// see `LXCConfiguration`'s documentation for why.
    static let refusedWhereLXCAccepts: Set<String> = [
        "lxc.autodev.tmpfs.size=abc", "lxc.init.gid=abc", "lxc.net.0.mtu=abc",
        "lxc.prlimit.bogus=10",
    ]

    /// Every pair in `liblxc-readback.jsonl` was set with python3-lxc on liblxc 5.0.2 and read
    /// back (see the fixtures README); SwiftLXC must accept and refuse the same values and read
    /// back the same bytes.
    @Test func setAndGetMatchLiblxcForEveryObservedPair() throws {
        let lines = try Fixtures.text("liblxc-readback.jsonl").split(separator: "\n")
        #expect(lines.count > 150)
        for line in lines {
            let row = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])
            let key = try #require(row[0] as? String)
            let value = try #require(row[1] as? String)
            let accepted = try #require(row[2] as? Bool)
            let readBack = row[3] as? String
            var config = LXCConfiguration()
            if key.hasPrefix("lxc.net.0."), !key.hasSuffix(".type") {
                try config.set("lxc.net.0.type", Self.typeFor(key))
            }
            let pair = "\(key)=\(value)"
            if Self.refusedWhereLXCAccepts.contains(pair) {
                #expect(throws: ConfigError.self, "\(pair)") { try config.set(key, value) }
                continue
            }
            if !accepted {
                #expect(throws: ConfigError.self, "\(pair) should be refused") {
                    try config.set(key, value)
                }
                continue
            }
            try config.set(key, value)
            let got = try config.get(key)
            if key == "lxc.net.0.hwaddr", value.contains("x") {
                #expect(got.count == value.count && !got.contains("x"))
            } else if key == "lxc.environment", !value.contains("=") {
                let current = String(cString: getenv(value))
                #expect(got == "\(value)=\(current)\n")
            } else {
                #expect(got == readBack, "\(pair)")
            }
        }
    }

    static func typeFor(_ key: String) -> String {
        if key.contains("macvlan") { return "macvlan" }
        if key.contains("ipvlan") { return "ipvlan" }
        if key.hasSuffix(".vlan.id"), !key.contains("veth") { return "vlan" }
        return "veth"
    }
}
