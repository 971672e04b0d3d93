"""Parsers for the value syntaxes runc's CLI accepts: docker's RAMInBytes
("512m", "1g") and Go durations ("5s", "1m30s", "250ms")."""
from __future__ import annotations

import re

from pyrunc.errors import ConfigError

_RAM = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_MUL = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(s: str, field: str = "value") -> int:
    m = _RAM.match(s.strip())
    if not m:
        raise ConfigError(field, f"invalid size: {s!r}")
    num = float(m.group(1)) if m.group(1).count(".") <= 1 else None
    if num is None:
        raise ConfigError(field, f"invalid size: {s!r}")
    return int(num * _MUL[(m.group(2) or "").lower()])


_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(s: str, field: str = "duration") -> float:
    """Seconds in a Go duration string."""
    t = s.strip()
    if t in ("0", ""):
        if t == "0":
            return 0.0
        raise ConfigError(field, "invalid duration ''")
    sign = -1.0 if t.startswith("-") else 1.0
    t = t.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(t):
        m = _DUR.match(t, pos)
        if not m:
            raise ConfigError(field, f"invalid duration {s!r}")
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    return sign * total
