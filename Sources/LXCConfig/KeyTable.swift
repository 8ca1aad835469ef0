/// LXC 5.0.2's config keys: the top-level table `lxc_config_item_is_supported` matches against
/// and the per-network sub-keys of `lxc.net.N.*`, each with its value form and meaning.
///
/// The order is LXC's, so `keys()` lists them as `get_keys` does. `Docs/config.md` is generated
/// from these entries (`ConfigDocs.markdown`), which keeps the documentation from drifting.
public struct ConfigKey: Sendable, Equatable {
    /// The key as written in a config file, e.g. `lxc.mount.entry`.
    public let name: String
    /// True when LXC matches the key by prefix and sub-keys follow it (`lxc.cgroup2.<key>`).
    public let isFamily: Bool
    /// The value form, e.g. `0|1` or `<size>|auto`.
    public let form: String
    /// What the key means, one sentence.
    public let summary: String

    init(_ name: String, family: Bool = false, _ form: String, _ summary: String) {
        self.name = name
        self.isFamily = family
        self.form = form
        self.summary = summary
    }
}

/// The key tables.
public enum ConfigKeys {
    /// The top-level keys, in the order of LXC 5.0.2's `config_jump_table` without its two
    /// prefix-only entries (`lxc.namespace.share.` and `lxc.net.`), which `get_keys` skips too.
    public static let top: [ConfigKey] = [
        ConfigKey(
            "lxc.arch", "<arch>",
            "personality of the container: i686 and x86 style names give linux32, x86_64 style names linux64"
        ),
        ConfigKey(
            "lxc.apparmor.profile", "<profile>|unconfined|generated|unchanged",
            "AppArmor profile the container runs under"),
        ConfigKey(
            "lxc.apparmor.allow_incomplete", "0|1",
            "start even when the kernel lacks AppArmor mount restrictions"),
        ConfigKey(
            "lxc.apparmor.allow_nesting", "0|1",
            "let the generated AppArmor profile allow nested containers"),
        ConfigKey(
            "lxc.apparmor.raw", "<rule>",
            "raw AppArmor rule added to the generated profile; repeatable"),
        ConfigKey(
            "lxc.autodev.tmpfs.size", "<bytes>",
            "size of the /dev tmpfs when lxc.autodev is on (default 500000)"),
        ConfigKey(
            "lxc.autodev", "0|1",
            "mount a tmpfs on /dev and populate the minimal device nodes (default 1)"),
        ConfigKey(
            "lxc.cap.drop", "<cap> [<cap>...]",
            "capabilities to drop, lowercase without cap_ (sys_admin); repeatable"),
        ConfigKey(
            "lxc.cap.keep", "<cap> [<cap>...]|none",
            "capabilities to keep, all others dropped; none clears the list"),
        ConfigKey(
            "lxc.cgroup2", family: true, "lxc.cgroup2.<file> = <value>",
            "cgroup v2 file to write, e.g. lxc.cgroup2.memory.max = 1G"),
        ConfigKey(
            "lxc.cgroup.dir.monitor.pivot", "<path>",
            "cgroup the monitor moves to (its lxc.pivot child) before removing its own cgroup"),
        ConfigKey(
            "lxc.cgroup.dir.monitor", "<path>",
            "cgroup of the monitor process, below the cgroup the container is based in"),
        ConfigKey(
            "lxc.cgroup.dir.container.inner", "<path>",
            "cgroup of the payload below the limits cgroup"),
        ConfigKey("lxc.cgroup.dir.container", "<path>", "cgroup that carries the container limits"),
        ConfigKey(
            "lxc.cgroup.dir", "<path>",
            "cgroup of the container, relative and without .. components"),
        ConfigKey("lxc.cgroup.relative", "0|1", "place the cgroup below the caller's cgroup"),
        ConfigKey(
            "lxc.cgroup", family: true, "lxc.cgroup.<file> = <value>",
            "cgroup v1 file to write, e.g. lxc.cgroup.memory.limit_in_bytes = 1G"),
        ConfigKey(
            "lxc.console.buffer.size", "<size>|auto",
            "console ring buffer size, rounded up to a power of two of at least one page; auto is 128 KiB"
        ),
        ConfigKey("lxc.console.logfile", "<path>", "file that receives the console output"),
        ConfigKey(
            "lxc.console.path", "<path>|none",
            "host device the container console is attached to; none for no console"),
        ConfigKey(
            "lxc.console.rotate", "0|1",
            "rotate the console log file when it reaches lxc.console.size"),
        ConfigKey(
            "lxc.console.size", "<size>|auto",
            "console log file size limit, rounded like lxc.console.buffer.size"),
        ConfigKey("lxc.sched.core", "0|1", "give the container its own core-scheduling cookie"),
        ConfigKey(
            "lxc.environment.runtime", "<NAME>=<value>|<NAME>",
            "environment variable of the init (and attached processes) only, like lxc.environment; "
                + "repeatable"),
        ConfigKey(
            "lxc.environment.hooks", "<NAME>=<value>|<NAME>",
            "environment variable of the hooks only, like lxc.environment; repeatable"),
        ConfigKey(
            "lxc.environment", "<NAME>=<value>|<NAME>",
            "environment variable of the init and the hooks; a bare name copies the caller's value; "
                + "repeatable"),
        ConfigKey("lxc.ephemeral", "0|1", "destroy the container when it stops"),
        ConfigKey("lxc.execute.cmd", "<command line>", "command lxc-execute runs"),
        ConfigKey("lxc.group", "<group>", "autostart group the container belongs to; repeatable"),
        ConfigKey(
            "lxc.hook.autodev", "<command line>",
            "hook run after /dev is populated, before pivot_root; repeatable"),
        ConfigKey(
            "lxc.hook.clone", "<command line>", "hook run when the container is cloned; repeatable"),
        ConfigKey(
            "lxc.hook.destroy", "<command line>",
            "hook run when the container is destroyed; repeatable"),
        ConfigKey(
            "lxc.hook.mount", "<command line>",
            "hook run in the container mount namespace after the mounts; repeatable"),
        ConfigKey(
            "lxc.hook.post-stop", "<command line>",
            "hook run on the host after the container stopped; repeatable"),
        ConfigKey(
            "lxc.hook.pre-mount", "<command line>",
            "hook run in the new mount namespace before the rootfs is mounted; repeatable"),
        ConfigKey(
            "lxc.hook.pre-start", "<command line>",
            "hook run on the host before the namespaces are made; repeatable"),
        ConfigKey(
            "lxc.hook.start", "<command line>",
            "hook run inside the container just before init; repeatable"),
        ConfigKey(
            "lxc.hook.start-host", "<command line>",
            "hook run on the host after the namespaces are set up; repeatable"),
        ConfigKey(
            "lxc.hook.stop", "<command line>",
            "hook run on the host with the container namespaces before they go; repeatable"),
        ConfigKey(
            "lxc.hook.version", "0|1",
            "hook calling convention: 0 passes arguments, 1 passes environment variables"),
        ConfigKey(
            "lxc.hook", "", "family name of the lxc.hook.* keys; clearing it clears every hook"),
        ConfigKey(
            "lxc.idmap", "u|g <container id> <host id> <count>",
            "user or group id range mapped into a user namespace; repeatable"),
        ConfigKey(
            "lxc.include", "<file>|<directory>",
            "read another config file, or every *.conf file of a directory"),
        ConfigKey(
            "lxc.init.cmd", "<command line>",
            "command line of the container init (default /sbin/init)"),
        ConfigKey("lxc.init.gid", "<gid>", "group id the init runs as"),
        ConfigKey(
            "lxc.init.groups", "<gid>[,<gid>...]",
            "supplementary groups of the init; repeatable, appends"),
        ConfigKey("lxc.init.uid", "<uid>", "user id the init runs as"),
        ConfigKey("lxc.init.cwd", "<path>", "working directory of the init"),
        ConfigKey("lxc.keyring.session", "0|1", "give the container a new session keyring"),
        ConfigKey("lxc.log.file", "<path>", "file the container log goes to"),
        ConfigKey(
            "lxc.log.level", "TRACE|DEBUG|INFO|NOTICE|WARN|ERROR|CRIT|ALERT|FATAL|0-8",
            "level of the container log"),
        ConfigKey("lxc.log.syslog", "daemon|local0-local7", "syslog facility to log to as well"),
        ConfigKey(
            "lxc.monitor.unshare", "<number>",
            "non-zero makes the monitor unshare its mount namespace"),
        ConfigKey(
            "lxc.monitor.signal.pdeath", "<signal>",
            "signal the monitor gets when its parent dies (default SIGKILL)"),
        ConfigKey(
            "lxc.mount.auto",
            "proc[:mixed|rw] sys[:ro|mixed|rw] cgroup[-full][:mixed|ro|rw][:force] "
                + "cgroup2[:ro][:force] shmounts:<host>[:<container>]",
            "standard filesystems mounted automatically"),
        ConfigKey(
            "lxc.mount.entry", "<source> <target> <type> <options> [<dump> <pass>]",
            "fstab-style mount, target relative to the rootfs; repeatable"),
        ConfigKey("lxc.mount.fstab", "<path>", "fstab-style file of further mounts"),
        ConfigKey(
            "lxc.namespace.clone", "<ns> [<ns>...]",
            "namespaces to create: cgroup ipc mnt net pid time user uts"),
        ConfigKey(
            "lxc.namespace.keep", "<ns> [<ns>...]",
            "namespaces to keep from the caller (excludes lxc.namespace.clone)"),
        ConfigKey(
            "lxc.time.offset.boot", "<integer>h|m|s|ms|us|ns",
            "CLOCK_BOOTTIME offset of a new time namespace"),
        ConfigKey(
            "lxc.time.offset.monotonic", "<integer>h|m|s|ms|us|ns",
            "CLOCK_MONOTONIC offset of a new time namespace"),
        ConfigKey(
            "lxc.net", "", "family name of the network keys; an empty value clears every network"),
        ConfigKey("lxc.no_new_privs", "0|1", "set PR_SET_NO_NEW_PRIVS before exec of the init"),
        ConfigKey(
            "lxc.prlimit", family: true, "lxc.prlimit.<resource> = <soft>[:<hard>]|unlimited",
            "resource limit, e.g. lxc.prlimit.nofile = 1024:4096"),
        ConfigKey("lxc.pty.max", "<number>", "maximum number of ptys (devpts instances limit)"),
        ConfigKey(
            "lxc.rootfs.managed", "0|1",
            "whether LXC owns the rootfs and removes it with the container (default 1)"),
        ConfigKey(
            "lxc.rootfs.mount", "<path>", "host directory the rootfs is mounted on during setup"),
        ConfigKey(
            "lxc.rootfs.options", "<mount options>",
            "options for mounting the rootfs, e.g. idmap=container"),
        ConfigKey(
            "lxc.rootfs.path", "[<type>:]<path>", "root filesystem; a dir: prefix is dropped"),
        ConfigKey(
            "lxc.seccomp.allow_nesting", "0|1",
            "load the seccomp profile even when already filtered"),
        ConfigKey(
            "lxc.seccomp.notify.cookie", "<string>",
            "cookie sent with each seccomp notification to the proxy"),
        ConfigKey(
            "lxc.seccomp.notify.proxy", "unix:<path>|unix:@<abstract>",
            "socket of the seccomp notification proxy"),
        ConfigKey("lxc.seccomp.profile", "<path>", "LXC seccomp policy file"),
        ConfigKey(
            "lxc.selinux.context.keyring", "<context>", "SELinux context of the session keyring"),
        ConfigKey("lxc.selinux.context", "<context>", "SELinux context the container runs under"),
        ConfigKey(
            "lxc.signal.halt", "<signal>", "signal sent to the init to halt (default SIGPWR)"),
        ConfigKey(
            "lxc.signal.reboot", "<signal>", "signal sent to the init to reboot (default SIGINT)"),
        ConfigKey(
            "lxc.signal.stop", "<signal>", "signal sent to the init to stop (default SIGKILL)"),
        ConfigKey("lxc.start.auto", "0|1", "start the container at boot"),
        ConfigKey("lxc.start.delay", "<seconds>", "wait after autostarting the container"),
        ConfigKey("lxc.start.order", "<integer>", "autostart order, higher first"),
        ConfigKey("lxc.tty.dir", "<directory>", "directory under /dev for the tty devices"),
        ConfigKey("lxc.tty.max", "<number>", "number of ttys for the container"),
        ConfigKey("lxc.uts.name", "<hostname>", "hostname of the container"),
        ConfigKey(
            "lxc.sysctl", family: true, "lxc.sysctl.<name> = <value>",
            "sysctl set in the container, e.g. lxc.sysctl.net.ipv4.ip_forward = 1"),
        ConfigKey(
            "lxc.proc", family: true, "lxc.proc.<file> = <value>",
            "/proc/<pid>/ file of the init to write, e.g. lxc.proc.oom_score_adj = 10"),
    ]

