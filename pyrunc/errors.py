"""Typed errors. Every error carries the field, path or step it is about and
renders as one line a user can act on (the CLI prints str(err))."""
from __future__ import annotations


def one_line(text: str) -> str:
    """`text` with control characters escaped: a newline or NUL inside a
    field name or value from config.json never splits an error in two."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def reason(e: OSError | str) -> str:
    """An OSError's reason as runc prints it: lower case, no errno class
    (`no such file or directory`, `read-only file system`)."""
    r = e if isinstance(e, str) else (e.strerror or str(e))
    return r[:1].lower() + r[1:] if r[1:2].islower() else r  # not "aF_UNIX"


def describe_oserror(e: OSError) -> str:
    """One line for an OSError nobody gave a context: `PATH: reason`."""
    path = e.filename if isinstance(e.filename, str) else None
    if path and isinstance(e.filename2, str):
        path = f"{path} -> {e.filename2}"
    return f"{path}: {reason(e)}" if path else reason(e)


class PyruncError(Exception):
    """Base of every error pyrunc reports to the user."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(PyruncError):
    """config.json (or a process.json) is malformed or violates the spec.

    `field` is a JSON path such as `process.args` or `mounts[2].destination`."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class BundleError(PyruncError):
    """The bundle directory, its config.json or its rootfs is unusable."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class InvalidIDError(PyruncError):
    def __init__(self, cid: str) -> None:
        self.cid = cid
        super().__init__(f"invalid container ID format: {cid!r}")


class ContainerNotFound(PyruncError):
    def __init__(self, cid: str) -> None:
        self.cid = cid
        super().__init__(f"container does not exist: {cid}")


class ContainerExists(PyruncError):
    def __init__(self, cid: str) -> None:
        self.cid = cid
        super().__init__(f"container with given ID already exists: {cid}")


class StateError(PyruncError):
    """An operation is not allowed in the container's current status."""

    def __init__(self, cid: str, message: str) -> None:
        self.cid = cid
        super().__init__(message)


class NotRunning(StateError):
    def __init__(self, cid: str, what: str = "container not running") -> None:
        super().__init__(cid, what)


class CgroupError(PyruncError):
    """A cgroup file could not be written or read: names the file and value."""

    def __init__(self, path: str, message: str, value: str | None = None) -> None:
        self.path = path
        self.value = value
        if value is not None:
            super().__init__(f"cgroup: writing {value!r} to {path}: {message}")
        else:
            super().__init__(f"cgroup: {path}: {message}")


class InitError(PyruncError):
    """The container's init failed at a step before execve.

    Reported by the C helper over the sync socket as (step, errno, detail)."""

    def __init__(self, step: str, errno_: int, detail: str, index: int | None = None, source: str = "") -> None:
        import os

        self.step = step
        self.errno = errno_
        self.detail = detail
        self.index = index  # the plan record that failed, when the init says
        self.source = source  # the config field it came from, e.g. "mounts[3] (/data, bind from /srv)"
        # lower-case like Go's error strings: docker maps "no such file or
        # directory" / "permission denied" in a failed exec to 127 / 126
        reason = os.strerror(errno_) if errno_ else ""
        reason = reason[:1].lower() + reason[1:]
        msg = f"container init: {source}: {step}" if source else f"container init: {step}"
        if detail:
            # "exec" step + "exec: ..." detail: say it once
            msg += f" {detail.removeprefix(step + ': ')}" if detail.startswith(step + ": ") else f" {detail}"
        if reason:
            msg += f": {reason}"
        super().__init__(msg)

    @classmethod
    def from_report(cls, text: str) -> "InitError":
        """From the init's "step\terrno\tdetail\tindex" (index last, -1 or
        absent when no plan record was running)."""
        step, err, rest = (text.split("\t", 2) + ["", ""])[:3]
        detail, sep, idx = rest.rpartition("\t")
        if not sep or not idx.lstrip("-").isdigit():
            detail, idx = rest, "-1"
        return cls(step, int(err) if err.isdigit() else 0, detail, int(idx) if int(idx) >= 0 else None)

    def with_source(self, source: str) -> "InitError":
        return type(self)(self.step, self.errno, self.detail, self.index, source)



class HookError(PyruncError):
    def __init__(self, kind: str, path: str, message: str) -> None:
        self.kind = kind
        self.path = path
        super().__init__(f"{kind} hook {path}: {message}")


class UnsupportedError(PyruncError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not supported by pyrunc")


class FileError(PyruncError, OSError):
    """A file the user named (a pid file, a socket, the log) or the state
    under --root could not be made, opened or written: `what path: reason`.
    Also an OSError (with the errno), so callers that catch OSError still do."""

    def __init__(self, path: str, what: str, e: OSError | str) -> None:
        super().__init__(f"{what} {path}: {reason(e)}" if what else f"{path}: {reason(e)}")
        self.path = path
        self.errno = e.errno if isinstance(e, OSError) else None
        self.filename = path
