"""Terminals: receiving a pty master over a console socket (runc's protocol:
one SCM_RIGHTS fd, the pty path as payload) and proxying it to pyrunc's own
stdio for `run` and foreground `exec` without --console-socket: the
caller's terminal in raw mode, window size copied at start and on SIGWINCH."""
from __future__ import annotations

import array
import errno
import fcntl
import os
import select
import signal
import socket
import struct
import termios
import threading
from typing import Callable

from pyrunc.errors import PyruncError


def console_pair() -> tuple[socket.socket, int]:
    """(our end, the end to hand to the init as its console socket fd)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.set_inheritable(False)
    return ours, theirs.detach()


def recv_master(sock: socket.socket) -> tuple[int, str]:
    """The pty master fd and its path sent by the init."""
    fds = array.array("i")
    msg, anc, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        raise PyruncError("console socket: no pty master received")
    for extra in fds[1:]:
        os.close(extra)
    os.set_inheritable(fds[0], False)
    return fds[0], msg.decode(errors="replace")


def get_winsize(fd: int) -> bytes | None:
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def set_winsize(fd: int, ws: bytes) -> None:
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, ws)
    except OSError:
        pass


def winsize(rows: int, cols: int) -> bytes:
    return struct.pack("HHHH", rows, cols, 0, 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]


class Proxy:
    """Copies stdin -> master and master -> stdout in a thread until the
    pty's last slave is closed (EIO) or `finish()` is called."""

    def __init__(self, master: int, stdin: int = 0, stdout: int = 1) -> None:
        self.master = master
        try:
            os.fstat(stdin)
        except OSError:
            stdin = -1
        self.stdin = stdin
        self.stdout = stdout
        self._saved_tty: list | None = None
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._copy, name="pty-proxy", daemon=True)
        self._old_winch: Callable | int | None = None

    def start(self) -> None:
        if self.stdin >= 0 and os.isatty(self.stdin):
            ws = get_winsize(self.stdin)
            if ws is not None:
                set_winsize(self.master, ws)
            try:
                self._saved_tty = termios.tcgetattr(self.stdin)
                import tty

                tty.setraw(self.stdin, termios.TCSANOW)
            except termios.error:
                self._saved_tty = None
        if threading.current_thread() is threading.main_thread():
            self._old_winch = signal.signal(signal.SIGWINCH, self._on_winch)
        self._thread.start()

    def _on_winch(self, _signum: int, _frame) -> None:
        for fd in (self.stdin, self.stdout):
            ws = get_winsize(fd)
            if ws is not None:
                set_winsize(self.master, ws)
                return

    def _copy(self) -> None:
        inputs = [self.master, self._stop_r]
        if self.stdin >= 0:
            inputs.append(self.stdin)
        draining = False
        while True:
            try:
                ready, _, _ = select.select(inputs, [], [], 0.05 if draining else None)
            except InterruptedError:
                continue
            if not ready:
                return  # finished and nothing left to copy
            if self._stop_r in ready:
                inputs.remove(self._stop_r)
                draining = True
                continue
            if self.master in ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError as e:
                    if e.errno == errno.EIO:  # every slave fd is closed
                        return
                    raise
                if not data:
                    return
                try:
                    _write_all(self.stdout, data)
                except OSError:
                    return
            if self.stdin in ready:
                try:
                    data = os.read(self.stdin, 65536)
                except OSError:
                    data = b""
                if not data:
                    inputs.remove(self.stdin)  # stdin ended: the pty stays open
                    continue
                try:
                    _write_all(self.master, data)
                except OSError:
                    inputs.remove(self.stdin)

    def finish(self, timeout: float = 5.0) -> None:
        """The process exited: copy what is left of its output, restore the terminal."""
        os.write(self._stop_w, b"x")
        self._thread.join(timeout)
        self.close()

    def close(self) -> None:
        if self._saved_tty is not None:
            try:
                termios.tcsetattr(self.stdin, termios.TCSADRAIN, self._saved_tty)
            except termios.error:
                pass
            self._saved_tty = None
        if self._old_winch is not None:
            try:
                signal.signal(signal.SIGWINCH, self._old_winch)
            except (ValueError, TypeError):
                pass
            self._old_winch = None
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stop_r = self._stop_w = -1
        try:
            os.close(self.master)
        except OSError:
            pass
