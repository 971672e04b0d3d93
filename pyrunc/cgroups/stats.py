"""Container statistics in the shape of runc's `events --stats` data object
(runc types/events.go, including its Go `omitempty` behaviour)."""
from __future__ import annotations

import os

from pyrunc.cgroups import fsutil, hugepages

MAX_U64 = (1 << 64) - 1
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _omit(d: dict, *keys: str) -> dict:
    """Drop keys whose value is zero/empty (Go omitempty)."""
    for k in keys:
        if k in d and not d[k]:
            del d[k]
    return d


def _entry(limit: int, usage: int, maxu: int, failcnt: int) -> dict:
    return _omit({"limit": limit, "usage": usage, "max": maxu, "failcnt": failcnt}, "usage", "max")


def _int(d: str | None, name: str, default: int = 0) -> int:
    if d is None:
        return default
    s = fsutil.read_opt(d, name)
    if s is None:
        return default
    s = s.strip()
    if s == "max":
        return MAX_U64
    try:
        return int(s)
    except ValueError:
        return default


def _list_ints(s: str | None) -> list[int]:
    return [int(x) for x in (s or "").split()]


def _parse_cpulist(s: str | None) -> list[int]:
    out: list[int] = []
    for part in (s or "").strip().split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def empty() -> dict:
    return {
        "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
        "cpuset": {
            "cpu_exclusive": 0,
            "mem_hardwall": 0,
            "mem_exclusive": 0,
            "memory_migrate": 0,
            "memory_spread_page": 0,
            "memory_spread_slab": 0,
            "memory_pressure": 0,
            "sched_load_balance": 0,
            "sched_relax_domain_level": 0,
        },
        "memory": {
            "usage": {"limit": 0, "failcnt": 0},
            "swap": {"limit": 0, "failcnt": 0},
            "kernel": {"limit": 0, "failcnt": 0},
            "kernelTCP": {"limit": 0, "failcnt": 0},
        },
        "pids": {},
        "blkio": {},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }


