"""Tables and validators for process attributes the C init applies verbatim:
rlimits, scheduler (sched_attr), ioPriority, personality, memoryPolicy,
execCPUAffinity and oomScoreAdj.

Every resolver takes the config object and its JSON path, raises ConfigError
naming the offending field, and returns plain ints/bytes (kernel ABI values).
"""
from __future__ import annotations

import resource
import struct
from collections import namedtuple

TYPE_CHECKING = False  # `typing` costs ~3 ms of every create; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from pyrunc.errors import ConfigError, UnsupportedError

# ---------------------------------------------------------------- helpers


def _int(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(field, f"must be between {lo} and {hi}, got {value}")
    return value


def _obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(field, "must be an object")
    return value


def _names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(field, "must be an array of strings")
    return value


U64_MAX = (1 << 64) - 1

# ---------------------------------------------------------------- rlimits

RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}
RLIMIT_NAMES = {v: k for k, v in RLIMITS.items()}
RLIM_INFINITY = U64_MAX
CAP_SYS_RESOURCE = 24


# resource: int  RLIMIT_* number
# soft: int      rlim_cur (2**64-1 = RLIM_INFINITY)
# hard: int      rlim_max
# name: str
# pos: int       position in process.rlimits
class Rlimit(namedtuple("Rlimit", "resource soft hard name pos")):
    __slots__ = ()


def resolve_rlimits(rlimits: Any, field: str = "process.rlimits") -> list[Rlimit]:
    """Validate `process.rlimits`: known types, soft <= hard, no duplicates."""
    if rlimits is None:
        return []
    if not isinstance(rlimits, list):
        raise ConfigError(field, "must be an array")
    out: list[Rlimit] = []
    seen: dict[str, int] = {}
    for i, rl in enumerate(rlimits):
        f = f"{field}[{i}]"
        rl = _obj(rl, f)
        name = rl.get("type")
        if name not in RLIMITS:
            raise ConfigError(f"{f}.type", f"unknown rlimit type {name!r}")
        if name in seen:
            raise ConfigError(f"{f}.type", f"duplicate {name} (also {field}[{seen[name]}])")
        seen[name] = i
        for key in ("soft", "hard"):
            if key not in rl:
                raise ConfigError(f"{f}.{key}", "is required")
        soft = _int(rl["soft"], f"{f}.soft", 0, U64_MAX)
        hard = _int(rl["hard"], f"{f}.hard", 0, U64_MAX)
        if soft > hard:
            raise ConfigError(f, f"{name} soft limit {soft} exceeds its hard limit {hard}")
        out.append(Rlimit(RLIMITS[name], soft, hard, name, i))
    return out


def _has_cap(cap: int) -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> cap & 1)
    except OSError:
        pass
    return False


def _fmt(v: int) -> str:
    return "unlimited" if v in (RLIM_INFINITY, resource.RLIM_INFINITY) else str(v)


def check_rlimits_against_caller(rlimits: list[Rlimit] | Any, field: str = "process.rlimits") -> None:
    """Fail early, naming the limit, when a hard limit can not be raised: above
    the caller's hard limit without CAP_SYS_RESOURCE, or RLIMIT_NOFILE above
    fs.nr_open (which binds even with the capability)."""
    if rlimits and not isinstance(rlimits[0], Rlimit):
        rlimits = resolve_rlimits(rlimits, field)
    privileged = _has_cap(CAP_SYS_RESOURCE)
    for rl in rlimits:
        where = f"{field}[{rl.pos}]"
        if rl.resource == RLIMITS["RLIMIT_NOFILE"]:
            try:
                with open("/proc/sys/fs/nr_open") as f:
                    nr_open = int(f.read())
            except (OSError, ValueError):
                nr_open = None
            if nr_open is not None and rl.hard != RLIM_INFINITY and rl.hard > nr_open:
                raise ConfigError(where, f"RLIMIT_NOFILE hard limit {rl.hard} exceeds fs.nr_open {nr_open}")
            if nr_open is not None and rl.hard == RLIM_INFINITY:
                raise ConfigError(where, f"RLIMIT_NOFILE hard limit unlimited exceeds fs.nr_open {nr_open}")
        if privileged:
            continue
        _, caller_hard = resource.getrlimit(rl.resource)
        caller_hard = RLIM_INFINITY if caller_hard == resource.RLIM_INFINITY else caller_hard
        if rl.hard > caller_hard:
            raise ConfigError(
                where,
                f"{rl.name} hard limit {_fmt(rl.hard)} exceeds the caller's hard limit "
                f"{_fmt(caller_hard)} and pyrunc lacks CAP_SYS_RESOURCE",
            )


