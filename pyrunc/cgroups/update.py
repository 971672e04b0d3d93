"""`update`: turn runc's update flags or a --resources JSON document into a
partial linux.resources dict, fill in co-dependent values from the stored
ones (quota/period, memory/swap), apply it and return the merged result."""
from __future__ import annotations

import json
import sys

from pyrunc.cgroups.units import ram_in_bytes
from pyrunc.errors import ConfigError, UnsupportedError

MEMORY_FLAGS = {
    "memory": "limit",
    "memory_swap": "swap",
    "kernel_memory": "kernel",
    "kernel_memory_tcp": "kernelTCP",
    "memory_reservation": "reservation",
}


def _uint(v: str, flag: str) -> int:
    try:
        n = int(v, 10)
    except ValueError:
        raise ConfigError(f"--{flag}", f"invalid value {v!r}") from None
    if n < 0:
        raise ConfigError(f"--{flag}", f"invalid value {v!r}: must not be negative")
    return n


def _int(v: str, flag: str) -> int:
    try:
        return int(v, 10)
    except ValueError:
        raise ConfigError(f"--{flag}", f"invalid value {v!r}") from None


def delta_from_flags(opts: dict) -> dict:
    """opts: click params (underscored names) -> partial linux.resources."""
    r: dict = {}
    mem: dict = {}
    for opt, key in MEMORY_FLAGS.items():
        val = opts.get(opt)
        if val:
            mem[key] = -1 if val == "-1" else ram_in_bytes(val, "--" + opt.replace("_", "-"))
    if mem:
        r["memory"] = mem
    cpu: dict = {}
    for opt, key in (("cpu_period", "period"), ("cpu_rt_period", "realtimePeriod"), ("cpu_share", "shares")):
        if opts.get(opt):
            cpu[key] = _uint(opts[opt], opt.replace("_", "-"))
    for opt, key in (("cpu_quota", "quota"), ("cpu_rt_runtime", "realtimeRuntime")):
        if opts.get(opt):
            cpu[key] = _int(opts[opt], opt.replace("_", "-"))
    if opts.get("cpu_idle"):
        cpu["idle"] = _int(opts["cpu_idle"], "cpu-idle")
        if cpu["idle"] not in (0, 1):
            raise ConfigError("--cpu-idle", f"invalid value {opts['cpu_idle']!r}: 0 (default behaviour) or 1 (SCHED_IDLE)")
    if opts.get("cpu_burst"):
        cpu["burst"] = _uint(opts["cpu_burst"], "cpu-burst")
    if opts.get("cpuset_cpus"):
        cpu["cpus"] = opts["cpuset_cpus"]
    if opts.get("cpuset_mems"):
        cpu["mems"] = opts["cpuset_mems"]
    if cpu:
        r["cpu"] = cpu
    if opts.get("pids_limit"):
        r["pids"] = {"limit": int(opts["pids_limit"])}
    if opts.get("blkio_weight"):
        w = int(opts["blkio_weight"])
        r["blockIO"] = {"weight": w}
    if opts.get("l3_cache_schema"):
        raise UnsupportedError("--l3-cache-schema (Intel RDT)")
    if opts.get("mem_bw_schema"):
        raise UnsupportedError("--mem-bw-schema (Intel RDT)")
    return r


def read_resources(path: str) -> dict:
    """--resources FILE or - (stdin): a linux.resources JSON object."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path) as f:
                text = f.read()
        data = json.loads(text)
    except OSError as e:
        from pyrunc.errors import reason

        raise ConfigError("--resources", f"{path}: {reason(e)}") from None
    except json.JSONDecodeError as e:
        raise ConfigError("--resources", f"{path}: invalid JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(data, dict):
        raise ConfigError("--resources", f"{path}: expected a JSON object")
    data.pop("devices", None)  # like runc: update never changes device rules
    return data


def complete(delta: dict, stored: dict) -> dict:
    """Fill co-dependent values from the stored resources: cpu quota and
    period go together (cpu.max on v2), and a swap limit needs the memory
    limit to convert for v2."""
    out = json.loads(json.dumps(delta))
    cpu, old_cpu = out.get("cpu"), stored.get("cpu") or {}
    if cpu:
        q, p = cpu.get("quota") or 0, cpu.get("period") or 0
        if q and not p and old_cpu.get("period"):
            cpu["period"] = old_cpu["period"]
        if p and not q and old_cpu.get("quota"):
            cpu["quota"] = old_cpu["quota"]
    mem, old_mem = out.get("memory"), stored.get("memory") or {}
    if mem and mem.get("swap") and not mem.get("limit") and old_mem.get("limit"):
        mem["limit"] = old_mem["limit"]
    return out


def apply_update(mgr, delta: dict) -> dict:
    """Apply to the live cgroup; returns the merged resources now in force."""
    full = complete(delta, mgr.resources)
    mgr.update(full)
    return mgr.resources
