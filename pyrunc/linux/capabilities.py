"""Capability names <-> numbers, and config capability sets -> bit masks.

Names follow linux/capability.h (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE). A name
that is not in the table is a config error; a name the running kernel does not
know (number above /proc/sys/kernel/cap_last_cap) is dropped with a warning,
as runc does, so one config works across kernels.
"""
from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # `typing` costs ~3 ms of every create; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

    Warn = Callable[[str], None]

from pyrunc.errors import ConfigError

CAPABILITIES: dict[str, int] = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

CAP_NAMES: dict[int, str] = {v: k for k, v in CAPABILITIES.items()}
CAP_LAST_KNOWN = max(CAPABILITIES.values())

SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

_last_cap: int | None = None


def _no_warn(msg: str) -> None:
    pass


def last_cap() -> int:
    """Highest capability number the running kernel knows (cached)."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
                _last_cap = int(f.read().strip())
        except (OSError, ValueError):
            _last_cap = CAP_LAST_KNOWN
    return _last_cap


def all_caps_mask() -> int:
    """Mask of every capability the running kernel and pyrunc both know."""
    return (1 << (min(last_cap(), CAP_LAST_KNOWN) + 1)) - 1


def cap_number(name: str, field: str) -> int:
    """Number of one capability name; ConfigError if the name is unknown."""
    if not isinstance(name, str):
        raise ConfigError(field, f"capability must be a string, got {name!r}")
    try:
        return CAPABILITIES[name]
    except KeyError:
        raise ConfigError(field, f"unknown capability {name!r}") from None


def caps_to_mask(names: Iterable[str] | None, field: str, warn: Warn = _no_warn) -> int:
    """Bit mask (bit n = capability n) of a list of capability names.

    Unknown names raise ConfigError naming `field[i]`; names the running kernel
    lacks are dropped with one `warn()` call listing them."""
    if names is None:
        return 0
    if not isinstance(names, (list, tuple)):
        raise ConfigError(field, f"must be an array of capability names, got {type(names).__name__}")
    kernel_last = last_cap()
    mask = 0
    missing: list[str] = []
    for i, name in enumerate(names):
        num = cap_number(name, f"{field}[{i}]")
        if num > kernel_last:
            if name not in missing:
                missing.append(name)
            continue
        mask |= 1 << num
    if missing:
        warn(f"{field}: ignoring capabilities unknown to the running kernel: {', '.join(missing)}")
    return mask


def mask_to_names(mask: int) -> list[str]:
    """Capability names of the bits set in `mask`, in number order.

    Bits without a name come out as `CAP_<n>` (newer kernels than this table)."""
    names: list[str] = []
    n = 0
    while mask >> n:
        if (mask >> n) & 1:
            names.append(CAP_NAMES.get(n, f"CAP_{n}"))
        n += 1
    return names


class CapSets(namedtuple("CapSets", "bounding effective permitted inheritable ambient", defaults=(0, 0, 0, 0, 0))):
    """The five capability sets as masks, ready for capset()/prctl()."""

    __slots__ = ()

    def as_dict(self) -> dict[str, int]:
        return dict(self._asdict())


def resolve_capabilities(
    caps: dict[str, Any] | None, field: str = "process.capabilities", warn: Warn = _no_warn
) -> CapSets:
    """Masks for `process.capabilities`. Absent sets are empty (as runc).

    An ambient capability must also be permitted and inheritable (the kernel
    refuses to raise it otherwise): one that is not is dropped from the
    ambient set, as runc does (it warns and goes on); `warn` is told."""
    if caps is None:
        return CapSets()
    if not isinstance(caps, dict):
        raise ConfigError(field, "must be an object")
    for key in caps:
        if key not in SETS:
            raise ConfigError(f"{field}.{key}", f"unknown capability set (expected one of {', '.join(SETS)})")
    masks = {s: caps_to_mask(caps.get(s), f"{field}.{s}", warn) for s in SETS}
    bad = masks["ambient"] & ~(masks["permitted"] & masks["inheritable"])
    if bad:
        warn(f"{field}.ambient: {', '.join(mask_to_names(bad))} not in both the permitted and inheritable "
             "sets: skipped")
        masks["ambient"] &= ~bad
    return CapSets(**masks)
