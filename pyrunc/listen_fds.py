"""Socket activation passthrough (sd_listen_fds): when pyrunc itself was
started with LISTEN_FDS for its own pid, those fds (3..3+N-1) are handed to
the container process at the same numbers, before any --preserve-fds, and
the process gets LISTEN_FDS=N and LISTEN_PID=1 (runc's behaviour)."""
from __future__ import annotations

import os


def listen_fds() -> int:
    """How many activation fds pyrunc was given (0 unless LISTEN_PID is us)."""
    n = os.environ.get("LISTEN_FDS", "")
    pid = os.environ.get("LISTEN_PID", "")
    if not n or not n.isdigit() or pid != str(os.getpid()):
        return 0
    count = int(n)
    for fd in range(3, 3 + count):
        try:
            os.fstat(fd)
        except OSError:
            return 0
    return count


def add_listen_env(env: list[str], count: int) -> list[str]:
    """`env` with LISTEN_FDS/LISTEN_PID set for the container process."""
    if not count:
        return env
    out = [e for e in env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
    return out + [f"LISTEN_FDS={count}", "LISTEN_PID=1"]
