import Testing

@testable import LXC

@Suite struct APIExtensionsTests {
    @Test func namesFollowLXCOrder() {
        let names = APIExtensions.all.map(\.name)
        #expect(names.count == 30)
        #expect(names.first == "lxc_log")
        #expect(names[1] == "lxc_config_item_is_supported")
        #expect(names.last == "environment_runtime_hooks")
        #expect(Set(names).count == names.count)
    }

    @Test func unknownNamesAreFalse() {
        #expect(!hasAPIExtension("init_pidfd"))
        #expect(!hasAPIExtension(""))
        #expect(!hasAPIExtension("LXC_LOG"))
    }

    @Test func logIsAvailable() {
        #expect(hasAPIExtension("lxc_log"))
        #expect(APIExtensions.available.first == "lxc_log")
    }
}
