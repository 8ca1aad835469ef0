#!/bin/sh
# Builds a busybox root filesystem from Debian's busybox-static: the binary, its applet
# links, /etc/passwd and /etc/group, and an init configuration that never waits on DHCP.
# Usage: Scripts/make-rootfs.sh DIR   (DIR is replaced if it holds an older rootfs)
set -eu

dir=${1:?usage: make-rootfs.sh DIR}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-rootfs: $busybox is missing (apt-get install busybox-static)" >&2; exit 1; }

# Build next to the target and rename at the end, so a half-built tree is never used.
tmp="$dir.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
for d in bin sbin usr/bin usr/sbin etc etc/init.d proc sys dev tmp root run var/log mnt home; do
    mkdir -p "$tmp/$d"
done
chmod 1777 "$tmp/tmp"
chmod 700 "$tmp/root"
cp "$busybox" "$tmp/bin/busybox"

for applet in $("$busybox" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$tmp/$(dirname "$applet")"
    ln -sf /bin/busybox "$tmp/$applet"
done

cat > "$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$tmp/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
users:x:100:user
user:x:1000:
nogroup:x:65534:
GROUP
echo busybox > "$tmp/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$tmp/etc/hosts"
mkdir -p "$tmp/home/user" && chown 1000:1000 "$tmp/home/user"

# busybox init: set up, then offer a shell on the console. No udhcpc: a container without
# DHCP would block in sysinit with signals masked, so halt and reboot would never arrive.
cat > "$tmp/etc/inittab" <<'INITTAB'
::sysinit:/etc/init.d/rcS
::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
INITTAB
cat > "$tmp/etc/init.d/rcS" <<'RCS'
#!/bin/sh
[ -e /proc/self ] || mount -t proc proc /proc
[ -e /sys/kernel ] || mount -t sysfs sysfs /sys 2>/dev/null
hostname -F /etc/hostname 2>/dev/null
ip link set lo up 2>/dev/null
exit 0
RCS
chmod 755 "$tmp/etc/init.d/rcS"

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "make-rootfs: busybox root filesystem in $dir"
