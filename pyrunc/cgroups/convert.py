"""Conversions of runtime-spec (cgroup v1 shaped) values to cgroup v2 values,
the way runc converts them."""
from __future__ import annotations

from pyrunc.errors import ConfigError


def cpu_shares_to_weight(shares: int) -> int:
    """cpu.shares [2..262144] -> cpu.weight [1..10000]; 0 means unset."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10..1000] -> io.weight [1..10000]; 0 means unset."""
    if weight == 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


def memory_swap_to_v2(swap: int, memory: int) -> int:
    """v1 memory+swap limit -> v2 memory.swap.max (swap only).

    Returns -1 for "max" and 0 for "leave unset"."""
    if memory == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if memory in (0, -1):
        raise ConfigError("linux.resources.memory.swap", "unable to set swap limit without memory limit")
    if memory < 0:
        raise ConfigError("linux.resources.memory.limit", f"invalid memory value: {memory}")
    if swap < memory:
        raise ConfigError("linux.resources.memory.swap", "memory+swap limit should be >= memory limit")
    return swap - memory


def cpu_max(quota: int, period: int) -> str | None:
    """cpu.cfs_quota_us/cfs_period_us -> cpu.max; None when both are unset."""
    if quota == 0 and period == 0:
        return None
    s = str(quota) if quota > 0 else "max"
    if period:
        s += f" {period}"
    return s


def limit_str(v: int) -> str:
    """A v2 limit: negative means "max"."""
    return "max" if v < 0 else str(v)


def pagesize_v2(pagesize: str) -> str:
    """runtime-spec hugepage size "2MB" -> v2/v1 file infix "2MB"."""
    return pagesize
