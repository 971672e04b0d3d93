#!/bin/busybox sh
# Stage 1 (PID 1 in the initramfs): load modules, mount the host root (9p,
# read-only) under a tmpfs-backed overlay, mount the writable result share,
# then switch_root into the overlay and run stage 2 there.
B=/bin/busybox
$B --install -s /bin
export PATH=/bin

fail() {
    echo "VMRUN-FAIL stage1: $*"
    echo o > /proc/sysrq-trigger 2>/dev/null
    poweroff -f
    exit 1
}

mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
echo 1 > /proc/sys/kernel/printk
echo "VMRUN-STAGE1 kernel $(uname -r)"

while read -r name kind; do
    out=$(insmod "/lib/modules/$name.ko" 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        case "$out" in *"File exists"*) continue ;; esac
        if [ "$kind" = required ]; then
            fail "insmod $name: $out"
        fi
        echo "VMRUN-WARN insmod $name: $out"
    fi
done < /lib/modules/order

# 9p with a large msize: the default (8 KiB) makes every read crawl.
P9=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || fail "mount 9p hostroot"
mount -t 9p -o "$P9" vmshare /share || fail "mount 9p vmshare"
mount -t tmpfs -o mode=0755 upper /upper || fail "mount tmpfs upper"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work \
    overlay /newroot || fail "mount overlay"

mkdir -p /newroot/.vmrun /newroot/vm-share || fail "mkdir in overlay"
cp /bin/busybox /newroot/.vmrun/busybox || fail "copy busybox"
cp /stage2 /newroot/.vmrun/stage2 || fail "copy stage2"
mount --move /share /newroot/vm-share || fail "move share"

umount /proc /sys 2>/dev/null
umount /dev 2>/dev/null
exec switch_root /newroot /.vmrun/busybox sh /.vmrun/stage2
fail "switch_root"