# ---------------------------------------------------------------- scheduler

SCHED_POLICIES: dict[str, int] = {
    "SCHED_OTHER": 0,
    "SCHED_FIFO": 1,
    "SCHED_RR": 2,
    "SCHED_BATCH": 3,
    "SCHED_ISO": 4,  # reserved, never implemented by Linux
    "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
}
SCHED_FLAGS: dict[str, int] = {
    "SCHED_FLAG_RESET_ON_FORK": 0x01,
    "SCHED_FLAG_RECLAIM": 0x02,
    "SCHED_FLAG_DL_OVERRUN": 0x04,
    "SCHED_FLAG_KEEP_POLICY": 0x08,
    "SCHED_FLAG_KEEP_PARAMS": 0x10,
    "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
    "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
}
SCHED_ATTR_SIZE = 56  # SCHED_ATTR_SIZE_VER1 (with util_min/util_max), as runc
_SCHED_ATTR = struct.Struct("=IIQiIQQQII")
DL_MIN_RUNTIME = 1 << 10  # kernel: runtime below 1024ns is rejected


class SchedAttr(namedtuple("SchedAttr", "policy flags nice priority runtime deadline period",
                           defaults=(0, 0, 0, 0, 0, 0))):
    """struct sched_attr for sched_setattr(0, attr, 0).

    All fields are ints; all but `policy` default to 0."""

    __slots__ = ()

    def pack(self) -> bytes:
        return _SCHED_ATTR.pack(SCHED_ATTR_SIZE, self.policy, self.flags, self.nice, self.priority,
                                self.runtime, self.deadline, self.period, 0, 0)


def resolve_scheduler(sched: Any, field: str = "process.scheduler") -> SchedAttr | None:
    if sched is None:
        return None
    sched = _obj(sched, field)
    policy_name = sched.get("policy")
    if policy_name is None:
        raise ConfigError(f"{field}.policy", "is required")
    if policy_name not in SCHED_POLICIES:
        raise ConfigError(f"{field}.policy", f"unknown scheduler policy {policy_name!r}")
    if policy_name == "SCHED_ISO":
        raise UnsupportedError(f"{field}.policy SCHED_ISO (not implemented by the Linux kernel)")
    policy = SCHED_POLICIES[policy_name]
    flags = 0
    for i, name in enumerate(_names(sched.get("flags"), f"{field}.flags")):
        if name not in SCHED_FLAGS:
            raise ConfigError(f"{field}.flags[{i}]", f"unknown scheduler flag {name!r}")
        flags |= SCHED_FLAGS[name]
    nice = _int(sched.get("nice", 0), f"{field}.nice", -20, 19)
    realtime = policy_name in ("SCHED_FIFO", "SCHED_RR")
    if realtime:
        priority = _int(sched.get("priority", 0), f"{field}.priority", 1, 99)
    else:
        priority = _int(sched.get("priority", 0), f"{field}.priority", -(1 << 31), (1 << 31) - 1)
        if priority != 0:
            raise ConfigError(f"{field}.priority", f"must be 0 for {policy_name} (only SCHED_FIFO and SCHED_RR use it)")
    runtime = _int(sched.get("runtime", 0), f"{field}.runtime", 0, U64_MAX)
    deadline = _int(sched.get("deadline", 0), f"{field}.deadline", 0, U64_MAX)
    period = _int(sched.get("period", 0), f"{field}.period", 0, U64_MAX)
    if policy_name == "SCHED_DEADLINE":
        if runtime < DL_MIN_RUNTIME:
            raise ConfigError(f"{field}.runtime", f"SCHED_DEADLINE needs a runtime of at least {DL_MIN_RUNTIME}ns")
        if deadline < runtime:
            raise ConfigError(f"{field}.deadline", f"must be at least the runtime {runtime}")
        if period and period < deadline:
            raise ConfigError(f"{field}.period", f"must be at least the deadline {deadline}")
    else:
        for key, v in (("runtime", runtime), ("deadline", deadline), ("period", period)):
            if v:
                raise ConfigError(f"{field}.{key}", f"only applies to SCHED_DEADLINE, not {policy_name}")
        if flags & (SCHED_FLAGS["SCHED_FLAG_RECLAIM"] | SCHED_FLAGS["SCHED_FLAG_DL_OVERRUN"]):
            raise ConfigError(f"{field}.flags", f"SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN only apply to SCHED_DEADLINE")
    return SchedAttr(policy, flags, nice, priority, runtime, deadline, period)


# ---------------------------------------------------------------- ioPriority

