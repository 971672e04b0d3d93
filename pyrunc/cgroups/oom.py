"""OOM notification: v1 via an eventfd registered on memory.oom_control
through cgroup.event_control; v2 by polling memory.events (kernfs notifies
POLLPRI on change) and comparing the oom_kill counter."""
from __future__ import annotations

import os
import select

from pyrunc.cgroups import fsutil
from pyrunc.errors import CgroupError


class OOMWatcher:
    """fileno() to poll on; fired() after it is readable: did an OOM happen?"""

    def fileno(self) -> int:
        raise NotImplementedError

    @property
    def poll_mask(self) -> int:
        return select.POLLIN

    def fired(self) -> int:
        """Number of OOM events since the last call."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class V1OOM(OOMWatcher):
    def __init__(self, memdir: str) -> None:
        self.efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            self.ofd = os.open(os.path.join(memdir, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            os.close(self.efd)
            raise CgroupError(os.path.join(memdir, "memory.oom_control"), e.strerror or str(e)) from None
        try:
            fsutil.write(memdir, "cgroup.event_control", f"{self.efd} {self.ofd}")
        except CgroupError:
            self.close()
            raise

    def fileno(self) -> int:
        return self.efd

    def fired(self) -> int:
        try:
            return os.eventfd_read(self.efd)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        for fd in (getattr(self, "efd", -1), getattr(self, "ofd", -1)):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.efd = self.ofd = -1


class V2OOM(OOMWatcher):
    def __init__(self, d: str) -> None:
        self.dir = d
        path = os.path.join(d, "memory.events")
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError(path, e.strerror or str(e)) from None
        self.last = self._count()

    def _count(self) -> int:
        try:
            data = os.pread(self.fd, 4096, 0).decode()
        except OSError:
            return self.last if hasattr(self, "last") else 0
        for line in data.splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                return int(v)
        return 0

    def fileno(self) -> int:
        return self.fd

    @property
    def poll_mask(self) -> int:
        return select.POLLPRI | select.POLLERR

    def fired(self) -> int:
        n = self._count()
        new, self.last = max(0, n - self.last), n
        return new

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def watcher_for(mgr) -> OOMWatcher | None:
    """The OOM watcher for a Manager, or None without a memory controller."""
    if mgr.driver in ("fs2", "systemd2"):
        if not fsutil.exists(mgr.dir, "memory.events"):
            return None
        return V2OOM(mgr.dir)
    d = mgr.paths.get("memory")
    if not d:
        return None
    return V1OOM(d)
