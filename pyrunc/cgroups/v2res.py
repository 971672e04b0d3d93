"""Writers for cgroup v2 files from a runtime-spec linux.resources dict,
converting v1-shaped values the way runc does. Shared by the v2 driver and
by the v1 driver for controllers that live in the unified hierarchy of a
hybrid host (hugetlb here)."""
from __future__ import annotations

import os

from pyrunc.cgroups import convert, fsutil
from pyrunc.errors import CgroupError, ConfigError, UnsupportedError



def ignored(field: str) -> None:
    """A field cgroup v2 has no file for: runc accepts the config and
    ignores it; so does pyrunc, with a warning in the log."""
    from pyrunc import log

    log.warn(f"{field} is ignored on cgroup v2 (no such control; runc ignores it too)")


def set_cpu_idle(d: str, idle: int) -> None:
    """linux.resources.cpu.idle (`update --cpu-idle`): cpu.idle, 0 or 1
    (Linux 5.15+, on v2 and on v1's cpu hierarchy)."""
    if not fsutil.exists(d, "cpu.idle"):
        raise CgroupError(os.path.join(d, "cpu.idle"),
                          "cpu.idle is not available (this kernel has no SCHED_IDLE cgroups: Linux 5.15+)", str(idle))
    fsutil.write(d, "cpu.idle", str(idle))


def _num(v: int | None) -> str:
    """runc's numToStr: 0/None -> "" (unset), -1 -> "max"."""
    if not v:
        return ""
    return "max" if v == -1 else str(v)


def set_pids(d: str, r: dict) -> None:
    pids = r.get("pids")
    if not pids:
        return
    limit = pids.get("limit", 0) or 0
    if limit != 0:
        fsutil.write(d, "pids.max", "max" if limit < 0 else str(limit))


def set_memory(d: str, r: dict) -> None:
    m = r.get("memory")
    if not m:
        return
    if m.get("kernel") is not None or m.get("kernelTCP") is not None:
        from pyrunc import log

        log.warn("Kernel memory settings are ignored and will be removed")
    if m.get("swappiness") not in (None, -1):
        ignored("linux.resources.memory.swappiness")
    if m.get("disableOOMKiller"):
        ignored("linux.resources.memory.disableOOMKiller")
    if m.get("useHierarchy") is False:
        raise UnsupportedError("linux.resources.memory.useHierarchy=false on cgroup v2")
    limit = m.get("limit") or 0
    swap = m.get("swap") or 0
    reservation = m.get("reservation") or 0
    if m.get("checkBeforeUpdate") and limit > 0:
        cur = fsutil.read_int(d, "memory.current")
        if limit < cur:
            raise CgroupError(
                os.path.join(d, "memory.max"), f"rejecting memory limit {limit} below current usage {cur}", str(limit)
            )
    v2swap = convert.memory_swap_to_v2(swap, limit)
    swap_str = _num(v2swap)
    if swap_str == "" and v2swap == 0 and swap > 0:
        swap_str = "0"  # memory == memory+swap: no swap
    if swap_str:
        if fsutil.exists(d, "memory.swap.max"):
            fsutil.write(d, "memory.swap.max", swap_str)
        elif swap_str not in ("max", "0"):
            raise CgroupError(os.path.join(d, "memory.swap.max"), "swap accounting is not enabled", swap_str)
    if _num(limit):
        fsutil.write(d, "memory.max", _num(limit))
    if _num(reservation):
        fsutil.write(d, "memory.low", _num(reservation))


def set_io(d: str, r: dict) -> None:
    b = r.get("blockIO")
    if not b:
        return
    if b.get("leafWeight"):
        ignored("linux.resources.blockIO.leafWeight")
    bfq = fsutil.exists(d, "io.bfq.weight")
    weight = b.get("weight") or 0
    if weight:
        if bfq:
            fsutil.write(d, "io.bfq.weight", str(weight))
        else:
            fsutil.write(d, "io.weight", f"default {convert.blkio_weight_to_io_weight(weight)}")
    for wd in b.get("weightDevice") or []:
        if wd.get("leafWeight"):
            ignored("linux.resources.blockIO.weightDevice[].leafWeight")
        w = wd.get("weight") or 0
        if not w:
            continue
        dev = f"{wd['major']}:{wd['minor']}"
        if bfq:
            fsutil.write(d, "io.bfq.weight", f"{dev} {w}")
        else:
            fsutil.write(d, "io.weight", f"{dev} {convert.blkio_weight_to_io_weight(w)}")
    for key, name in (
        ("throttleReadBpsDevice", "rbps"),
        ("throttleWriteBpsDevice", "wbps"),
        ("throttleReadIOPSDevice", "riops"),
        ("throttleWriteIOPSDevice", "wiops"),
    ):
        for td in b.get(key) or []:
            rate = td.get("rate", 0)
            fsutil.write(d, "io.max", f"{td['major']}:{td['minor']} {name}={rate if rate else 'max'}")


