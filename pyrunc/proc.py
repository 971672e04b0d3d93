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
