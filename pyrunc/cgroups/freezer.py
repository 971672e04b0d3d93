"""Freezing helpers: v1 freezer.state and v2 cgroup.freeze, waiting until the
kernel reports the cgroup frozen."""
from __future__ import annotations

import os
import time

from pyrunc.cgroups import fsutil
from pyrunc.errors import CgroupError


def freeze_v1(d: str) -> None:
    for attempt in range(2000):
        if attempt % 50 == 0:
            # Re-kick: a FREEZING cgroup can stall when a task is racing in.
            if attempt and attempt % 500 == 0:
                fsutil.write(d, "freezer.state", "THAWED")
            fsutil.write(d, "freezer.state", "FROZEN")
        state = fsutil.read(d, "freezer.state").strip()
        if state == "FROZEN":
            return
        time.sleep(0.001 if attempt < 100 else 0.01)
    fsutil.write(d, "freezer.state", "THAWED")
    raise CgroupError(os.path.join(d, "freezer.state"), "unable to freeze (stuck in FREEZING)", "FROZEN")


def thaw_v1(d: str) -> None:
    if not os.path.isdir(d):
        return  # never made (a create killed midway) or already removed: nothing is frozen
    fsutil.write(d, "freezer.state", "THAWED")
    for _ in range(1000):
        if fsutil.read(d, "freezer.state").strip() == "THAWED":
            return
        time.sleep(0.001)


def frozen_v1(d: str) -> bool:
    s = fsutil.read_opt(d, "freezer.state")
    return s is not None and s.strip() in ("FROZEN", "FREEZING")


def _events_frozen(d: str) -> bool:
    return fsutil.read_keyed(d, "cgroup.events").get("frozen") == 1


def freeze_v2(d: str) -> None:
    fsutil.write(d, "cgroup.freeze", "1")
    for attempt in range(3000):
        if _events_frozen(d):
            return
        time.sleep(0.001 if attempt < 100 else 0.01)
    fsutil.write(d, "cgroup.freeze", "0")
    raise CgroupError(os.path.join(d, "cgroup.freeze"), "unable to freeze (cgroup.events never reported frozen)", "1")


def thaw_v2(d: str) -> None:
    if not os.path.isdir(d):
        return  # never made or already removed: nothing is frozen
    fsutil.write(d, "cgroup.freeze", "0")
    for _ in range(1000):
        if not _events_frozen(d):
            return
        time.sleep(0.001)


def frozen_v2(d: str) -> bool:
    s = fsutil.read_opt(d, "cgroup.freeze")
    return s is not None and s.strip() == "1"


def _nearest_existing(d: str) -> str:
    """`d` or its closest existing ancestor (at most the hierarchy's mountpoint)."""
    while not os.path.isdir(d) and os.path.dirname(d) != d:
        d = os.path.dirname(d)
    return d


def frozen_target_v1(d: str) -> str | None:
    """The freezer.state that says a new container in `d` would be frozen
    (the dir itself or, when not made yet, its nearest existing ancestor:
    v1's freezer.state reports the parent's freezing too), or None."""
    e = _nearest_existing(d)
    s = fsutil.read_opt(e, "freezer.state")
    if s is not None and s.strip() in ("FROZEN", "FREEZING"):
        return os.path.join(e, "freezer.state")
    return None


def frozen_target_v2(d: str) -> str | None:
    """Like frozen_target_v1 for cgroup v2: cgroup.freeze set on the dir, or
    cgroup.events `frozen 1` (frozen through an ancestor)."""
    e = _nearest_existing(d)
    if (fsutil.read_opt(e, "cgroup.freeze") or "").strip() == "1":
        return os.path.join(e, "cgroup.freeze")
    if _events_frozen(e):
        return os.path.join(e, "cgroup.events")
    return None
