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

    @Test func availableNamesAreExactlyWhatIsTested() {
        #expect(
            APIExtensions.available == [
                "lxc_log", "lxc_config_item_is_supported", "console_log", "reboot2",
                "mount_injection", "cgroup_relative", "mount_injection_file",
                "seccomp_allow_nesting", "seccomp_notify", "network_veth_routes",
                "network_l2proxy", "network_gateway_device_route", "network_phys_macvlan_mtu",
                "network_veth_router", "cgroup2_devices", "cgroup2", "pidfd",
                "cgroup_advanced_isolation", "time_namespace",
                "seccomp_allow_deny_syntax", "devpts_fd", "seccomp_notify_fd_active",
                "seccomp_proxy_send_notify_fd",
                "idmapped_mounts", "idmapped_mounts_v2",
                "cgroup2_auto_mounting", "environment_runtime_hooks",
            ])
        // Implemented in part, or not tested on a kernel that has the feature.
        for name in [
            "network_ipvlan", "network_bridge_vlan",
        ] {
            #expect(!hasAPIExtension(name), "\(name)")
        }
    }

    @Test func logIsAvailable() {
        #expect(hasAPIExtension("lxc_log"))
        #expect(APIExtensions.available.first == "lxc_log")
    }
}