def _blkio_v1(d: str, fname: str) -> list[dict]:
    out = []
    for line in (fsutil.read_opt(d, fname) or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            mj, mn = parts[0].split(":")
            out.append(_omit({"major": int(mj), "minor": int(mn), "op": parts[1], "value": int(parts[2])}, "major", "minor", "op", "value"))
        elif len(parts) == 2 and ":" in parts[0]:
            mj, mn = parts[0].split(":")
            out.append(_omit({"major": int(mj), "minor": int(mn), "value": int(parts[1])}, "major", "minor", "value"))
    return out


def v1_stats(paths: dict[str, str], unified: str | None = None) -> dict:
    s = empty()
    # cpu / cpuacct
    acct = paths.get("cpuacct")
    if acct:
        usage = s["cpu"]["usage"]
        usage["total"] = _int(acct, "cpuacct.usage")
        usage["percpu"] = _list_ints(fsutil.read_opt(acct, "cpuacct.usage_percpu"))
        usage["percpu_kernel"] = _list_ints(fsutil.read_opt(acct, "cpuacct.usage_percpu_sys"))
        usage["percpu_user"] = _list_ints(fsutil.read_opt(acct, "cpuacct.usage_percpu_user"))
        st = fsutil.read_keyed(acct, "cpuacct.stat")
        usage["kernel"] = st.get("system", 0) * 1_000_000_000 // CLK_TCK
        usage["user"] = st.get("user", 0) * 1_000_000_000 // CLK_TCK
        _omit(usage, "total", "percpu", "percpu_kernel", "percpu_user")
        s["cpu"]["usage"] = {k: usage[k] for k in ("total", "percpu", "percpu_kernel", "percpu_user", "kernel", "user") if k in usage}
    cpu = paths.get("cpu")
    if cpu:
        st = fsutil.read_keyed(cpu, "cpu.stat")
        s["cpu"]["throttling"] = _omit(
            {
                "periods": st.get("nr_periods", 0),
                "throttledPeriods": st.get("nr_throttled", 0),
                "throttledTime": st.get("throttled_time", 0),
            },
            "periods",
            "throttledPeriods",
            "throttledTime",
        )
    cs = paths.get("cpuset")
    if cs:
        c = s["cpuset"]
        cpus = _parse_cpulist(fsutil.read_opt(cs, "cpuset.cpus"))
        mems = _parse_cpulist(fsutil.read_opt(cs, "cpuset.mems"))
        out = {}
        if cpus:
            out["cpus"] = cpus
        out["cpu_exclusive"] = _int(cs, "cpuset.cpu_exclusive")
        if mems:
            out["mems"] = mems
        for k, f in (
            ("mem_hardwall", "cpuset.mem_hardwall"),
            ("mem_exclusive", "cpuset.mem_exclusive"),
            ("memory_migrate", "cpuset.memory_migrate"),
            ("memory_spread_page", "cpuset.memory_spread_page"),
            ("memory_spread_slab", "cpuset.memory_spread_slab"),
            ("memory_pressure", "cpuset.memory_pressure"),
            ("sched_load_balance", "cpuset.sched_load_balance"),
            ("sched_relax_domain_level", "cpuset.sched_relax_domain_level"),
        ):
            out[k] = _int(cs, f)
        c.clear()
        c.update(out)
    mem = paths.get("memory")
    if mem:
        raw = fsutil.read_keyed(mem, "memory.stat")
        m: dict = {}
        if raw.get("cache"):
            m["cache"] = raw["cache"]
        for key, prefix in (("usage", "memory"), ("swap", "memory.memsw"), ("kernel", "memory.kmem"), ("kernelTCP", "memory.kmem.tcp")):
            m[key] = _entry(
                _int(mem, prefix + ".limit_in_bytes"),
                _int(mem, prefix + ".usage_in_bytes"),
                _int(mem, prefix + ".max_usage_in_bytes"),
                _int(mem, prefix + ".failcnt"),
            )
        if raw:
            m["raw"] = raw
        s["memory"] = m
    pids = paths.get("pids")
    if pids:
        lim = _int(pids, "pids.max")
        s["pids"] = _omit({"current": _int(pids, "pids.current"), "limit": 0 if lim == MAX_U64 else lim}, "current", "limit")
    blk = paths.get("blkio")
    if blk:
        b: dict = {}
        # CFQ files first, then BFQ, then the throttle ones (like runc).
        for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
            if fsutil.exists(blk, prefix + "io_service_bytes_recursive"):
                b["ioServiceBytesRecursive"] = _blkio_v1(blk, prefix + "io_service_bytes_recursive")
                b["ioServicedRecursive"] = _blkio_v1(blk, prefix + "io_serviced_recursive")
                if prefix == "blkio.":
                    b["ioQueueRecursive"] = _blkio_v1(blk, "blkio.io_queued_recursive")
                    b["ioServiceTimeRecursive"] = _blkio_v1(blk, "blkio.io_service_time_recursive")
                    b["ioWaitTimeRecursive"] = _blkio_v1(blk, "blkio.io_wait_time_recursive")
                    b["ioMergedRecursive"] = _blkio_v1(blk, "blkio.io_merged_recursive")
                    b["ioTimeRecursive"] = _blkio_v1(blk, "blkio.time_recursive")
                    b["sectorsRecursive"] = _blkio_v1(blk, "blkio.sectors_recursive")
                if b["ioServiceBytesRecursive"] or prefix == "blkio.throttle.":
                    break
        s["blkio"] = {k: v for k, v in b.items() if v}
    hug = paths.get("hugetlb")
    if hug:
        for size in hugepages.sizes():
            p = f"hugetlb.{size}."
            s["hugetlb"][size] = _omit(
                {
                    "usage": _int(hug, p + "usage_in_bytes"),
                    "max": _int(hug, p + "max_usage_in_bytes"),
                    "failcnt": _int(hug, p + "failcnt"),
                },
                "usage",
                "max",
            )
    elif unified:
        s["hugetlb"] = _hugetlb_v2(unified)
    return s


def _hugetlb_v2(d: str) -> dict:
    out = {}
    for size in hugepages.sizes():
        if not fsutil.exists(d, f"hugetlb.{size}.current"):
            continue
        ev = fsutil.read_keyed(d, f"hugetlb.{size}.events")
        out[size] = _omit({"usage": _int(d, f"hugetlb.{size}.current"), "failcnt": ev.get("max", 0)}, "usage")
    return out


def _io_v2(d: str) -> dict:
    sb: list[dict] = []
    sv: list[dict] = []
    for line in (fsutil.read_opt(d, "io.stat") or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        mj, mn = (int(x) for x in parts[0].split(":"))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op, lst in (("rbytes", "Read", sb), ("wbytes", "Write", sb), ("rios", "Read", sv), ("wios", "Write", sv)):
            if key in kv:
                lst.append(_omit({"major": mj, "minor": mn, "op": op, "value": int(kv[key])}, "major", "minor", "value"))
    out = {}
    if sb:
        out["ioServiceBytesRecursive"] = sb
    if sv:
        out["ioServicedRecursive"] = sv
    return out


def v2_stats(d: str) -> dict:
    s = empty()
    st = fsutil.read_keyed(d, "cpu.stat")
    usage = _omit({"total": st.get("usage_usec", 0) * 1000}, "total")
    usage["kernel"] = st.get("system_usec", 0) * 1000
    usage["user"] = st.get("user_usec", 0) * 1000
    s["cpu"]["usage"] = usage
    s["cpu"]["throttling"] = _omit(
        {
            "periods": st.get("nr_periods", 0),
            "throttledPeriods": st.get("nr_throttled", 0),
            "throttledTime": st.get("throttled_usec", 0) * 1000,
        },
        "periods",
        "throttledPeriods",
        "throttledTime",
    )
    cpus = _parse_cpulist(fsutil.read_opt(d, "cpuset.cpus.effective"))
    mems = _parse_cpulist(fsutil.read_opt(d, "cpuset.mems.effective"))
    if cpus:
        s["cpuset"] = {"cpus": cpus, **s["cpuset"]}
    if mems:
        s["cpuset"]["mems"] = mems
    if fsutil.exists(d, "memory.current"):
        raw = fsutil.read_keyed(d, "memory.stat")
        ev = fsutil.read_keyed(d, "memory.events")
        mu, ml = _int(d, "memory.current"), _int(d, "memory.max")
        usage = _entry(ml, mu, _int(d, "memory.peak"), ev.get("max", 0))
        sev = fsutil.read_keyed(d, "memory.swap.events")
        su, sl = _int(d, "memory.swap.current"), _int(d, "memory.swap.max")
        # v1 reports swap as memory+swap; runc keeps that for v2.
        su += mu
        if sl != MAX_U64 and fsutil.exists(d, "memory.swap.max"):
            sl = min(MAX_U64, sl + ml)
        m: dict = {}
        if raw.get("file"):
            m["cache"] = raw["file"]
        m["usage"] = usage
        m["swap"] = _entry(sl, su, _int(d, "memory.swap.peak"), sev.get("max", 0))
        m["kernel"] = {"limit": 0, "failcnt": 0}
        m["kernelTCP"] = {"limit": 0, "failcnt": 0}
        if raw:
            m["raw"] = raw
        s["memory"] = m
    if fsutil.exists(d, "pids.current"):
        lim = _int(d, "pids.max")
        s["pids"] = _omit({"current": _int(d, "pids.current"), "limit": 0 if lim == MAX_U64 else lim}, "current", "limit")
    s["blkio"] = _io_v2(d)
    s["hugetlb"] = _hugetlb_v2(d)
    return s
