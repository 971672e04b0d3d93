"""The state store: `<root>/<id>/state.json`, written atomically, one flock
per container, id validation.  Stdlib only: every command imports it."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
from contextlib import contextmanager
from typing import Any, Iterator

from pyrunc.errors import ContainerExists, ContainerNotFound, InvalidIDError, PyruncError

DEFAULT_ROOT = "/run/pyrunc"
STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
FIFO_FILE = "exec.fifo"
REPLY_FILE = "exec.reply"
_ID = re.compile(r"^[\w+\-.]+$")
MAX_ID_LEN = 255


def validate_id(cid: str) -> str:
    """runc's rule: letters, digits, _ + - . ; not "." or ".."; fits a file name."""
    if not cid or len(cid) > MAX_ID_LEN or cid in (".", "..") or not _ID.match(cid) or not cid.isascii():
        raise InvalidIDError(cid)
    return cid


def default_root(rootless: bool) -> str:
    if rootless:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if xdg:
            return os.path.join(xdg, "pyrunc")
        return f"/tmp/pyrunc-{os.getuid()}"
    return DEFAULT_ROOT


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """tmp + fsync + rename: readers see the old or the new file, never half."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


class Store:
    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = os.path.abspath(root)

    def path(self, cid: str, name: str = "") -> str:
        return os.path.join(self.root, validate_id(cid), name) if name else os.path.join(self.root, cid)

    def exists(self, cid: str) -> bool:
        return os.path.isdir(self.path(cid))

    def create_dir(self, cid: str) -> str:
        """Claim an id: mkdir is the arbiter between racing creates."""
        validate_id(cid)
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        d = self.path(cid)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError:
            raise ContainerExists(cid) from None
        return d

    def remove(self, cid: str) -> None:
        _remove_tree(self.path(cid))

    def list_ids(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _ID.match(n) and os.path.isdir(os.path.join(self.root, n)))

    def read_state(self, cid: str) -> dict[str, Any]:
        try:
            with open(self.path(cid, STATE_FILE), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            raise ContainerNotFound(cid) from None
        except (ValueError, OSError) as e:
            raise PyruncError(f"container {cid}: unreadable state file: {e}") from None

    def write_state(self, cid: str, state: dict[str, Any]) -> None:
        write_atomic(self.path(cid, STATE_FILE), json.dumps(state, separators=(",", ":")).encode())

    def read_config(self, cid: str) -> dict[str, Any]:
        with open(self.path(cid, CONFIG_FILE), "rb") as f:
            return json.loads(f.read())

    @contextmanager
    def lock(self, cid: str, missing_ok: bool = False) -> Iterator[bool]:
        """An exclusive flock on the container's directory.  Yields False
        when the directory is gone (and missing_ok); else raises."""
        try:
            fd = os.open(self.path(cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if missing_ok:
                yield False
                return
            raise ContainerNotFound(cid) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # the container may have been deleted while we waited
            if not os.path.isdir(self.path(cid)):
                if missing_ok:
                    yield False
                    return
                raise ContainerNotFound(cid)
            yield True
        finally:
            os.close(fd)


def _remove_tree(path: str) -> None:
    """rm -rf of a state dir (shutil costs ~3 ms to import on every delete)."""
    try:
        entries = list(os.scandir(path))
    except NotADirectoryError:
        entries = None
    except OSError:
        return
    if entries is None:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            _remove_tree(e.path)
        else:
            try:
                os.unlink(e.path)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:  # best effort, like rmtree(ignore_errors=True)
        pass


def is_enoent(e: OSError) -> bool:
    return e.errno == errno.ENOENT
