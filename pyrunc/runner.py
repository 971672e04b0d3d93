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
    console = None
    relay = None
    if not detach and opts.console_socket is None and opts.console_fd is None and _wants_terminal(opts.bundle):
        # No console socket: the pty comes back to us and we proxy it.
        from pyrunc.console import console_pair

        console, theirs = console_pair()
        opts.console_fd = theirs
    elif not detach and opts.stdio is None:
        # runc: pipes of our own between the caller's stdio and the process
        from pyrunc.stdio_relay import Relay

        relay = Relay()
        opts.stdio = relay.container
    try:
        container = create(store, cid, opts)
    except BaseException:
        if console is not None:
            console.close()
        if relay is not None:
            relay.close()
        raise
    finally:
        if console is not None:
            os.close(theirs)
            opts.console_fd = None
    proxy = None
    try:
        if console is not None:
            from pyrunc.console import Proxy, recv_master

            with console:
                proxy = Proxy(recv_master(console)[0])
            proxy.start()
        container.start(notify_wait=detach)
    except BaseException:
        if proxy is not None:
            proxy.finish()
        container.delete(force=True, hooks_cwd=container.bundle or None)
        raise
    if detach:
        return 0
    try:
        if relay is not None:
            relay.started()
        return _foreground(container, keep, relay)
    finally:
        if proxy is not None:
            proxy.finish()
        if relay is not None:
            relay.close()


def _wants_terminal(bundle: str) -> bool:
    from pyrunc import jsontext

    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            return bool((jsontext.loads(f.read()).get("process") or {}).get("terminal"))
    except (OSError, ValueError, AttributeError):
        return False  # create reports the problem


def _foreground(container: Container, keep: bool, relay=None) -> int:
    pid = container.pid
    forwarder = SignalForwarder()
    forwarder.install()
    forwarder.target(pid)
    if relay is not None:
        relay.pump(pid)
    status = wait_foreground(pid)
    if not keep:
        container.delete(force=True, hooks_cwd=container.bundle or None)
    return status


def wait_foreground(pid: int) -> int:
    """Reap children (we are their subreaper) until `pid` exits; its exit
    status (128+N after signal N).  Used by run and foreground exec."""
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


class SignalForwarder:
    """Catches the signals pyrunc should pass on from before the process
    exists (so none is lost while it starts) and forwards them once its pid
    is known."""

    def __init__(self) -> None:
        self.pid = 0
        self.pending: list[int] = []

    def install(self) -> None:
        for s in signal.valid_signals():
            if s not in _NOT_FORWARDED:
                try:
                    signal.signal(s, self._on_signal)
                except (OSError, ValueError):
                    pass

    def _on_signal(self, signum: int, _frame) -> None:
        if self.pid:
            self._send(signum)
        else:
            self.pending.append(signum)

    def _send(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def target(self, pid: int) -> None:
        self.pid = pid
        pending, self.pending = self.pending, []
        for s in pending:
            self._send(s)
