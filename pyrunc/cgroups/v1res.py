"""Writers for cgroup v1 controller files from a runtime-spec
linux.resources dict (file names, value formats and write orders as runc)."""
from __future__ import annotations

import errno
import os

from pyrunc.cgroups import fsutil
from pyrunc.cgroups.devices import Emulated
from pyrunc.errors import CgroupError, ConfigError



def _einval(e: CgroupError) -> bool:
    return os.strerror(errno.EINVAL) in str(e)


def set_cpuset(d: str, r: dict) -> None:
    c = r.get("cpu") or {}
    if c.get("cpus"):
        fsutil.write(d, "cpuset.cpus", c["cpus"])
    if c.get("mems"):
        fsutil.write(d, "cpuset.mems", c["mems"])


def set_memory(d: str, r: dict) -> None:
    m = r.get("memory")
    if not m:
        return
    if m.get("kernel") is not None or m.get("kernelTCP") is not None:
        from pyrunc import log

        log.warn("Kernel memory settings are ignored and will be removed")
    limit = m.get("limit") or 0
    swap = m.get("swap") or 0
    if limit == -1 and swap == 0 and fsutil.exists(d, "memory.memsw.limit_in_bytes"):
        swap = -1
    if m.get("checkBeforeUpdate") and limit > 0:
        cur = fsutil.read_int(d, "memory.usage_in_bytes")
        if limit < cur:
            raise CgroupError(
                os.path.join(d, "memory.limit_in_bytes"),
                f"rejecting memory limit {limit} below current usage {cur}",
                str(limit),
            )

    def set_mem() -> None:
        if limit:
            try:
                fsutil.write(d, "memory.limit_in_bytes", str(limit))
            except CgroupError as e:
                if os.strerror(errno.EBUSY) in str(e):
                    usage = fsutil.read_opt(d, "memory.usage_in_bytes") or "?"
                    peak = fsutil.read_opt(d, "memory.max_usage_in_bytes") or "?"
                    raise CgroupError(
                        e.path,
                        f"unable to set memory limit (current usage: {usage.strip()}, peak usage: {peak.strip()})",
                        str(limit),
                    ) from None
                raise

    def set_swap() -> None:
        if swap:
            fsutil.write(d, "memory.memsw.limit_in_bytes", str(swap))

    if limit and swap:
        cur = fsutil.read_int(d, "memory.limit_in_bytes")
        # Order the writes so the kernel's memsw >= mem check holds throughout.
        if swap == -1 or cur < swap:
            set_swap()
            set_mem()
        else:
            set_mem()
            set_swap()
    else:
        set_mem()
        set_swap()
    if m.get("reservation"):
        fsutil.write(d, "memory.soft_limit_in_bytes", str(m["reservation"]))
    if m.get("disableOOMKiller"):
        fsutil.write(d, "memory.oom_control", "1")
    sw = m.get("swappiness")
    if sw is not None and sw != -1:
        if not 0 <= sw <= 100:
            raise ConfigError("linux.resources.memory.swappiness", f"invalid memory swappiness value: {sw} (valid range is 0-100)")
        fsutil.write(d, "memory.swappiness", str(sw))
    if m.get("useHierarchy") is not None:
        fsutil.write(d, "memory.use_hierarchy", "1" if m["useHierarchy"] else "0")


def set_cpu(d: str, r: dict) -> None:
    c = r.get("cpu")
    if not c:
        return
    shares = c.get("shares") or 0
    if shares:
        fsutil.write(d, "cpu.shares", str(shares))
        got = fsutil.read_int(d, "cpu.shares")
        if got != shares:
            which = "maximum" if shares > got else "minimum"
            raise CgroupError(os.path.join(d, "cpu.shares"), f"the {which} allowed cpu-shares is {got}", str(shares))
    period = c.get("period") or 0
    quota = c.get("quota") or 0
    retry_period = False
    if period:
        try:
            fsutil.write(d, "cpu.cfs_period_us", str(period))
        except CgroupError as e:
            # A smaller period can be refused until the new quota is in.
            if not (_einval(e) and quota):
                raise
            retry_period = True
    burst = c.get("burst")
    retry_burst = False
    if burst is not None:
        try:
            fsutil.write(d, "cpu.cfs_burst_us", str(burst))
        except CgroupError as e:
            if not (_einval(e) and quota):
                raise
            retry_burst = True
    if quota:
        fsutil.write(d, "cpu.cfs_quota_us", str(quota))
        if retry_period:
            fsutil.write(d, "cpu.cfs_period_us", str(period))
        if retry_burst:
            fsutil.write(d, "cpu.cfs_burst_us", str(burst))
    if c.get("idle") is not None:
        from pyrunc.cgroups.v2res import set_cpu_idle

        set_cpu_idle(d, c["idle"])
    rt_period = c.get("realtimePeriod") or 0
    rt_runtime = c.get("realtimeRuntime") or 0
    retry_rt = False
    if rt_period:
        try:
            fsutil.write(d, "cpu.rt_period_us", str(rt_period))
        except CgroupError:
            if not rt_runtime:
                raise
            retry_rt = True
    if rt_runtime:
        fsutil.write(d, "cpu.rt_runtime_us", str(rt_runtime))
        if retry_rt:
            fsutil.write(d, "cpu.rt_period_us", str(rt_period))


