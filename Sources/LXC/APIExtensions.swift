/// LXC's API-extension registry: the names of `lxc_has_api_extension`, in LXC's order, each
/// true only once SwiftLXC implements its feature and tests it.
public enum APIExtensions {
    /// One entry of LXC's `api_extensions[]`.
    public struct Entry: Sendable, Equatable {
        public let name: String
        /// Whether SwiftLXC implements and tests the feature this name stands for.
        public let isAvailable: Bool
    }

    /// Every name LXC knows, in `api_extensions[]` order (LXC 7.0.0, which appends
    /// `environment_runtime_hooks` to 5.0.2's 29 names).
    public static let all: [Entry] = [
        // The log: levels, LXC's line format, file and stderr appenders (LXCSystem.Log).
        Entry(name: "lxc_log", isAvailable: true),
        Entry(name: "lxc_config_item_is_supported", isAvailable: true),
        // The monitor's pty console, ring buffer and log file (ConsoleTests).
        Entry(name: "console_log", isAvailable: true),
        // The monitor restarts a container whose init ends with SIGHUP (LifecycleTests).
        Entry(name: "reboot2", isAvailable: true),
        // Detached mounts attached in the container's mount namespace (MountInjectionTests).
        Entry(name: "mount_injection", isAvailable: true),
        // lxc.cgroup.relative places below the caller's cgroup (ContainerCgroupPlacementTests).
        Entry(name: "cgroup_relative", isAvailable: true),
        // A bound file onto a file target (MountInjectionTests).
        Entry(name: "mount_injection_file", isAvailable: true),
        // Nested filters skip or stack (SeccompRunTests).
        Entry(name: "seccomp_allow_nesting", isAvailable: true),
        // Notify rules: the monitor answers, or a proxy (ContainerSeccompTests, NotifyTests).
        Entry(name: "seccomp_notify", isAvailable: true),
        // veth.ipv4/ipv6.route host routes (ContainerNetworkTests, LXCNetworkTests).
        Entry(name: "network_veth_routes", isAvailable: true),
        Entry(name: "network_ipvlan", isAvailable: false),
        // Tested in LXCNetworkTests with macvlan over IPv4.
        Entry(name: "network_l2proxy", isAvailable: true),
        // gateway = dev gives a device route (LXCNetworkTests).
        Entry(name: "network_gateway_device_route", isAvailable: true),
        // mtu on phys and macvlan devices (LXCNetworkTests).
        Entry(name: "network_phys_macvlan_mtu", isAvailable: true),
        // veth.mode = router over IPv4 (LXCNetworkTests).
        Entry(name: "network_veth_router", isAvailable: true),
        // A BPF device program on the unified hierarchy (ContainerCgroupPlacementTests).
        Entry(name: "cgroup2_devices", isAvailable: true),
        // Pure cgroup2 hosts: detection, placement, freeze, kill, BPF devices, stats, limits
        // of the controllers cgroup2 offers (PureCgroup2Tests, on a real cgroup2-only view).
        Entry(name: "cgroup2", isAvailable: true),
        // CLONE_PIDFD, pidfd_send_signal, waitid(P_PIDFD) throughout (SpawnTests).
        Entry(name: "pidfd", isAvailable: true),
        // lxc.cgroup.dir.monitor[.pivot] and .container[.inner] (CgroupIsolationTests).
        Entry(name: "cgroup_advanced_isolation", isAvailable: true),
        Entry(name: "network_bridge_vlan", isAvailable: false),
        // lxc.time.offset.boot and .monotonic in a new time namespace (TimeNamespaceTests).
        Entry(name: "time_namespace", isAvailable: true),
        // allowlist/denylist and whitelist/blacklist (LXCPolicyParserTests).
        Entry(name: "seccomp_allow_deny_syntax", isAvailable: true),
        // The monitor hands out the devpts mount (DevptsFDTests).
        Entry(name: "devpts_fd", isAvailable: true),
        // The monitor hands out the listener (ContainerSeccompTests).
        Entry(name: "seccomp_notify_fd_active", isAvailable: true),
        // The monitor sends LXC's proxy datagram with the listener as third fd
        // (ContainerSeccompProxyTests).
        Entry(name: "seccomp_proxy_send_notify_fd", isAvailable: true),
        // lxc.rootfs.options and lxc.mount.entry idmap= (IdmappedMountTests).
        Entry(name: "idmapped_mounts", isAvailable: true),
        Entry(name: "idmapped_mounts_v2", isAvailable: true),
        Entry(name: "core_scheduling", isAvailable: false),
        // lxc.mount.auto's cgroup2 tokens, in the container's cgroup namespace (AutoMountEnvTests).
        Entry(name: "cgroup2_auto_mounting", isAvailable: true),
        // lxc.environment.runtime for the init, .hooks for the hooks (AutoMountEnvTests).
        Entry(name: "environment_runtime_hooks", isAvailable: true),
    ]

    /// The names that are available, in LXC's order.
    public static var available: [String] {
        all.filter(\.isAvailable).map(\.name)
    }

    /// `lxc_has_api_extension`: true only for a known name whose feature works here.
    public static func has(_ name: String) -> Bool {
        all.contains { $0.name == name && $0.isAvailable }
    }
}

/// `lxc_has_api_extension`.
public func hasAPIExtension(_ name: String) -> Bool {
    APIExtensions.has(name)
}
