"""Spawning and timing runtime processes, and reaping container inits.

The harness makes itself a child subreaper (as containerd-shim does), so a
container init whose runtime parent exited is re-parented to us: we can wait
for it exactly and reap it promptly instead of leaving zombies to PID 1.

Runtime commands are started with posix_spawn (no Python between fork and
exec), stdout to /dev/null and stderr to a log file — never a pipe, because a
created container's init inherits the runtime's stdio and would hold a pipe
open. Wall time is measured around spawn + wait. (wait4's ru_maxrss is no use
for the runtime's peak RSS: a child spawned from this Python process carries
our high-water mark across exec; the memory case uses GNU time instead.)
"""
from __future__ import annotations

import ctypes
import os
import select
import time
from dataclasses import dataclass

PR_SET_CHILD_SUBREAPER = 36


class BenchError(Exception):
    """A step of a benchmark failed; the message is one line naming the command."""


@dataclass(frozen=True)
class Result:
    """One finished process: wall seconds and exit code."""

    seconds: float
    returncode: int
    cpu: float = 0.0  # user+sys seconds of the process and the children it waited for (wait4)


def become_subreaper() -> None:
    """Adopt orphaned descendants (container inits) like containerd-shim."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise BenchError(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def _file_actions(stderr_path: str) -> list[tuple[int, int, str, int, int]]:
    return [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]


def spawn(argv: list[str], stderr_path: str) -> int:
    """Start argv (PATH lookup), stdio detached as described above; return the pid."""
    return os.posix_spawnp(argv[0], argv, os.environ, file_actions=_file_actions(stderr_path))


def wait(pid: int) -> int:
    """Wait for our child pid; return its exit code."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run(argv: list[str], stderr_path: str) -> Result:
    """Run argv to completion and time it (wall clock, perf_counter; and
    its CPU time from wait4, which load inflates far less than wall time)."""
    t0 = time.perf_counter()
    pid = spawn(argv, stderr_path)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    return Result(seconds, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)


def stderr_tail(path: str, limit: int = 300) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()[-limit:]
    except OSError:
        return ""
    return " ".join(data.decode(errors="replace").split())


def check(argv: list[str], stderr_path: str) -> Result:
    """run() and raise BenchError (one line, with stderr) on a non-zero exit."""
    res = run(argv, stderr_path)
    if res.returncode != 0:
        raise BenchError(f"`{' '.join(argv)}` exited {res.returncode}: {stderr_tail(stderr_path)}")
    return res


def wait_exit(pid: int, timeout: float = 10.0) -> None:
    """Wait until process pid has exited, reaping it if it is our child."""
    try:
        os.waitpid(pid, 0)
        return
    except ChildProcessError:
        pass
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise BenchError(f"process {pid} still alive after {timeout:.0f}s")
    finally:
        os.close(fd)


def reap() -> int:
    """Reap every exited child without blocking; return how many were reaped.

    Only call this when no spawned runtime process is outstanding, or it may
    steal that process's exit status."""
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


def read_pid_file(path: str, timeout: float = 5.0) -> int:
    """Read a runtime's --pid-file (it is written before create returns)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"{path}: no pid written")
        time.sleep(0.001)


def proc_status_kib(pid: int, keys: tuple[str, ...]) -> dict[str, int]:
    """Values (KiB) of the given keys of /proc/PID/status, e.g. VmRSS, RssAnon."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in keys:
                    out[name] = int(rest.split()[0])
    except FileNotFoundError as exc:
        raise BenchError(f"/proc/{pid}/status: process gone") from exc
    missing = [k for k in keys if k not in out]
    if missing:
        raise BenchError(f"/proc/{pid}/status: no {', '.join(missing)}")
    return out
