# Run by LXCABITests with /usr/bin/python3 (Debian's python3-lxc) and SwiftLXC's
# liblxc.so.1 first on LD_LIBRARY_PATH: a create, start, attach, stop, destroy cycle through
# the unchanged python3-lxc module. Prints "ok" when every check holds.
#   cycle.py LXCPATH ROOTFS LIBRARY
import os
import select
import sys

import lxc

lxcpath, rootfs, library = sys.argv[1:4]

with open("/proc/self/maps") as maps:
    loaded = {line.split()[-1] for line in maps if "liblxc" in line}
assert loaded == {library}, loaded

assert lxc.version == "5.0.2", lxc.version
assert lxc.get_global_config_item("lxc.lxcpath") == "/var/lib/lxc"

c = lxc.Container("pycycle", lxcpath)
assert c.name == "pycycle"
assert not c.defined and c.state == "STOPPED" and c.init_pid == -1
assert c.config_file_name == lxcpath + "/pycycle/config"
assert c.controllable

assert c.set_config_item("lxc.rootfs.path", rootfs)
assert c.set_config_item("lxc.uts.name", "pycycle-host")
assert c.set_config_item("lxc.init.cmd", "/bin/sleep 1000")
assert c.set_config_item("lxc.environment", ["CYCLE=1"])
assert c.set_config_item("lxc.tty.max", "1")
assert c.get_config_item("lxc.uts.name") == "pycycle-host"
assert "lxc.uts.name" in c.get_keys()
assert c.create(None)
assert c.defined
assert lxc.list_containers(config_path=lxcpath) == ("pycycle",)

assert c.start()
assert c.wait("RUNNING", 10)
assert c.state == "RUNNING" and c.running
pid = c.init_pid
assert pid > 0
with open("/proc/%d/cmdline" % pid, "rb") as f:
    assert f.read().split(b"\0")[0] == b"/bin/sleep"
assert lxc.list_containers(active=True, defined=False, config_path=lxcpath) == ("pycycle",)
assert c.get_running_config_item("lxc.uts.name") == "pycycle-host"

# attach_wait runs the Python callable in the container; lxc.attach_run_command execs.
status = c.attach_wait(lxc.attach_run_command, ["/bin/sh", "-c", 'test "$(hostname)" = pycycle-host && exit 7'])
assert status >> 8 == 7, status
assert c.attach_wait(lxc.attach_run_command, ["/bin/true"]) == 0

# A Python function in the container's namespaces: it sees the container's hostname.
read, write = os.pipe()


def inside(_):
    os.write(write, os.uname().nodename.encode())
    return 0


assert c.attach_wait(inside, None) == 0
os.close(write)
assert os.read(read, 100) == b"pycycle-host"
os.close(read)

# console_getfd: a client of the console sees what the container writes to /dev/console.
console = c.console_getfd(0)
assert console >= 0, console
assert c.attach_wait(lxc.attach_run_command, ["/bin/sh", "-c", "echo via-console > /dev/console"]) == 0
seen = b""
for _ in range(100):
    ready, _, _ = select.select([console], [], [], 0.05)
    if ready:
        seen += os.read(console, 4096)
    if b"via-console" in seen:
        break
assert b"via-console" in seen, seen
os.close(console)

# console_getfd(-1) with lxc.tty.max = 1: the controller of tty 1, whose peer is /dev/tty1.
tty = c.console_getfd()
assert tty >= 0, tty
assert c.attach_wait(lxc.attach_run_command, ["/bin/sh", "-c", "echo via-tty1 > /dev/tty1"]) == 0
seen = b""
for _ in range(100):
    ready, _, _ = select.select([tty], [], [], 0.05)
    if ready:
        seen += os.read(tty, 4096)
    if b"via-tty1" in seen:
        break
assert b"via-tty1" in seen, seen
os.close(tty)

assert c.freeze() and c.state == "FROZEN"
assert c.unfreeze() and c.state == "RUNNING"
assert c.get_cgroup_item("pids.current") != ""

assert c.stop()
assert c.state == "STOPPED" and c.init_pid == -1
assert c.destroy()
assert not c.defined
print("ok")
