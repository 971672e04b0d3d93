"""The --log file: text or json lines, appended, like runc's (containerd
shows the msg of the last "error" line to its user).  `--debug` adds each
command's steps at level "debug", so a user can see where a failure
happened.  Stdlib only and cheap: every command configures it."""
from __future__ import annotations

import os
import sys

from pyrunc import jsontext


class Logger:
    def __init__(self, path: str | None = None, fmt: str = "text", debug: bool = False, fd: int = -1) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug
        self.fd = fd  # the --log file, opened (O_APPEND) by configure()

    def _line(self, level: str, msg: str) -> str:
        import time

        t = time.time()
        # RFC 3339 with the local offset, like logrus (no datetime: ~1 ms)
        lt = time.localtime(t)
        off = lt.tm_gmtoff or 0
        sign = "+" if off >= 0 else "-"
        off = abs(off)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", lt) + f".{int(t % 1 * 1e6):06d}{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
        if self.fmt == "json":
            return jsontext.dumps({"level": level, "msg": msg, "time": stamp}, separators=(",", ":"))
        return f'time="{stamp}" level={level} msg={jsontext.dumps(msg)}'

    def _write(self, level: str, msg: str) -> None:
        line = self._line(level, msg) + "\n"
        if self.fd >= 0:
            try:
                os.write(self.fd, line.encode())
                return
            except OSError:
                pass  # a full disk must not turn a log line into a failure
        if level != "error":  # errors reach stderr through the CLI's own line
            sys.stderr.write(line)
            sys.stderr.flush()

    def error(self, msg: str) -> None:
        if self.fd >= 0:
            self._write("error", msg)

    def warning(self, msg: str) -> None:
        self._write("warning", msg)

    def info(self, msg: str) -> None:
        self._write("info", msg)

    def debug(self, msg: str) -> None:
        if self.debug_enabled:
            self._write("debug", msg)


_logger = Logger()


def get() -> Logger:
    return _logger


def configure(path: str | None, fmt: str, debug: bool) -> Logger:
    """Set up the log.  A --log file that cannot be opened is an error
    (FileError, as runc: `open PATH: …`), never silently dropped."""
    global _logger
    fd = -1
    if path:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            from pyrunc.errors import FileError

            _logger = Logger(None, fmt, debug)
            raise FileError(path, "opening log file", e) from None
    _logger = Logger(path, fmt, debug, fd)
    return _logger


def warn(msg: str) -> None:
    _logger.warning(msg)


def debug(msg: str) -> None:
    """A step of the command, logged with --debug."""
    if _logger.debug_enabled:
        _logger._write("debug", msg)