    /// The sub-keys of `lxc.net.N.`, in the order of LXC 5.0.2's `config_jump_table_net`.
    public static let network: [ConfigKey] = [
        ConfigKey("flags", "up", "bring the interface up; LXC reads any value as up"),
        ConfigKey("hwaddr", "<mac>", "MAC address; each x is replaced by a random hex digit"),
        ConfigKey(
            "ipv4.address", "<a.b.c.d>[/<prefix>] [<broadcast>]",
            "IPv4 address in the container; repeatable"),
        ConfigKey(
            "ipv4.gateway", "<a.b.c.d>|auto|dev",
            "IPv4 default gateway; auto uses the link address, dev a device route"),
        ConfigKey(
            "ipv6.address", "<address>[/<prefix>]",
            "IPv6 address in the container (default prefix 64); repeatable"),
        ConfigKey("ipv6.gateway", "<address>|auto|dev", "IPv6 default gateway"),
        ConfigKey("link", "<device>", "host bridge or device the interface attaches to"),
        ConfigKey("l2proxy", "0|1", "add proxy ARP/NDP entries for the addresses on the link"),
        ConfigKey("macvlan.mode", "private|vepa|bridge|passthru", "macvlan mode (default private)"),
        ConfigKey("ipvlan.mode", "l2|l3|l3s", "ipvlan mode (default l3)"),
        ConfigKey("ipvlan.isolation", "bridge|private|vepa", "ipvlan isolation (default bridge)"),
        ConfigKey("mtu", "<number>", "MTU of the interface"),
        ConfigKey("name", "<name>", "interface name inside the container"),
        ConfigKey(
            "script.down", "<command line>", "script run on the host when the interface goes down"),
        ConfigKey(
            "script.up", "<command line>", "script run on the host when the interface is created"),
        ConfigKey(
            "type", "veth|macvlan|ipvlan|vlan|phys|empty|none",
            "kind of network; none shares the host network"),
        ConfigKey("vlan.id", "<0-4095>", "VLAN id of a vlan interface"),
        ConfigKey("veth.mode", "bridge|router", "veth mode (default bridge)"),
        ConfigKey("veth.n_rxqueues", "<number>", "receive queues of the veth"),
        ConfigKey("veth.n_txqueues", "<number>", "transmit queues of the veth"),
        ConfigKey("veth.pair", "<name>", "name of the host side of the veth"),
        ConfigKey(
            "veth.ipv4.route", "<a.b.c.d>/<prefix>",
            "host route to the container through the veth; repeatable"),
        ConfigKey(
            "veth.ipv6.route", "<address>/<prefix>", "IPv6 host route through the veth; repeatable"),
        ConfigKey(
            "veth.vlan.id", "<1-4094>|none", "untagged VLAN of the veth bridge port; none is -1"),
        ConfigKey(
            "veth.vlan.tagged.id", "<1-4094>", "tagged VLAN of the veth bridge port; repeatable"),
    ]

    /// `lxc_config_item_is_supported`: an exact match against the top-level keys.
    public static func isSupported(_ key: String) -> Bool {
        topNames.contains(key)
    }

    static let topNames: Set<String> = Set(top.map(\.name))
    static let networkNames: Set<String> = Set(network.map(\.name))
}