IOPRIO_CLASSES: dict[str, int] = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
IOPRIO_CLASS_SHIFT = 13
IOPRIO_WHO_PROCESS = 1


def ioprio_value(cls: int, level: int) -> int:
    return (cls << IOPRIO_CLASS_SHIFT) | level


def resolve_io_priority(iop: Any, field: str = "process.ioPriority") -> int | None:
    """The ioprio for ioprio_set(IOPRIO_WHO_PROCESS, 0, value)."""
    if iop is None:
        return None
    iop = _obj(iop, field)
    cls = iop.get("class")
    if cls is None:
        raise ConfigError(f"{field}.class", "is required")
    if cls not in IOPRIO_CLASSES:
        raise ConfigError(f"{field}.class", f"unknown I/O priority class {cls!r}")
    level = _int(iop.get("priority", 0), f"{field}.priority", 0, 7)
    return ioprio_value(IOPRIO_CLASSES[cls], level)


# ---------------------------------------------------------------- personality

PERSONALITY_DOMAINS: dict[str, int] = {"LINUX": 0x0000, "LINUX32": 0x0008}
# linux/personality.h flag bits (the spec defines none yet; kernel names accepted)
PERSONALITY_FLAGS: dict[str, int] = {
    "UNAME26": 0x0020000,
    "ADDR_NO_RANDOMIZE": 0x0040000,
    "FDPIC_FUNCPTRS": 0x0080000,
    "MMAP_PAGE_ZERO": 0x0100000,
    "ADDR_COMPAT_LAYOUT": 0x0200000,
    "READ_IMPLIES_EXEC": 0x0400000,
    "ADDR_LIMIT_32BIT": 0x0800000,
    "SHORT_INODE": 0x1000000,
    "WHOLE_SECONDS": 0x2000000,
    "STICKY_TIMEOUTS": 0x4000000,
    "ADDR_LIMIT_3GB": 0x8000000,
}


def resolve_personality(pers: Any, field: str = "linux.personality") -> int | None:
    """The persona for personality(2)."""
    if pers is None:
        return None
    pers = _obj(pers, field)
    domain = pers.get("domain")
    if domain is None:
        raise ConfigError(f"{field}.domain", "is required")
    if domain not in PERSONALITY_DOMAINS:
        raise ConfigError(f"{field}.domain", f"unknown personality domain {domain!r} (LINUX or LINUX32)")
    value = PERSONALITY_DOMAINS[domain]
    for i, name in enumerate(_names(pers.get("flags"), f"{field}.flags")):
        if name not in PERSONALITY_FLAGS:
            raise ConfigError(f"{field}.flags[{i}]", f"unknown personality flag {name!r}")
        value |= PERSONALITY_FLAGS[name]
    return value


# ---------------------------------------------------------------- lists/masks

MAX_LIST_ID = 65535  # sanity bound for cpu/node numbers


def parse_id_list(text: Any, field: str) -> int:
    """"0-3,7" (cpuset list syntax, spaces allowed) -> bit mask."""
    if not isinstance(text, str):
        raise ConfigError(field, f"must be a string, got {text!r}")
    mask = 0
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo_s, sep, hi_s = part.partition("-")
        try:
            lo = int(lo_s, 10)
            hi = int(hi_s, 10) if sep else lo
        except ValueError:
            raise ConfigError(field, f"invalid list entry {part!r} in {text!r}") from None
        if lo_s.startswith(("+", "-")) or (sep and hi_s.startswith(("+", "-"))):
            raise ConfigError(field, f"invalid list entry {part!r} in {text!r}")
        if lo > hi:
            raise ConfigError(field, f"invalid range {part!r} in {text!r} (start above end)")
        if hi > MAX_LIST_ID:
            raise ConfigError(field, f"{hi} in {text!r} is out of range (max {MAX_LIST_ID})")
        mask |= ((1 << (hi - lo + 1)) - 1) << lo
    return mask


def mask_to_id_list(mask: int) -> str:
    """Bit mask -> "0,1,2,3,7" (explicit numbers, for the C init's plan)."""
    return ",".join(str(n) for n in range(mask.bit_length()) if mask >> n & 1)


def mask_to_bytes(mask: int, min_bits: int = 64) -> bytes:
    """Little-endian array of unsigned longs (cpu_set_t / nodemask layout)."""
    nbits = max(mask.bit_length(), min_bits)
    nlongs = (nbits + 63) // 64
    return mask.to_bytes(nlongs * 8, "little")


# ---------------------------------------------------------------- execCPUAffinity


