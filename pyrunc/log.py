"""The --log file: text or json lines, appended, like runc's (containerd
shows the msg of the last "error" line to its user)."""
from __future__ import annotations

import os
import sys

from pyrunc import jsontext


class Logger:
    def __init__(self, path: str | None = None, fmt: str = "text", debug: bool = False) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug

    def _write(self, level: str, msg: str) -> None:
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat()
        if self.fmt == "json":
            line = jsontext.dumps({"level": level, "msg": msg, "time": now})
        else:
            line = f'time="{now}" level={level} msg={jsontext.dumps(msg)}'
        if self.path:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, (line + "\n").encode())
                finally:
                    os.close(fd)
                return
            except OSError:
                pass
        if level != "error":  # errors reach stderr through the CLI's own line
            sys.stderr.write(line + "\n")

    def error(self, msg: str) -> None:
        if self.path:
            self._write("error", msg)

    def warning(self, msg: str) -> None:
        self._write("warning", msg)

    def debug(self, msg: str) -> None:
        if self.debug_enabled:
            self._write("debug", msg)


_logger = Logger()


def get() -> Logger:
    return _logger


def configure(path: str | None, fmt: str, debug: bool) -> Logger:
    global _logger
    _logger = Logger(path, fmt, debug)
    return _logger


def warn(msg: str) -> None:
    _logger.warning(msg)
