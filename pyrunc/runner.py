"""`run`: create + start, then, in the foreground, forward signals to the
container's init, wait for it, delete it and return its exit status."""
from __future__ import annotations

import os
import signal

from pyrunc.container import Container
from pyrunc.create import CreateOptions, create
from pyrunc.store import Store

_NOT_FORWARDED = {signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP, signal.SIGURG, signal.SIGWINCH}


def exit_status(status: int) -> int:
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 255


def run(store: Store, cid: str, opts: CreateOptions, detach: bool = False, keep: bool = False,
        subreaper: bool = True) -> int:
    if not detach and subreaper:
        # The init's launcher exits after the clone; as a subreaper we become
        # the init's parent and can wait for it.
        import prctl

        prctl.set_child_subreaper(1)
    container = create(store, cid, opts)
    try:
        container.start()
    except BaseException:
        container.delete(force=True)
        raise
    if detach:
        return 0
    pid = container.pid

    def forward(signum: int, _frame) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for s in signal.valid_signals():
        if s not in _NOT_FORWARDED:
            try:
                signal.signal(s, forward)
            except (OSError, ValueError):
                pass
    status = _wait_for(pid)
    if not keep:
        container.delete(force=True)
    return status


def _wait_for(pid: int) -> int:
    """Reap children (we are a subreaper) until the init exits."""
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            # not our child (--no-subreaper): poll until it is gone
            from pyrunc.container import wait_gone

            wait_gone(pid, None, timeout=1e9)
            return 0
        if wpid == pid:
            return exit_status(status)
