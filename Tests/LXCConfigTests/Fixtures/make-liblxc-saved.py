# Writes liblxc-saved.conf with liblxc's save_config through python3-lxc (run with /usr/bin/python3).
import lxc, sys, os
out = sys.argv[1]
os.makedirs("/tmp/lxcconfig-fixture/saved", exist_ok=True)
c = lxc.Container("saved", "/tmp/lxcconfig-fixture")
items = [
    ("lxc.uts.name", "web"), ("lxc.rootfs.path", "dir:/srv/web/rootfs"),
    ("lxc.net.0.type", "veth"), ("lxc.net.0.link", "lxcbr0"), ("lxc.net.0.flags", "up"),
    ("lxc.net.0.name", "eth0"), ("lxc.net.0.ipv4.address", "10.0.3.5/24"),
    ("lxc.net.0.ipv4.gateway", "10.0.3.1"), ("lxc.net.0.veth.pair", "vethweb"),
    ("lxc.net.0.veth.ipv4.route", "198.51.100.0/24"), ("lxc.net.0.veth.ipv6.route", "2001:db8::/64"),
    ("lxc.idmap", "u 0 100000 65536"), ("lxc.idmap", "g 0 100000 65536"),
    ("lxc.mount.entry", "proc proc proc nodev,noexec,nosuid 0 0"),
    ("lxc.mount.entry", "/srv/data data none bind,create=dir,optional 0 0"),
    ("lxc.mount.auto", "proc:mixed sys:ro cgroup:mixed"),
    ("lxc.cap.drop", "sys_module mac_admin"), ("lxc.prlimit.nofile", "1024:4096"),
    ("lxc.sysctl.net.ipv4.ip_forward", "1"), ("lxc.hook.pre-start", "/usr/local/bin/prestart"),
    ("lxc.hook.mount", "/usr/local/bin/mounthook"), ("lxc.cgroup.memory.limit_in_bytes", "512M"),
    ("lxc.cgroup2.pids.max", "100"), ("lxc.environment", "APP=web"),
    ("lxc.console.buffer.size", "auto"), ("lxc.signal.halt", "SIGPWR"),
    ("lxc.namespace.clone", "mnt pid uts ipc net"), ("lxc.time.offset.boot", "1h"),
    ("lxc.init.cmd", "/sbin/init --log"), ("lxc.group", "webservers"),
]
import _lxc
for k, v in items:
    if not _lxc.Container.set_config_item(c, k, v):
        print("failed", k, v); sys.exit(1)
if not c.save_config(out):
    sys.exit(1)
