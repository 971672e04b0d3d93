#!/bin/busybox sh
# Stage 1 of the systemd guest (PID 1 in the initramfs): load the 9p/overlay
# modules, mount the host root (9p, read-only) under a tmpfs overlay and the
# writable share, install the test unit from the share, then switch_root to
# Debian's systemd.  Pitfalls met (see tests/vm/README.md): /.dockerenv makes
# systemd believe it runs in a container and ignore the kernel command line;
# /proc, /sys, /dev are moved (not unmounted) into the new root and cgroup2
# is mounted there first; systemd-tmpfiles must not wipe /tmp (host's /tmp).
B=/bin/busybox
$B --install -s /bin
export PATH=/bin
fail() { echo "VMSD-FAIL stage1: $*"; poweroff -f; exit 1; }
mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
while read -r name kind; do
    out=$(insmod "/lib/modules/$name.ko" 2>&1) || case "$out" in
        *"File exists"*) ;;
        *) [ "$kind" = required ] && fail "insmod $name: $out" ;;
    esac
done < /lib/modules/order
P9=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || fail "mount 9p hostroot"
mount -t 9p -o "$P9" vmshare /share || fail "mount 9p vmshare"
mount -t tmpfs -o mode=0755 upper /upper || fail "mount tmpfs upper"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot \
    || fail "mount overlay"
R=/newroot
mkdir -p $R/vm-share $R/etc/systemd/system $R/etc/tmpfiles.d
cp /share/vmsd.target /share/vmsd.service $R/etc/systemd/system/ || fail "install units"
: > $R/etc/fstab
: > $R/etc/tmpfiles.d/tmp.conf
rm -f $R/.dockerenv $R/run/.containerenv
mount --move /share $R/vm-share || fail "move share"
echo "VMSD-STAGE1 done at $(cut -d' ' -f1 /proc/uptime)s"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs $R/run
for d in dev proc sys; do mount --move /$d $R/$d; done
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $R/sys/fs/cgroup || fail "mount cgroup2"
exec switch_root $R /lib/systemd/systemd
fail "switch_root"
