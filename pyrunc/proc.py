"""Facts about host processes read from /proc: start time (to tell a live
container init from a reused pid), liveness, zombies; and reaping a child."""
from __future__ import annotations

import os


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the comm, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may hold spaces and parentheses: split after the last ')'
    return data[data.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    f = stat_fields(pid)
    return int(f[19]) if f else None  # field 22 of the file


def is_alive(pid: int, start: int | None) -> bool:
    """The process exists, is not a zombie, and is the one started at `start`."""
    f = stat_fields(pid)
    if f is None or f[0] in ("Z", "X"):
        return False
    return start is None or int(f[19]) == start


def ns_pid(pid: int) -> int:
    """`pid` as seen in its own (innermost) pid namespace."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        pass
    return pid


def reap(pid: int) -> None:
    """waitpid(pid) through EINTR; a pid that is not (or no longer) our child is fine."""
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except InterruptedError:
            continue
        except ChildProcessError:
            return


def pidns_inode(pid: int) -> int | None:
    """The inode of `pid`'s pid namespace (None if gone)."""
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


class Ownership:
    """Which processes of a container's cgroup belong to the container.

    A cgroup may already hold processes when the container is created
    (another tenant, a leftover): they are recorded at create by pid and
    start time and are never the container's.  With a pid namespace of its
    own, the container's processes are those in that namespace (recorded by
    inode: an `exec`'d process is in it, a process someone else moves into
    the cgroup later is not); without one, every other process of the
    cgroup is taken to be one it started."""

    def __init__(self, foreign: list | None = None, pidns: int | None = None) -> None:
        self.foreign = {int(p): (int(s) if s is not None else None) for p, s in (foreign or [])}
        self.pidns = pidns

    @classmethod
    def from_state(cls, state: dict) -> "Ownership":
        return cls(state.get("foreign_pids"), state.get("pidns"))

    def owns(self, pid: int) -> bool:
        if pid in self.foreign:
            start = self.foreign[pid]
            if start is None or start_time(pid) == start:
                return False  # the very process that predates the container
        if self.pidns is not None:
            ino = pidns_inode(pid)
            return ino is None or ino == self.pidns  # gone already: harmless either way
        return True

    @property
    def trivial(self) -> bool:
        """Everything in the cgroup is the container's."""
        return not self.foreign and self.pidns is None