def set_cpu(d: str, r: dict) -> None:
    c = r.get("cpu")
    if not c:
        return
    for k in ("realtimeRuntime", "realtimePeriod"):
        if c.get(k):
            ignored(f"linux.resources.cpu.{k}")
    weight = convert.cpu_shares_to_weight(c.get("shares") or 0)
    if weight:
        fsutil.write(d, "cpu.weight", str(weight))
    if c.get("idle") is not None:
        set_cpu_idle(d, c["idle"])
    burst = c.get("burst")
    burst_failed = False
    if burst is not None:
        try:
            fsutil.write(d, "cpu.max.burst", str(burst))
        except CgroupError:
            # Burst larger than the current quota: retry after cpu.max.
            burst_failed = True
    cmax = convert.cpu_max(c.get("quota") or 0, c.get("period") or 0)
    if cmax is not None:
        fsutil.write(d, "cpu.max", cmax)
    if burst_failed:
        fsutil.write(d, "cpu.max.burst", str(burst))


def set_cpuset(d: str, r: dict) -> None:
    c = r.get("cpu")
    if not c:
        return
    if c.get("cpus"):
        fsutil.write(d, "cpuset.cpus", c["cpus"])
    if c.get("mems"):
        fsutil.write(d, "cpuset.mems", c["mems"])


def set_hugetlb(d: str, r: dict) -> None:
    from pyrunc.cgroups.hugepages import write_limits

    write_limits(d, r, "max")


def rdma_line(dev: str, lim: dict) -> str:
    s = dev
    if lim.get("hcaHandles") is not None:
        s += f" hca_handle={lim['hcaHandles']}"
    if lim.get("hcaObjects") is not None:
        s += f" hca_object={lim['hcaObjects']}"
    return s


def set_rdma(d: str, r: dict) -> None:
    for dev, lim in (r.get("rdma") or {}).items():
        fsutil.write(d, "rdma.max", rdma_line(dev, lim or {}))


def set_unified(d: str, r: dict) -> None:
    for k, v in (r.get("unified") or {}).items():
        if "/" in k or k in ("", ".", ".."):
            raise ConfigError(f"linux.resources.unified[{k!r}]", "must be a file name (no slashes)")
        try:
            fsutil.write(d, k, v)
        except CgroupError as e:
            if not fsutil.exists(d, k):
                ctrl = k.split(".", 1)[0]
                avail = (fsutil.read_opt(d, "cgroup.controllers") or "").split()
                if "." in k and ctrl not in avail and ctrl != "cgroup":
                    raise CgroupError(os.path.join(d, k), f"controller {ctrl!r} not available", v) from None
            raise e


def check_network(r: dict) -> None:
    n = r.get("network")
    if n and n.get("classID"):
        ignored("linux.resources.network.classID")
    if n and n.get("priorities"):
        ignored("linux.resources.network.priorities")


def enable_controllers(root: str, leaf: str, only: set[str] | None = None) -> None:
    """Enable every available controller (or `only`) in the subtree_control
    of each ancestor of leaf below and including root, best effort (like
    runc: a cgroup with processes in it cannot delegate)."""
    rel = os.path.relpath(leaf, root)
    if rel == ".":
        return
    parts = rel.split(os.sep)
    cur = root
    for part in parts:
        avail = (fsutil.read_opt(cur, "cgroup.controllers") or "").split()
        if only is not None:
            avail = [c for c in avail if c in only]
        enabled = set((fsutil.read_opt(cur, "cgroup.subtree_control") or "").split())
        want = [c for c in avail if c not in enabled]
        if want:
            try:
                fsutil.write(cur, "cgroup.subtree_control", " ".join("+" + c for c in want))
            except CgroupError:
                for c in want:
                    try:
                        fsutil.write(cur, "cgroup.subtree_control", "+" + c)
                    except CgroupError:
                        pass
        cur = os.path.join(cur, part)
