"""Reading and writing cgroup files; kernel refusals become CgroupError."""
from __future__ import annotations

import errno
import os
import time

from pyrunc.errors import CgroupError


def write(dirpath: str, name: str, value: str | int) -> None:
    """Write one value to <dirpath>/<name> in a single write(2)."""
    path = os.path.join(dirpath, name)
    data = str(value)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_TRUNC)
    except OSError as e:
        raise CgroupError(path, e.strerror or str(e), data) from None
    try:
        os.write(fd, data.encode())
    except OSError as e:
        raise CgroupError(path, e.strerror or str(e), data) from None
    finally:
        os.close(fd)


def read(dirpath: str, name: str) -> str:
    path = os.path.join(dirpath, name)
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise CgroupError(path, e.strerror or str(e)) from None


def read_int(dirpath: str, name: str) -> int:
    """Read a single integer; "max" reads as -1."""
    s = read(dirpath, name).strip()
    if s == "max":
        return -1
    try:
        return int(s)
    except ValueError:
        raise CgroupError(os.path.join(dirpath, name), f"unexpected content {s!r}") from None


def read_opt(dirpath: str, name: str) -> str | None:
    """Read a file that may not exist (None when missing)."""
    try:
        with open(os.path.join(dirpath, name)) as f:
            return f.read()
    except OSError:
        return None


def read_keyed(dirpath: str, name: str) -> dict[str, int]:
    """Parse a flat keyed file ("key value" per line) such as memory.stat."""
    out: dict[str, int] = {}
    text = read_opt(dirpath, name)
    if text is None:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def exists(dirpath: str, name: str) -> bool:
    return os.path.exists(os.path.join(dirpath, name))


def read_pids(dirpath: str) -> list[int]:
    text = read_opt(dirpath, "cgroup.procs")
    if text is None:
        return []
    return [int(x) for x in text.split()]


def mkdir_p(path: str) -> list[str]:
    """Create path and its missing parents; return the dirs created (top first)."""
    created: list[str] = []
    missing: list[str] = []
    p = path
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o755)
            created.append(d)
        except FileExistsError:
            pass
        except OSError as e:
            raise CgroupError(d, f"mkdir: {e.strerror}") from None
    return created


def rmdir_tree(path: str, retries: int = 250, delay: float = 0.02) -> None:
    """Remove a cgroup dir and its child cgroups (bottom up), retrying EBUSY
    while the last processes finish exiting."""
    if not os.path.isdir(path):
        return
    last: OSError | None = None
    for _ in range(retries):
        try:
            for root, dirs, _files in os.walk(path, topdown=False):
                for d in dirs:
                    try:
                        os.rmdir(os.path.join(root, d))
                    except FileNotFoundError:
                        pass
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno not in (errno.EBUSY, errno.ENOTEMPTY, errno.EAGAIN):
                raise CgroupError(path, f"rmdir: {e.strerror}") from None
            last = e
            time.sleep(delay)
    raise CgroupError(path, f"rmdir: {last.strerror if last else 'busy'}")
