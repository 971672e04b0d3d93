"""NOTIFY_SOCKET proxying (sd_notify), as runc does it.

When pyrunc runs with NOTIFY_SOCKET set, `create` bind-mounts the directory
<state dir>/notify read-only at /run/notify in the container and points the
process's NOTIFY_SOCKET at /run/notify/notify.sock.  `start` binds that
socket before the container runs, waits for a READY=1 datagram, and relays
it to the caller's socket followed by MAINPID=<init pid> and a BARRIER=1
(so a systemd unit sees the container's init as its main process)."""
from __future__ import annotations

import array
import os
import select
import socket
import time
from typing import Callable

NOTIFY_DIR = "notify"
SOCKET_NAME = "notify.sock"
IN_CONTAINER_DIR = "/run/notify"
IN_CONTAINER_SOCKET = f"{IN_CONTAINER_DIR}/{SOCKET_NAME}"


def host_socket() -> str | None:
    return os.environ.get("NOTIFY_SOCKET") or None


def setup_spec(config: dict, state_dir: str) -> None:
    """Add the socket directory mount and the process's NOTIFY_SOCKET."""
    d = os.path.join(state_dir, NOTIFY_DIR)
    os.makedirs(d, mode=0o755, exist_ok=True)
    config.setdefault("mounts", []).append({
        "destination": IN_CONTAINER_DIR,
        "type": "bind",
        "source": d,
        "options": ["bind", "nosuid", "noexec", "nodev", "ro"],
    })
    process = config.setdefault("process", {})
    env = [e for e in process.get("env") or [] if not e.startswith("NOTIFY_SOCKET=")]
    process["env"] = env + [f"NOTIFY_SOCKET={IN_CONTAINER_SOCKET}"]


def _addr(path: str) -> str | bytes:
    return b"\0" + path[1:].encode() if path.startswith("@") else path


def check_host(host: str) -> None:
    """The caller's NOTIFY_SOCKET must be reachable before the container
    starts: READY=1 could never be relayed and `start` would wait for ever
    (runc starts the container, then fails to dial it)."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        c.connect(_addr(host))
    except OSError as e:
        from pyrunc.errors import FileError

        raise FileError(host, "NOTIFY_SOCKET", e) from None
    finally:
        c.close()


class Relay:
    """The container-side socket, bound before the container starts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def bind(cls, state_dir: str) -> "Relay | None":
        d = os.path.join(state_dir, NOTIFY_DIR)
        if not os.path.isdir(d):
            return None
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # Bind through a directory fd: state paths can exceed sun_path.
        dfd = os.open(d, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            path = f"/proc/self/fd/{dfd}/{SOCKET_NAME}"
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            s.bind(path)
            os.chmod(path, 0o777)  # any container user may notify
        except OSError:
            s.close()
            raise
        finally:
            os.close(dfd)
        return cls(s)

    def wait_ready(self, host: str, mainpid: int, alive: Callable[[], bool]) -> bool:
        """Relay READY=… to `host` once it comes; False if the container
        died first."""
        try:
            while True:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if not r:
                    if not alive():
                        return False
                    continue
                data = self.sock.recv(65536)
                for line in data.split(b"\n"):
                    if line.startswith(b"READY="):
                        notify_host(host, line, mainpid)
                        return True
        finally:
            self.close()

    def close(self) -> None:
        self.sock.close()


def notify_host(host: str, ready: bytes, mainpid: int) -> None:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        c.connect(_addr(host))
        c.send(ready + b"\n")
        c.send(f"MAINPID={mainpid}\n".encode())
        _barrier(c)
    except OSError:
        pass  # the caller's socket went away: nothing to tell
    finally:
        c.close()


def _barrier(c: socket.socket, timeout: float = 2.0) -> None:
    """sd_notify_barrier: send a pipe's write end, wait until the receiver
    has closed it (it processed everything sent before)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        c.sendmsg([b"BARRIER=1\n"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]).tobytes())])
        os.close(w)
        w = -1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                return
    finally:
        if w >= 0:
            os.close(w)
        os.close(r)