class CpuAffinity(namedtuple("CpuAffinity", "initial final")):
    """CPU masks (bit n = CPU n); None = not set.

    initial: int | None
    final: int | None"""

    __slots__ = ()

    @staticmethod
    def cpu_set(mask: int) -> bytes:
        """cpu_set_t bytes for sched_setaffinity(pid, len(b), b)."""
        return mask_to_bytes(mask, 1024)  # at least glibc's CPU_SETSIZE


def resolve_exec_cpu_affinity(aff: Any, field: str = "process.execCPUAffinity") -> CpuAffinity | None:
    if aff is None:
        return None
    aff = _obj(aff, field)
    out: dict[str, int | None] = {}
    for key in ("initial", "final"):
        text = aff.get(key)
        if text is None or (isinstance(text, str) and not text.strip()):
            out[key] = None
            continue
        mask = parse_id_list(text, f"{field}.{key}")
        if not mask:
            raise ConfigError(f"{field}.{key}", f"no CPUs in {text!r}")
        out[key] = mask
    return CpuAffinity(out["initial"], out["final"])


# ---------------------------------------------------------------- memoryPolicy

MPOL_MODES: dict[str, int] = {
    "MPOL_DEFAULT": 0,
    "MPOL_PREFERRED": 1,
    "MPOL_BIND": 2,
    "MPOL_INTERLEAVE": 3,
    "MPOL_LOCAL": 4,
    "MPOL_PREFERRED_MANY": 5,
    "MPOL_WEIGHTED_INTERLEAVE": 6,
}
MPOL_FLAGS: dict[str, int] = {
    "MPOL_F_STATIC_NODES": 1 << 15,
    "MPOL_F_RELATIVE_NODES": 1 << 14,
    "MPOL_F_NUMA_BALANCING": 1 << 13,
}
_MPOL_NO_NODES = ("MPOL_DEFAULT", "MPOL_LOCAL")
_MPOL_NEED_NODES = ("MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE")


# mode: int        MPOL_* | MPOL_F_* flags
# nodes: int       node bit mask, 0 for NULL
# nodemask: bytes  unsigned long array, b"" for NULL
# maxnode: int     bits in nodemask + 1 (the kernel ignores the last), 0 for NULL
class MemPolicy(namedtuple("MemPolicy", "mode nodes nodemask maxnode")):
    """Arguments of set_mempolicy(mode, nodemask, maxnode)."""

    __slots__ = ()

    @property
    def node_list(self) -> str:
        """"0,2" form of `nodes` (empty string for NULL)."""
        return mask_to_id_list(self.nodes)


def resolve_memory_policy(mp: Any, field: str = "linux.memoryPolicy") -> MemPolicy | None:
    if mp is None:
        return None
    mp = _obj(mp, field)
    mode_name = mp.get("mode")
    if mode_name is None:
        raise ConfigError(f"{field}.mode", "is required")
    if mode_name not in MPOL_MODES:
        raise ConfigError(f"{field}.mode", f"unknown memory policy mode {mode_name!r}")
    flags = 0
    flag_names = _names(mp.get("flags"), f"{field}.flags")
    for i, name in enumerate(flag_names):
        if name not in MPOL_FLAGS:
            raise ConfigError(f"{field}.flags[{i}]", f"unknown memory policy flag {name!r}")
        flags |= MPOL_FLAGS[name]
    if "MPOL_F_STATIC_NODES" in flag_names and "MPOL_F_RELATIVE_NODES" in flag_names:
        raise ConfigError(f"{field}.flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES are mutually exclusive")
    nodes_text = mp.get("nodes")
    mask = parse_id_list(nodes_text, f"{field}.nodes") if nodes_text is not None else 0
    if mode_name in _MPOL_NO_NODES:
        if mask:
            raise ConfigError(f"{field}.nodes", f"must be empty for {mode_name}")
        if flags:
            raise ConfigError(f"{field}.flags", f"must be empty for {mode_name}")
        return MemPolicy(MPOL_MODES[mode_name], 0, b"", 0)
    if mode_name in _MPOL_NEED_NODES and not mask:
        raise ConfigError(f"{field}.nodes", f"{mode_name} needs at least one node")
    if not mask:  # MPOL_PREFERRED with no nodes = local allocation
        return MemPolicy(MPOL_MODES[mode_name] | flags, 0, b"", 0)
    data = mask_to_bytes(mask)
    return MemPolicy(MPOL_MODES[mode_name] | flags, mask, data, len(data) * 8 + 1)


# ---------------------------------------------------------------- oomScoreAdj


def resolve_oom_score_adj(value: Any, field: str = "process.oomScoreAdj") -> int | None:
    if value is None:
        return None
    return _int(value, field, -1000, 1000)
