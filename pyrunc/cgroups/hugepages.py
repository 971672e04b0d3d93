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
