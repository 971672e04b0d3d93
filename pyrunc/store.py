"""The state store: `<root>/<id>/state.json`, written atomically, one flock
per container, id validation.  Stdlib only: every command imports it."""
from __future__ import annotations

import errno
import fcntl
import os

from pyrunc import jsontext
from pyrunc.errors import ContainerExists, ContainerNotFound, FileError, InvalidIDError, PyruncError

DEFAULT_ROOT = "/run/pyrunc"
STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
FIFO_FILE = "exec.fifo"
REPLY_FILE = "exec.reply"
MAX_ID_LEN = 255
# runc's [\w+\-.]+ in ASCII (no `re` here: it costs ~3 ms on every command)
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-.")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _id_chars_ok(cid: str) -> bool:
    return _ID_CHARS.issuperset(cid)


def validate_id(cid: str) -> str:
    """runc's rule: letters, digits, _ + - . ; not "." or ".."; fits a file name."""
    if not cid or len(cid) > MAX_ID_LEN or cid in (".", "..") or not _id_chars_ok(cid):
        raise InvalidIDError(cid)
    return cid


def default_root(rootless: bool) -> str:
    if rootless:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if xdg:
            return os.path.join(xdg, "pyrunc")
        return f"/tmp/pyrunc-{os.getuid()}"
    return DEFAULT_ROOT


def write_atomic(path: str, data: bytes, mode: int = 0o600, what: str = "writing", durable: bool = False) -> None:
    """tmp + rename: readers see the old or the new file, never half.
    fsync only when `durable` (a cache meant to outlive a reboot): a state
    file describes processes that do not outlive the machine, and runc's
    saveState does not sync it either; on this VM's ext4 each fsync cost
    0.3-4 ms of every create (four writes) and start (bench/, issue 20).
    A failure (a full or read-only filesystem, a missing directory) removes
    the tmp file and raises FileError naming `path`: `<what> PATH: reason`."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    except OSError as e:
        raise FileError(path, what, e) from None
    try:
        try:
            view = memoryview(data)
            while view:  # a short write is not an error: write the rest
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise FileError(path, what, e) from None


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
        try:
            os.makedirs(self.root, mode=0o711, exist_ok=True)
        except OSError as e:
            raise FileError(self.root, "creating state directory", e) from None
        d = self.path(cid)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError:
            raise ContainerExists(cid) from None
        except OSError as e:
            raise FileError(d, "creating state directory", e) from None
        return d

    def remove(self, cid: str) -> None:
        _remove_tree(self.path(cid))

    def list_ids(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n and _id_chars_ok(n) and os.path.isdir(os.path.join(self.root, n)))

    def read_state(self, cid: str) -> dict[str, Any]:
        try:
            with open(self.path(cid, STATE_FILE), "rb") as f:
                return jsontext.loads(f.read())
        except FileNotFoundError:
            raise ContainerNotFound(cid) from None
        except OSError as e:
            raise FileError(self.path(cid, STATE_FILE), f"container {cid}: reading state file", e) from None
        except ValueError as e:
            raise PyruncError(f"container {cid}: unreadable state file: {e}") from None

    def write_state(self, cid: str, state: dict[str, Any]) -> None:
        write_atomic(self.path(cid, STATE_FILE), jsontext.dumps(state, separators=(",", ":")).encode(),
                     what="writing state file")

    def read_config(self, cid: str) -> dict[str, Any]:
        with open(self.path(cid, CONFIG_FILE), "rb") as f:
            return jsontext.loads(f.read())

    def lock(self, cid: str, missing_ok: bool = False) -> _Lock:
        """`with store.lock(cid) as present:` an exclusive flock on the
        container's directory.  `present` is False when the directory is gone
        (and missing_ok); else ContainerNotFound is raised."""
        return _Lock(self, cid, missing_ok)


class _Lock:
    """The context manager of Store.lock (a class: contextlib costs ~3 ms to import)."""

    def __init__(self, store: Store, cid: str, missing_ok: bool) -> None:
        self.store = store
        self.cid = cid
        self.missing_ok = missing_ok
        self.fd = -1

    def __enter__(self) -> bool:
        path = self.store.path(self.cid)
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if self.missing_ok:
                return False
            raise ContainerNotFound(self.cid) from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            # the container may have been deleted while we waited
            if not os.path.isdir(path):
                if self.missing_ok:
                    return False
                raise ContainerNotFound(self.cid)
        except BaseException:
            self._close()
            raise
        return True

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


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
