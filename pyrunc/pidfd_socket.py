"""`--pidfd-socket` (runc 1.2+): a pidfd of the container's process, sent
over an AF_UNIX socket with SCM_RIGHTS, as `--console-socket` sends the pty
master.  The message is runc's: "standard" for the init of `create`/`run`,
"setns" for a process started by `exec`.

The socket is connected before anything is made (a bad path fails first and
leaves nothing); the pidfd is opened once the process exists: for create at
the start gate (the init cannot exit by itself there, and its start time is
checked after opening), for exec right after the init reports it started
(in the foreground it is pyrunc's child through the subreaper, so its pid
cannot be reused before pyrunc reaps it)."""
from __future__ import annotations

import os

from pyrunc.errors import FileError, PyruncError

FLAG = "--pidfd-socket"
INIT = b"standard"
EXEC = b"setns"


def connect(path: str) -> int:
    """A connected SOCK_STREAM fd (close-on-exec) to `path`."""
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise FileError(path, FLAG, e) from None
    return s.detach()


def send(sock_fd: int, path: str, pid: int, tag: bytes, start_time: int | None = None) -> None:
    """Send a pidfd of `pid` on `sock_fd` (closed afterwards, whatever happens)."""
    import socket

    from pyrunc import log

    s = socket.socket(fileno=sock_fd)
    try:
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as e:
            raise PyruncError(f"{FLAG} {path}: pidfd_open of process {pid}: {e.strerror.lower()}") from None
        try:
            if start_time is not None:
                from pyrunc import proc

                if proc.start_time(pid) != start_time:  # (a zombie not yet reaped is still it)
                    raise PyruncError(f"{FLAG} {path}: process {pid} is gone; no pidfd was sent")
            try:
                socket.send_fds(s, [tag], [pidfd])
            except OSError as e:
                raise FileError(path, f"{FLAG}: sending the pidfd to", e) from None
        finally:
            os.close(pidfd)
        log.debug(f"{FLAG} {path}: sent a pidfd of process {pid} ({tag.decode()})")
    finally:
        s.close()
