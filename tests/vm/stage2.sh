# Stage 2 (PID 1 after switch_root, run by /.vmrun/busybox sh): the root is
# the writable overlay of the host root.  Mount the API filesystems and a pure
# cgroup v2 hierarchy with every controller enabled, run /vm-share/cmd.sh with
# a clean environment, record its exit status in /vm-share/rc, power off.
B=/.vmrun/busybox
S=/vm-share
NONCE=$($B cat $S/nonce 2>/dev/null)

fail() {
    echo "VMRUN-FAIL stage2 $NONCE: $*"
    $B sync
    $B poweroff -f
    exit 1
}

$B mount -t proc proc /proc || fail "mount proc"
$B mount -t sysfs sysfs /sys || fail "mount sysfs"
$B mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs"
$B mkdir -p /dev/pts /dev/shm /dev/mqueue
$B mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
$B ln -sf pts/ptmx /dev/ptmx
$B mount -t tmpfs -o mode=1777 shm /dev/shm
$B mount -t mqueue mqueue /dev/mqueue 2>/dev/null
$B ln -sf /proc/self/fd /dev/fd
$B ln -sf /proc/self/fd/0 /dev/stdin
$B ln -sf /proc/self/fd/1 /dev/stdout
$B ln -sf /proc/self/fd/2 /dev/stderr
# Fresh /tmp and /run: the host's (stale runc state, sockets) must not leak in.
# The checkout (path in $S/repo) may live under them (a clone in /tmp): hold
# it with a bind mount across the tmpfs mounts and put it back at its path.
REPO=$($B cat $S/repo 2>/dev/null)
case "$REPO" in
    /tmp/*|/run/*) $B mkdir -p /.vmrun/repo && $B mount --bind "$REPO" /.vmrun/repo || fail "hold $REPO" ;;
    *) REPO= ;;
esac
$B mount -t tmpfs -o mode=1777 tmp /tmp || fail "mount /tmp"
$B mount -t tmpfs -o mode=0755 run /run || fail "mount /run"
if [ -n "$REPO" ]; then
    $B mkdir -p "$REPO" && $B mount --move /.vmrun/repo "$REPO" || fail "share the checkout at $REPO"
fi
$B mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
for c in cpuset cpu io memory hugetlb pids rdma misc; do
    if $B grep -qw "$c" /sys/fs/cgroup/cgroup.controllers; then
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control ||
            echo "VMRUN-WARN cannot enable controller $c"
    fi
done
$B mount -t bpf bpf /sys/fs/bpf 2>/dev/null
$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
echo 1 > /proc/sys/kernel/printk
$B hostname pyrunc-vm
$B ip link set lo up 2>/dev/null

echo "VMRUN-READY $NONCE controllers: $($B cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "VMRUN-BEGIN $NONCE"
( $B env -i /bin/sh $S/cmd.sh < /dev/null 2>&1; echo $? > $S/rc ) | $B tee $S/output
$B sync
echo "VMRUN-END $NONCE rc=$($B cat $S/rc 2>/dev/null)"
$B sync
$B poweroff -f
echo o > /proc/sysrq-trigger
