"""Devices every Linux container gets (runtime-linux.md) and the /dev symlinks."""
from __future__ import annotations


# plain classes: dataclasses costs ~6 ms to import on every create
class Device:
    __slots__ = ("path", "type", "major", "minor", "mode", "uid", "gid")

    def __init__(self, path: str, type: str, major: int, minor: int, mode: int = 0o666, uid: int = 0,
                 gid: int = 0) -> None:
        self.path = path
        self.type = type  # c, b, u, p
        self.major = major
        self.minor = minor
        self.mode = mode
        self.uid = uid
        self.gid = gid


DEFAULT_DEVICES: tuple[Device, ...] = (
    Device("/dev/null", "c", 1, 3),
    Device("/dev/zero", "c", 1, 5),
    Device("/dev/full", "c", 1, 7),
    Device("/dev/random", "c", 1, 8),
    Device("/dev/urandom", "c", 1, 9),
    Device("/dev/tty", "c", 5, 0),
)

DEFAULT_SYMLINKS: tuple[tuple[str, str], ...] = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)


def from_config(dev: dict) -> Device:
    """A linux.devices entry (already schema-validated) as a Device."""
    mode = dev.get("fileMode", 0o666)
    return Device(
        path=dev["path"],
        type=dev["type"],
        major=dev.get("major", 0),
        minor=dev.get("minor", 0),
        mode=mode,
        uid=dev.get("uid", 0),
        gid=dev.get("gid", 0),
    )
