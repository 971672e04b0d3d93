"""cgroup management: v1, v2 and hybrid hosts.

Importing this package is cheap (stdlib only); drivers load on demand.

    mgr = manager_for(spec_linux.get("cgroupsPath"), cid)
    mgr.create(); helper joins mgr.procs_files(); mgr.set(resources)
    state["cgroup"] = mgr.to_dict()   # later: Manager.from_dict(...)
"""
from __future__ import annotations

import os
import posixpath

from pyrunc.errors import CgroupError

TYPE_CHECKING = False  # typing costs ~3 ms of every create

if TYPE_CHECKING:  # pragma: no cover
    from pyrunc.cgroups.base import Manager

# v1 hierarchies a container joins (runc's subsystem list).
V1_CONTROLLERS = (
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    "misc",
    "name=systemd",
)


def clean_path(p: str) -> str:
    """runc's CleanPath: normalise, and keep relative paths from escaping
    upwards with "..")."""
    if not p:
        return ""
    if p.startswith("/"):
        return posixpath.normpath(p).replace("//", "/")
    return posixpath.relpath(posixpath.normpath("/" + p), "/")


def _join(*parts: str) -> str:
    out = parts[0]
    for p in parts[1:]:
        out = posixpath.join(out, p.lstrip("/")) if p else out
    return posixpath.normpath(out)


def manager_for(cgroups_path: str | None, cid: str, rootless: bool = False, systemd: bool = False) -> "Manager":
    """The Manager for a new container, placed like runc's cgroupfs driver:
    absolute cgroupsPath under each hierarchy root; relative (and unset,
    which means the container id) below the cgroup of the calling process
    (on v2: below its parent, which can delegate controllers)."""
    if systemd:
        from pyrunc.cgroups.systemd import manager

        return manager(cgroups_path, cid, rootless=rootless)
    from pyrunc.cgroups.detect import detect, own_cgroups

    inner = clean_path(cgroups_path or "") or cid
    layout = detect()
    own = own_cgroups() if not inner.startswith("/") else {}
    if layout.mode == "v2":
        from pyrunc.cgroups.fs2 import V2Manager

        assert layout.unified is not None
        if inner.startswith("/"):
            d = _join(layout.unified, inner)
        else:
            d = _join(layout.unified, posixpath.dirname(own.get("", "/")), inner)
        return V2Manager(layout.unified, d, rootless=rootless)
    if layout.mode in ("v1", "hybrid"):
        from pyrunc.cgroups.fs1 import V1Manager

        paths: dict[str, str] = {}
        for ctrl in V1_CONTROLLERS:
            mnt = layout.v1.get(ctrl)
            if mnt is None:
                continue
            if inner.startswith("/"):
                paths[ctrl] = _join(mnt, inner)
            else:
                mroot = layout.v1_roots.get(ctrl, "/")
                base = own.get(ctrl, "/")
                rel = posixpath.relpath(base, mroot) if base.startswith(mroot) else base
                paths[ctrl] = _join(mnt, "" if rel == "." else rel, inner)
        unified = None
        if layout.unified is not None:
            if inner.startswith("/"):
                unified = _join(layout.unified, inner)
            else:
                unified = _join(layout.unified, own.get("", "/"), inner)
        return V1Manager(paths, unified, layout.unified, rootless=rootless)
    raise CgroupError("/proc/self/mountinfo", "no cgroup filesystem is mounted")


def from_dict(d: dict) -> "Manager":
    from pyrunc.cgroups.base import Manager

    return Manager.from_dict(d)


def __getattr__(name: str):  # lazy re-exports
    if name == "Manager":
        from pyrunc.cgroups.base import Manager

        return Manager
    raise AttributeError(name)


__all__ = ["manager_for", "from_dict", "clean_path", "Manager", "V1_CONTROLLERS"]
_ = os  # keep the import for type users
