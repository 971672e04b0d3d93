"""Starting pyrunc-init and talking to it over the sync socket.

The init program is copied into a sealed memfd and executed from there, so
/proc/<init>/exe, seen from inside the container before execve, is a
read-only anonymous copy, never a host file (CVE-2019-5736)."""
from __future__ import annotations

import array
import fcntl
import os
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Callable

from pyrunc.errors import InitError, PyruncError

INIT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libexec", "pyrunc-init")
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def sealed_init() -> int:
    """A sealed memfd holding pyrunc-init (close-on-exec is cleared by Popen's pass_fds)."""
    try:
        with open(INIT_PATH, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise PyruncError(f"{INIT_PATH} is missing: build pyrunc (pip install .)") from None
    fd = os.memfd_create("pyrunc-init", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    return fd


def _plan_fd(plan: bytes) -> int:
    fd = os.memfd_create("pyrunc-plan", os.MFD_CLOEXEC)
    view = memoryview(plan)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@dataclass
class InitHandlers:
    """What the caller does at each sync point."""

    on_pid: Callable[[int], None] = lambda pid: None
    on_hooks: Callable[[], bytes] = lambda: b""  # returns the state JSON for createContainer hooks
    on_seccomp_fd: Callable[[int], None] = lambda fd: None


@dataclass
class InitResult:
    pid: int = 0
    extra_fds: list[int] = field(default_factory=list)


def run_init(plan: bytes, handlers: InitHandlers, pass_fds: tuple[int, ...] = (),
             stdin=None, stdout=None, stderr=None) -> InitResult:
    """Start the init, answer its sync messages, return once it is ready
    (blocked on the start gate, or about to exec when there is no gate)."""
    exe = sealed_init()
    planfd = _plan_fd(plan)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    result = InitResult()
    try:
        launcher = subprocess.Popen(
            ["pyrunc-init", str(planfd), str(child.fileno()), str(exe)],
            executable=f"/proc/self/fd/{exe}",
            pass_fds=(exe, planfd, child.fileno(), *pass_fds),
            stdin=stdin, stdout=stdout, stderr=stderr,
            close_fds=True,
        )
    finally:
        os.close(exe)
        os.close(planfd)
        child.close()
    try:
        _converse(parent, handlers, result)
    except (BrokenPipeError, ConnectionResetError):
        # killed mid-setup (e.g. by a delete --force racing this create)
        raise PyruncError("container init exited unexpectedly during setup") from None
    finally:
        parent.close()
        launcher.wait()
    return result


def _converse(sock: socket.socket, handlers: InitHandlers, result: InitResult) -> None:
    while True:
        fds = array.array("i")
        msg, anc, _flags, _addr = sock.recvmsg(1 << 16, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        if not msg and not fds:
            raise PyruncError("container init exited unexpectedly during setup")
        text = msg.decode(errors="replace")
        if text.startswith("error\t"):
            _, step, err, detail = (text.split("\t", 3) + ["", "", ""])[:4]
            raise InitError(step, int(err or 0), detail)
        if text.startswith("pid\t"):
            result.pid = int(text[4:])
            handlers.on_pid(result.pid)
        elif text == "hooks":
            state = handlers.on_hooks()
            sock.send(b"go\n" + state)
        elif text == "seccomp":
            for fd in fds:
                try:
                    handlers.on_seccomp_fd(fd)
                finally:
                    os.close(fd)
            sock.send(b"ok")
        elif text == "ready":
            return
        else:
            raise PyruncError(f"container init sent an unknown message {text!r}")
