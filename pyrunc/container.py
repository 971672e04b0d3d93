"""A container in the store and the lifecycle operations on an existing one:
state, start, kill, delete.  Status is derived from the live init (pid plus
its start time), the exec fifo and the freezer.  Stdlib only: these are the
hot commands containerd calls for every container."""
from __future__ import annotations

import errno
import os
import _signal as signal  # the C module: `signal` imports enum (~2 ms) for its Signals class
import time

from pyrunc import proc
from pyrunc.errors import ContainerNotFound, NotRunning, PyruncError, StateError
from pyrunc.store import FIFO_FILE, REPLY_FILE, Store

TYPE_CHECKING = False  # `typing` costs ~3 ms on every command; annotations are strings
if TYPE_CHECKING:
    from typing import Any

CREATING, CREATED, RUNNING, STOPPED, PAUSED = "creating", "created", "running", "stopped", "paused"


def parse_signal(sig: str) -> int:
    """`KILL`, `SIGKILL`, `9`, `SIGRTMIN+3` all name a signal; `0` is the
    null signal (runc: a liveness probe, nothing is delivered)."""
    s = sig.strip().upper()
    if s.isdigit():
        n = int(s)
        if 0 <= n < signal.SIGRTMAX + 1:
            return n
        raise PyruncError(f"invalid signal: {sig}")
    if not s.startswith("SIG"):
        s = "SIG" + s
    if s.startswith("SIGRTMIN+") or s.startswith("SIGRTMAX-"):
        base, _, off = s[3:].partition("+" if "+" in s else "-")
        try:
            n = int(off)
        except ValueError:
            raise PyruncError(f"invalid signal: {sig}") from None
        v = signal.SIGRTMIN + n if base == "RTMIN" else signal.SIGRTMAX - n
        if signal.SIGRTMIN <= v <= signal.SIGRTMAX:
            return v
        raise PyruncError(f"invalid signal: {sig}")
    value = getattr(signal, s, None) if "_" not in s else None  # SIG_DFL, SIG_BLOCK... are not signals
    if isinstance(value, int):
        return value
    raise PyruncError(f"invalid signal: {sig}")


