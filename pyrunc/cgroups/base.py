"""The Manager interface shared by the v1 (fs1) and v2 (fs2) drivers."""
from __future__ import annotations

import _signal  # not `signal` (it imports enum)
import os
from abc import ABC, abstractmethod

from pyrunc.errors import CgroupError


def merge_resources(old: dict | None, delta: dict | None) -> dict:
    """Merge a partial linux.resources dict into a stored one: sub-objects
    merge key by key, lists and scalars replace."""
    import copy  # `update` only

    out = copy.deepcopy(old or {})
    for k, v in (delta or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_resources(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def walk_pids(path: str) -> list[int]:
    """Every pid in a cgroup dir and its descendants."""
    pids: list[int] = []
    for root, _dirs, _files in os.walk(path):
        try:
            with open(os.path.join(root, "cgroup.procs")) as f:
                pids.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    return pids


class Manager(ABC):
    """One container's cgroup(s). Rebuilt from state with Manager.from_dict."""

    driver: str = ""

    def __init__(self, rootless: bool = False, resources: dict | None = None) -> None:
        self.rootless = rootless
        # The resources last applied (merged over updates); kept in state.
        self.resources: dict = resources or {}

    # -- lifecycle ------------------------------------------------------
    @abstractmethod
    def create(self) -> None:
        """Create the cgroup directories (idempotent)."""

    @abstractmethod
    def procs_files(self) -> list[str]:
        """cgroup.procs files a process writes its own pid into to join."""

    def apply(self, pid: int) -> None:
        """Move pid (a whole process) into the cgroup(s)."""
        from pyrunc.cgroups import fsutil

        for f in self.procs_files():
            fsutil.write(os.path.dirname(f), os.path.basename(f), str(pid))

    @abstractmethod
    def set(self, resources: dict, *, devices: bool = True, spec_device_paths: list[str] | None = None) -> None:
        """Apply a runtime-spec linux.resources dict. devices=False skips the
        device rules (update keeps the rules from create)."""

    def update(self, delta: dict) -> None:
        """Apply a partial resources dict and remember the merged result."""
        self.set(delta, devices=False)
        self.resources = merge_resources(self.resources, delta)

    @abstractmethod
    def destroy(self) -> None:
        """Remove the cgroup dirs once every process in them is gone."""

    @abstractmethod
    def exists(self) -> bool: ...

    # -- inspection -----------------------------------------------------
    @abstractmethod
    def pids(self) -> list[int]: ...

    @abstractmethod
    def stats(self) -> dict:
        """runc `events --stats` data object."""

    @abstractmethod
    def path(self, controller: str = "") -> str | None:
        """The directory for a controller ("" = the main/unified one)."""

    # -- freezer --------------------------------------------------------
    @abstractmethod
    def freeze(self) -> None: ...

    @abstractmethod
    def thaw(self) -> None: ...

    @abstractmethod
    def frozen(self) -> bool: ...

    def frozen_target(self) -> str | None:
        """Before create: the freezer file that says the container's cgroup
        (or the ancestor it would be made in) is frozen, else None.  An init
        joining it would stop there, so create refuses (runc: "container's
        cgroup unexpectedly frozen")."""
        return None

    def kill_all(self, sig: int = _signal.SIGKILL, owns=None) -> None:
        """Signal every process (or, with `owns`, every process for which
        `owns(pid)` is true): freeze, signal each pid, thaw (like runc),
        so nothing forks while we iterate. A paused container stays paused
        unless the signal is SIGKILL (frozen tasks die only once thawed)."""
        if sig == 0:  # a liveness probe: nothing to freeze for
            for pid in self.pids():
                if owns is None or owns(pid):
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        pass
            return
        was_frozen = self.frozen()
        froze = False
        if not was_frozen:
            try:
                self.freeze()
                froze = True
            except CgroupError:
                froze = False
        try:
            for pid in self.pids():
                if owns is not None and not owns(pid):
                    continue
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if froze or (was_frozen and sig == _signal.SIGKILL):
                self.thaw()

    def oom_kill_count(self) -> int | None:
        """Number of OOM kills so far (None if unknown)."""
        return None

    # -- serialisation --------------------------------------------------
    @abstractmethod
    def to_dict(self) -> dict: ...

    @staticmethod
    def from_dict(d: dict) -> "Manager":
        drv = d.get("driver")
        if drv == "fs1":
            from pyrunc.cgroups.fs1 import V1Manager

            return V1Manager.from_dict(d)
        if drv == "fs2":
            from pyrunc.cgroups.fs2 import V2Manager

            return V2Manager.from_dict(d)
        if drv in ("systemd1", "systemd2"):
            from pyrunc.cgroups.systemd import SystemdV1Manager, SystemdV2Manager

            return (SystemdV2Manager if drv == "systemd2" else SystemdV1Manager).from_dict(d)
        raise CgroupError("state.json:cgroup", f"unknown cgroup driver {drv!r}")