def set_pids(d: str, r: dict) -> None:
    p = r.get("pids")
    if not p:
        return
    limit = p.get("limit", 0) or 0
    if limit:
        fsutil.write(d, "pids.max", "max" if limit < 0 else str(limit))


def set_blkio(d: str, r: dict) -> None:
    b = r.get("blockIO")
    if not b:
        return
    if fsutil.exists(d, "blkio.weight") or not fsutil.exists(d, "blkio.bfq.weight"):
        wfile, wdfile = "blkio.weight", "blkio.weight_device"
    else:
        wfile, wdfile = "blkio.bfq.weight", "blkio.bfq.weight_device"
    if b.get("weight"):
        fsutil.write(d, wfile, str(b["weight"]))
    if b.get("leafWeight"):
        fsutil.write(d, "blkio.leaf_weight", str(b["leafWeight"]))
    for wd in b.get("weightDevice") or []:
        dev = f"{wd['major']}:{wd['minor']}"
        if wd.get("weight"):
            fsutil.write(d, wdfile, f"{dev} {wd['weight']}")
        if wd.get("leafWeight"):
            fsutil.write(d, "blkio.leaf_weight_device", f"{dev} {wd['leafWeight']}")
    for key, fname in (
        ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
        ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
        ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
        ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
    ):
        for td in b.get(key) or []:
            fsutil.write(d, fname, f"{td['major']}:{td['minor']} {td.get('rate', 0)}")


def set_hugetlb(d: str, r: dict) -> None:
    from pyrunc.cgroups.hugepages import write_limits

    write_limits(d, r, "limit_in_bytes")


def set_net_cls(d: str, r: dict) -> None:
    n = r.get("network") or {}
    if n.get("classID") is not None and n["classID"] != 0:
        fsutil.write(d, "net_cls.classid", str(n["classID"]))


def set_net_prio(d: str, r: dict) -> None:
    n = r.get("network") or {}
    for p in n.get("priorities") or []:
        fsutil.write(d, "net_prio.ifpriomap", f"{p['name']} {p['priority']}")


def set_devices(d: str, em: Emulated) -> None:
    """Write the emulated policy: reset to the default, then the exceptions."""
    if em.default_allow:
        fsutil.write(d, "devices.allow", "a")
        for r in em.exceptions:
            fsutil.write(d, "devices.deny", r.v1_string())
    else:
        fsutil.write(d, "devices.deny", "a")
        for r in em.exceptions:
            fsutil.write(d, "devices.allow", r.v1_string())


def wants(controller: str, r: dict) -> bool:
    """Does resources dict r ask anything of this v1 controller?"""
    cpu = r.get("cpu") or {}
    mem = r.get("memory") or {}
    net = r.get("network") or {}
    if controller == "cpuset":
        return bool(cpu.get("cpus") or cpu.get("mems"))
    if controller == "cpu":
        return any(cpu.get(k) for k in ("shares", "period", "quota", "realtimePeriod", "realtimeRuntime")) or cpu.get(
            "burst"
        ) is not None or cpu.get("idle") is not None
    if controller == "memory":
        return any(mem.get(k) for k in ("limit", "swap", "reservation", "disableOOMKiller")) or mem.get(
            "swappiness"
        ) not in (None, -1) or mem.get("useHierarchy") is not None
    if controller == "pids":
        return bool((r.get("pids") or {}).get("limit"))
    if controller == "blkio":
        return bool(r.get("blockIO"))
    if controller == "hugetlb":
        return bool(r.get("hugepageLimits"))
    if controller == "net_cls":
        return bool(net.get("classID"))
    if controller == "net_prio":
        return bool(net.get("priorities"))
    if controller == "rdma":
        return bool(r.get("rdma"))
    return False
