"""Detect the cgroup layout of the host from /proc/self/mountinfo.

Three layouts exist:
- ``v2``     (unified): one cgroup2 mount at the cgroup root, no v1 controllers;
- ``v1``     (legacy): only v1 hierarchies;
- ``hybrid``: v1 hierarchies plus a cgroup2 mount (usually
  ``/sys/fs/cgroup/unified``) that holds few or no controllers.
"""
from __future__ import annotations

import os

MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"
V2_DEFAULT_ROOT = "/sys/fs/cgroup"


# plain classes: dataclasses costs ~6 ms to import on every create
class Layout:
    """What the host offers: mode, v1 mountpoints and the cgroup2 mountpoint."""

    __slots__ = ("mode", "v1", "v1_roots", "unified", "unified_controllers")

    def __init__(
        self,
        mode: str,  # "v1" | "v2" | "hybrid"
        v1: dict[str, str] | None = None,  # controller -> mountpoint
        v1_roots: dict[str, str] | None = None,  # controller -> mount root
        unified: str | None = None,  # cgroup2 mountpoint
        unified_controllers: tuple[str, ...] = (),
    ) -> None:
        self.mode = mode
        self.v1 = {} if v1 is None else v1
        self.v1_roots = {} if v1_roots is None else v1_roots
        self.unified = unified
        self.unified_controllers = unified_controllers

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "v1": dict(self.v1),
            "v1_roots": dict(self.v1_roots),
            "unified": self.unified,
            "unified_controllers": list(self.unified_controllers),
        }


def _unescape(s: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) + 0 and s[i + 1 : i + 4].isdigit():
            out.append(chr(int(s[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> Layout:
    """Parse mountinfo text into a Layout (pure: testable with fixtures)."""
    v1: dict[str, str] = {}
    roots: dict[str, str] = {}
    unified: str | None = None
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields = pre.split()
        rest = post.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        fstype, super_opts = rest[0], rest[2]
        mnt_root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            # The first cgroup2 mount wins (a container may remount later).
            if unified is None:
                unified = mountpoint
        elif fstype == "cgroup":
            for opt in super_opts.split(","):
                if opt in ("rw", "ro") or opt.startswith("release_agent=") or opt in (
                    "clone_children",
                    "noprefix",
                    "xattr",
                    "cpuset_v2_mode",
                    "favordynmods",
                ):
                    continue
                v1.setdefault(opt, mountpoint)
                roots.setdefault(opt, mnt_root)
    ctrls: tuple[str, ...] = ()
    if unified is not None:
        try:
            with open(os.path.join(unified, "cgroup.controllers")) as f:
                ctrls = tuple(f.read().split())
        except OSError:
            ctrls = ()
    real_v1 = [c for c in v1 if not c.startswith("name=")]
    if unified is not None and not v1:
        mode = "v2"
    elif unified is not None:
        mode = "hybrid"
    elif real_v1 or v1:
        mode = "v1"
    else:
        mode = "none"
    return Layout(mode=mode, v1=v1, v1_roots=roots, unified=unified, unified_controllers=ctrls)


_cached: Layout | None = None


def detect(refresh: bool = False) -> Layout:
    """The layout of this host (cached per process)."""
    global _cached
    if _cached is None or refresh:
        with open(MOUNTINFO) as f:
            _cached = parse_mountinfo(f.read())
    return _cached


def own_cgroups(pid: int | str = "self") -> dict[str, str]:
    """Parse /proc/<pid>/cgroup: controller (or "" for v2) -> path."""
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) != 3:
                continue
            _, ctrls, path = parts
            if ctrls == "":
                out[""] = path
                continue
            for c in ctrls.split(","):
                out[c] = path
    return out