class Container:
    def __init__(self, store: Store, cid: str, state: dict[str, Any]) -> None:
        self.store = store
        self.id = cid
        self.state = state

    @classmethod
    def load(cls, store: Store, cid: str) -> "Container":
        store.path(cid, "x")  # validates the id
        return cls(store, cid, store.read_state(cid))

    @property
    def pid(self) -> int:
        return int(self.state.get("pid") or 0)

    @property
    def bundle(self) -> str:
        return self.state.get("bundle", "")

    def cgroup(self):  # -> pyrunc.cgroups.base.Manager | None
        d = self.state.get("cgroup")
        if not d:
            return None
        from pyrunc.cgroups.base import Manager

        return Manager.from_dict(d)

    def init_alive(self) -> bool:
        return self.pid > 0 and proc.is_alive(self.pid, self.state.get("pid_start"))

    def status(self) -> str:
        if not self.pid:
            return CREATING
        if not self.init_alive():
            return STOPPED
        if self.state.get("creating"):  # create still running (hooks, mounts)
            return CREATING
        if self.frozen():  # runc: a paused created container is "paused"
            return PAUSED
        if os.path.exists(self.store.path(self.id, FIFO_FILE)) and self._at_gate():
            return CREATED
        return RUNNING

    def _at_gate(self) -> bool:
        """The init has not exec'd yet: it still runs pyrunc-init from its
        memfd.  A `start` killed right after opening the gate leaves a stale
        exec.fifo behind a running container.  (Unreadable: assume so.)"""
        try:
            return os.readlink(f"/proc/{self.pid}/exe").startswith("/memfd:pyrunc-init")
        except OSError:
            return True

    def frozen(self) -> bool:
        """The freezer says frozen.  Read straight from the file recorded at
        create, so `state` and `list` need not load the cgroup drivers."""
        path = self.state.get("freezer_file")
        if path:
            try:
                with open(path) as f:
                    return f.read().strip() in ("FROZEN", "FREEZING", "1")
            except OSError:
                return False
        cg = self.cgroup()
        try:
            return cg is not None and cg.frozen()
        except OSError:
            return False

    def state_json(self, status: str | None = None) -> dict[str, Any]:
        """The runtime-spec state document."""
        status = status or self.status()
        out: dict[str, Any] = {
            "ociVersion": self.state.get("ociVersion", "1.3.0"),
            "id": self.id,
            "status": status,
        }
        if status != STOPPED and self.pid:
            out["pid"] = self.pid
        out["bundle"] = self.bundle
        out["rootfs"] = self.state.get("rootfs", "")
        out["created"] = self.state.get("created", "")
        out["owner"] = self.state.get("owner", "")
        if self.state.get("annotations"):
            out["annotations"] = self.state["annotations"]
        return out

    def config(self) -> dict[str, Any]:
        try:
            return self.store.read_config(self.id)
        except (OSError, ValueError):
            return {}

    # ---------------------------------------------------------------- start

    def start(self, notify_wait: bool = True) -> None:
        """Let the init exec the process.  With NOTIFY_SOCKET set (and the
        socket set up at create) relay the container's READY=1: waiting for
        it, or, with notify_wait=False (foreground run), in a thread."""
        relay = None
        with self.store.lock(self.id):
            st = self.status()
            if st != CREATED:
                if st == STOPPED:
                    raise StateError(self.id, "cannot start a container that has stopped")
                raise StateError(self.id, f"cannot start an already {st} container")
            host = os.environ.get("NOTIFY_SOCKET")
            if host and os.path.isdir(self.store.path(self.id, "notify")):
                from pyrunc.notify_socket import Relay, check_host

                check_host(host)
                relay = Relay.bind(self.store.path(self.id))
            try:
                self._open_gate()
            except BaseException:
                if relay is not None:
                    relay.close()
                raise
        from pyrunc import log

        if log.get().debug_enabled:
            from pyrunc.trace import log_after_start

            log_after_start(self.store.path(self.id), f"start {self.id}")
        hooks = (self.state.get("hooks") or {}).get("poststart")
        if hooks:
            from pyrunc.hooks import run_hooks

            try:
                # in the bundle directory, as runc 1.1 (it runs them from create)
                run_hooks("poststart", hooks, self.state_json(RUNNING), cwd=self.bundle or None)
            except BaseException:
                # runtime-spec 1.3.0 (and runc): a failing poststart hook is
                # an error and the container is stopped.
                if relay is not None:
                    relay.close()
                self._kill_everything(self.cgroup())
                raise
        if relay is not None and host:
            if notify_wait:
                relay.wait_ready(host, self.pid, self.init_alive)
            else:
                import threading

                threading.Thread(target=relay.wait_ready, args=(host, os.getpid(), self.init_alive),
                                 daemon=True).start()

    def _open_gate(self) -> None:
        """Write one byte into exec.fifo: the init, blocked reading it, runs
        its startContainer hooks and answers on exec.reply with "0", or "E"
        and an error report.  No reader on exec.fifo: the init is gone."""
        fifo = self.store.path(self.id, FIFO_FILE)
        reply_path = self.store.path(self.id, REPLY_FILE)
        try:
            reply = os.open(reply_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            gate = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            if e.errno in (errno.ENXIO, errno.ENOENT):
                raise StateError(self.id, "container init exited before start") from None
            raise
        try:
            os.write(gate, b"0")
            os.close(gate)
            # allow for the startContainer hooks' timeouts
            wait = 30.0
            for h in (self.state.get("hooks") or {}).get("startContainer") or []:
                wait = wait + h["timeout"] if h.get("timeout") else float("inf")
            data = _read_reply(reply, time.monotonic() + wait)
        finally:
            os.close(reply)
            for p in (fifo, reply_path):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
        if data[:1] == b"0":
            return
        if data[:1] == b"E":
            from pyrunc.errors import InitError

            raise InitError.from_report(data[1:].decode(errors="replace").removeprefix("error\t"))
        raise StateError(self.id, "container init exited during start")

    # ---------------------------------------------------------------- kill

    def ownership(self) -> "proc.Ownership":
        return proc.Ownership.from_state(self.state)

    def owned_pids(self, cg) -> list[int]:
        """The container's processes in its cgroup (never one that predates it)."""
        if cg is None or not cg.exists():
            return []
        owns = self.ownership().owns
        return [p for p in cg.pids() if owns(p)]

    def kill(self, sig: int, all_processes: bool = False) -> None:
        st = self.status()
        if st == CREATING or (st == STOPPED and not all_processes):
            raise NotRunning(self.id)
        if all_processes:
            cg = self.cgroup()
            # runc: with --all, the init having exited is no reason to stop
            # (a shared-pid pod's orphans are still to be signalled), and a
            # stopped container with nothing left is not an error
            if cg is not None and (st != STOPPED or self.owned_pids(cg)):
                own = self.ownership()
                cg.kill_all(sig, None if own.trivial else own.owns)
                return
            if st == STOPPED:
                return
        self._signal_init(sig)

    def _signal_init(self, sig: int) -> None:
        """Signal the init through a pidfd opened after checking its start
        time: a recycled pid can never receive the signal."""
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            raise NotRunning(self.id) from None
        try:
            if not self.init_alive():
                raise NotRunning(self.id)
            signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            raise NotRunning(self.id) from None
        finally:
            os.close(pidfd)

    # ---------------------------------------------------------------- delete

    def delete(self, force: bool = False, hooks_cwd: str | None = None) -> None:
        """Poststop hooks run in `hooks_cwd` (None: ours; `run` passes the
        bundle, where runc's run runs them)."""
        with self.store.lock(self.id, missing_ok=True) as present:
            if not present:
                if force:
                    return
                raise ContainerNotFound(self.id)
            st = self.status()
            # "creating": another pyrunc is making it (or crashed doing so:
            # --force cleans that up)
            if st in (RUNNING, PAUSED, CREATING) and not force:
                raise StateError(self.id, f"cannot delete container {self.id} that is not stopped: {st}")
            cg = self.cgroup()
            if st != STOPPED or self.owned_pids(cg):
                self._kill_everything(cg)
            if cg is not None:
                self._destroy_cgroup(cg)
            if self.state.get("host_mount"):  # no mount namespace: its mounts are in ours
                from pyrunc.linux.hostmount import detach

                detach(*self.state["host_mount"])
            self.store.remove(self.id)
        hooks = (self.state.get("hooks") or {}).get("poststop")
        if hooks:
            from pyrunc import log
            from pyrunc.errors import HookError
            from pyrunc.hooks import run_hook

            for hook in hooks:  # a failing poststop hook is a warning; the rest still run
                try:
                    run_hook("poststop", hook, self.state_json(STOPPED), cwd=hooks_cwd)
                except HookError as e:
                    log.warn(str(e))

    def _kill_everything(self, cg) -> None:
        """SIGKILL the container's processes: its init and what else in its
        cgroup belongs to it (proc.Ownership), never a process that was in
        the cgroup before the container."""
        own = self.ownership()
        owns = None if own.trivial else own.owns
        if cg is not None and cg.exists():
            try:
                cg.thaw()
            except (OSError, PyruncError):  # e.g. a create killed before it made the freezer cgroup
                pass
            cg.kill_all(signal.SIGKILL, owns)
        if self.init_alive():
            try:
                self._signal_init(signal.SIGKILL)
            except NotRunning:
                pass
        wait_gone(self.pid, self.state.get("pid_start"))
        if cg is not None:
            deadline = time.monotonic() + 10
            while self.owned_pids(cg) and time.monotonic() < deadline:
                time.sleep(0.005)

    def _destroy_cgroup(self, cg) -> None:
        """Remove the cgroup, unless processes that predate the container
        still live in it: then it stays, with a warning (runc fails to
        remove it, logs an error and deletes the container all the same)."""
        if cg.exists() and self.state.get("foreign_pids"):
            left = [p for p in cg.pids() if not self.ownership().owns(p)]
            if left:
                from pyrunc import log

                log.warn(f"container's cgroup is not empty: {len(left)} process(es) that predate the "
                         f"container remain; cgroup {cg.path('') or ''} left in place")
                return
        cg.destroy()


def _read_reply(fd: int, deadline: float) -> bytes:
    """Read exec.reply until the init closes it (exec or exit) or the deadline."""
    import select

    data = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            break
        data += chunk
        if data[:1] == b"0":
            break
    return data


def wait_gone(pid: int, start: int | None, timeout: float = 10.0) -> None:
    """Wait until `pid` (that process, not a reuse) is dead or a zombie."""
    if pid <= 0:
        return
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while proc.is_alive(pid, start):
        if time.monotonic() > deadline:
            raise PyruncError(f"process {pid} did not exit")
        try:  # reap it if it is our child (run's subreaper)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        except OSError as e:
            if e.errno != errno.ECHILD:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def list_containers(store: Store) -> list[Container]:
    out = []
    for cid in store.list_ids():
        try:
            out.append(Container.load(store, cid))
        except (ContainerNotFound, PyruncError):
            continue
    return out
