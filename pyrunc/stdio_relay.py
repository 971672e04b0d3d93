"""runc's stdio for a process run in the foreground without a terminal.

`runc run` and `runc exec` (not detached, no tty) give the container's
process pipes of their own and copy between them and runc's stdio, rather
than passing their stdio through.  The process then sees pipes whatever the
caller has (a terminal, a file): `[ -t 1 ]` is false as under runc, and a
non-root `process.user` can reopen /dev/stdout, because the init hands the
pipes to that user (a root-owned log file passed through could not be).

The copying is done by the waiting pyrunc process itself, in one poll loop
that also notices the process's exit through a pidfd: no thread."""
from __future__ import annotations

import errno
import os
import select

CHUNK = 1 << 16


class Relay:
    def __init__(self) -> None:
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        self.container = (in_r, out_w, err_w)  # the process's 0, 1, 2
        self.in_w: int | None = in_w
        self.sources: dict[int, int] = {out_r: 1, err_r: 2}  # our read end -> our fd to copy to
        self.pending = b""
        self.stdin_eof = False

    def started(self) -> None:
        """The process has its ends: close ours of them."""
        for fd in self.container:
            os.close(fd)
        self.container = ()  # type: ignore[assignment]
        os.set_blocking(self.in_w, False)  # type: ignore[arg-type]

    def close(self) -> None:
        for fd in (*self.container, *self.sources, *([self.in_w] if self.in_w is not None else [])):
            try:
                os.close(fd)
            except OSError:
                pass
        self.container = ()  # type: ignore[assignment]
        self.sources = {}
        self.in_w = None

    # ------------------------------------------------------------------ copying

    def _close_stdin(self) -> None:
        if self.in_w is not None:
            os.close(self.in_w)
            self.in_w = None

    def _copy_out(self, fd: int) -> bool:
        """Copy what `fd` has to our stdout/stderr; False at EOF."""
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return True
        if not data:
            os.close(fd)
            del self.sources[fd]
            return False
        dest = self.sources[fd]
        while data:
            try:
                n = os.write(dest, data)
            except BlockingIOError:
                select.select([], [dest], [])
                continue
            except OSError as e:
                if e.errno == errno.EPIPE:  # our reader went away: keep draining
                    return True
                raise
            data = data[n:]
        return True

    def _read_in(self) -> None:
        """Our stdin is readable: take a chunk (EOF: close the process's stdin
        once what is pending has gone)."""
        try:
            data = os.read(0, CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self.pending += data
        else:
            self.stdin_eof = True

    def _write_in(self) -> None:
        """Push what is pending into the process's stdin pipe."""
        while self.pending and self.in_w is not None:
            try:
                n = os.write(self.in_w, self.pending)
            except BlockingIOError:
                return
            except OSError:  # EPIPE: the process closed its stdin
                self.pending = b""
                self.stdin_eof = True
                break
            self.pending = self.pending[n:]
        if self.stdin_eof and not self.pending:
            self._close_stdin()

    def pump(self, pid: int) -> None:
        """Copy until process `pid` has exited and its output is drained."""
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            pidfd = None
        poller = select.poll()
        for fd in self.sources:
            poller.register(fd, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        self.pending = b""
        self.stdin_eof = False
        try:
            os.fstat(0)
        except OSError:
            self._close_stdin()
        exited = pidfd is None
        watching: int | None = None  # 0 (our stdin) or the pipe's write end, or None

        def watch(fd: int | None) -> None:
            nonlocal watching
            if watching == fd:
                return
            if watching is not None:
                poller.unregister(watching)
            if fd is not None:
                poller.register(fd, select.POLLIN if fd == 0 else select.POLLOUT)
            watching = fd

        try:
            while self.sources:
                # stdin: read while nothing is pending, else wait for room in the pipe
                if self.in_w is None:
                    watch(None)
                elif self.pending:
                    watch(self.in_w)
                else:
                    watch(0)
                events = poller.poll(50 if exited else None)
                if not events and exited:
                    break  # the process is gone and nothing more comes (a descendant may hold the pipe)
                for fd, ev in events:
                    if fd == pidfd:
                        exited = True
                        poller.unregister(pidfd)
                    elif fd == 0:
                        self._read_in()
                        self._write_in()
                    elif fd == self.in_w:
                        self._write_in()
                    elif fd in self.sources:
                        if not self._copy_out(fd):
                            poller.unregister(fd)
        finally:
            if pidfd is not None:
                os.close(pidfd)
            self.close()
