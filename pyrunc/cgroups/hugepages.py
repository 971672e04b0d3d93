"""Huge page sizes of this host, named like runtime-spec ("2MB", "1GB")."""
from __future__ import annotations

import os


def _name(kb: int) -> str:
    for unit, div in (("GB", 1 << 20), ("MB", 1 << 10)):
        if kb % div == 0 and kb >= div:
            return f"{kb // div}{unit}"
    return f"{kb}KB"


def sizes() -> list[str]:
    try:
        entries = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return []
    out = []
    for e in sorted(entries):
        if e.startswith("hugepages-") and e.endswith("kB"):
            try:
                out.append(_name(int(e[len("hugepages-") : -2])))
            except ValueError:
                continue
    return out


def write_limits(d: str, r: dict, suffix: str) -> None:
    """`hugepageLimits` into `hugetlb.<size>.<suffix>` (and the rsvd file
    where the kernel has it): suffix "limit_in_bytes" on v1, "max" on v2."""
    from pyrunc.cgroups import fsutil
    from pyrunc.errors import ConfigError

    for i, h in enumerate(r.get("hugepageLimits") or []):
        size = h.get("pageSize") or h.get("pagesize")
        if not size:
            raise ConfigError(f"linux.resources.hugepageLimits[{i}].pageSize", "missing")
        limit = str(h.get("limit", 0))
        fsutil.write(d, f"hugetlb.{size}.{suffix}", limit)
        if fsutil.exists(d, f"hugetlb.{size}.rsvd.{suffix}"):
            fsutil.write(d, f"hugetlb.{size}.rsvd.{suffix}", limit)
