"""pyrunc as a library: a `Runtime` (one state root) and its `Container`s.

    import pyrunc

    rt = pyrunc.Runtime(root="/run/pyrunc")
    c = rt.create("web", "/path/to/bundle")
    c.start()
    print(c.state()["status"])
    c.kill("KILL")
    c.delete(force=True)

Every method raises a `pyrunc.PyruncError` subclass (`ContainerNotFound`,
`InvalidConfig` with the JSON path in `.field`, `NotRunning`, ...) whose
text is the one line the command line prints.  The command line
(`pyrunc.actions`, used by both its front ends) calls these same methods.
Docs: docs/api.md.

Imports are deferred to the calls that need them (`import pyrunc` and
`state` load no pydantic, cffi or click); the API is correct without the
command line's start-up tricks (fastcli, the launcher)."""
from __future__ import annotations

import os

from pyrunc.errors import ContainerNotFound, NotRunning, PyruncError

TYPE_CHECKING = False  # `typing` costs ~3 ms at start-up; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any, BinaryIO, TextIO, Union

    from pyrunc.container import Container as _Container
    from pyrunc.store import Store

    Stdio = Union[int, BinaryIO, TextIO, None]

def _fd(f: Stdio, default: int) -> int:
    if f is None:
        return default
    return f if isinstance(f, int) else f.fileno()


def _stdio(stdin: Stdio, stdout: Stdio, stderr: Stdio) -> tuple[int, int, int] | None:
    if stdin is None and stdout is None and stderr is None:
        return None
    return _fd(stdin, 0), _fd(stdout, 1), _fd(stderr, 2)


def _signal_number(sig: int | str) -> int:
    if isinstance(sig, int):
        return sig
    from pyrunc.container import parse_signal

    return parse_signal(sig)


class _Subreaper:
    """The calling process as the child subreaper while a container's
    process is waited for: its launcher exits right after the clone, and
    only a subreaper (or its parent) can collect its exit status.  The
    previous setting is restored on exit."""

    def __enter__(self) -> _Subreaper:
        import prctl

        self.previous = prctl.get_child_subreaper()
        prctl.set_child_subreaper(1)
        return self

    def __exit__(self, *exc: object) -> None:
        import prctl

        prctl.set_child_subreaper(self.previous)


class _NoSubreaper:
    def __enter__(self) -> _NoSubreaper:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _wait(pid: int) -> int:
    """The exit status of our child `pid`: its code, or 128+N after signal N."""
    from pyrunc.runner import exit_status

    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        return exit_status(status)


class Runtime:
    """The containers under one state directory (`root`), like one
    `runc --root ROOT`.

    `rootless`: None detects it as `--rootless auto` does (an unprivileged
    caller, or root in a user namespace); `root` defaults to /run/pyrunc
    (rootless: $XDG_RUNTIME_DIR/pyrunc).  `systemd_cgroup=True` uses the
    systemd cgroup driver (a transient scope per container, like
    `runc --systemd-cgroup`)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, rootless: bool | None = None,
                 systemd_cgroup: bool = False) -> None:
        if rootless is None:
            from pyrunc.invocation import detect_rootless

            rootless = detect_rootless()
        if root is None:
            from pyrunc.store import default_root

            root = default_root(rootless)
        self.root = os.fspath(root)
        self.rootless = rootless
        self.systemd_cgroup = systemd_cgroup

    def __repr__(self) -> str:
        return f"pyrunc.Runtime(root={self.root!r}, rootless={self.rootless!r})"

    def _store(self) -> Store:
        from pyrunc.store import Store

        return Store(self.root)

    def _options(self, bundle: str | os.PathLike[str], console_socket: str | None, pid_file: str | None,
                 preserve_fds: int, no_pivot: bool, no_new_keyring: bool,
                 stdio: tuple[int, int, int] | None,
                 pidfd_socket: str | None = None):  # -> pyrunc.create.CreateOptions
        from pyrunc.create import CreateOptions

        return CreateOptions(bundle=os.fspath(bundle), pid_file=pid_file, console_socket=console_socket,
                             no_pivot=no_pivot, no_new_keyring=no_new_keyring, preserve_fds=preserve_fds,
                             rootless=self.rootless, systemd_cgroup=self.systemd_cgroup, stdio=stdio,
                             pidfd_socket=pidfd_socket)

    def create(self, id: str, bundle: str | os.PathLike[str] = ".", *, console_socket: str | None = None,
               pid_file: str | None = None, preserve_fds: int = 0, no_pivot: bool = False,
               no_new_keyring: bool = False, stdin: Stdio = None, stdout: Stdio = None,
               stderr: Stdio = None, pidfd_socket: str | None = None) -> Container:
        """Create container `id` from the bundle: its init waits at the
        start gate (status "created").  The container's stdio is this
        process's unless `stdin`/`stdout`/`stderr` (fds or files) are given;
        a `process.terminal` config needs `console_socket`; `pidfd_socket`
        (an AF_UNIX socket path) receives a pidfd of the init."""
        from pyrunc.create import create as create_container

        opts = self._options(bundle, console_socket, pid_file, preserve_fds, no_pivot, no_new_keyring,
                             _stdio(stdin, stdout, stderr), pidfd_socket)
        return Container(self, create_container(self._store(), id, opts))

    def run(self, id: str, bundle: str | os.PathLike[str] = ".", *, keep: bool = False,
            console_socket: str | None = None, pid_file: str | None = None, preserve_fds: int = 0,
            no_pivot: bool = False, no_new_keyring: bool = False, stdin: Stdio = None, stdout: Stdio = None,
            stderr: Stdio = None) -> int:
        """create + start + wait: the exit status of the container's process
        (128+N after signal N).  The container is deleted afterwards unless
        `keep`.  While it runs this process is a child subreaper (restored
        after); no signal handler is installed (`pyrunc run` forwards
        signals, the library leaves that to the caller)."""
        with _Subreaper():
            c = self.create(id, bundle, console_socket=console_socket, pid_file=pid_file,
                            preserve_fds=preserve_fds, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                            stdin=stdin, stdout=stdout, stderr=stderr)
            try:
                c.start()
                return _wait(c.pid)
            finally:
                if not keep:
                    c.delete(force=True, hooks_cwd=c.bundle or None)

    def get(self, id: str) -> Container:
        """The container `id`; ContainerNotFound if there is none."""
        from pyrunc.container import Container as _C

        return Container(self, _C.load(self._store(), id))

    def list(self) -> list[Container]:
        """Every container under this root, by id."""
        from pyrunc.container import list_containers

        return [Container(self, c) for c in list_containers(self._store())]

    def exists(self, id: str) -> bool:
        try:
            self.get(id)
        except ContainerNotFound:
            return False
        return True


class Container:
    """One container of a Runtime.  Its methods re-read the state on disk,
    so a Container object never goes stale."""

    def __init__(self, runtime: Runtime, container: _Container) -> None:
        self.runtime = runtime
        self._id = container.id
        self._store = container.store
        self._c: _Container | None = container
        self._just_loaded = True  # the next call may use it without reading the state again

    @classmethod
    def by_id(cls, runtime: Runtime, id: str) -> Container:
        """A handle on container `id` that reads nothing yet: each method
        loads the state (ContainerNotFound then)."""
        self = cls.__new__(cls)
        self.runtime = runtime
        self._id = id
        self._store = runtime._store()
        self._c = None
        self._just_loaded = False
        return self

    def __repr__(self) -> str:
        return f"<pyrunc.Container {self.id!r} in {self.runtime.root!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Container) and (other.id, other.runtime.root) == (self.id, self.runtime.root)

    def __hash__(self) -> int:
        return hash((self.id, self.runtime.root))

    @property
    def id(self) -> str:
        return self._id

    @property
    def bundle(self) -> str:
        return (self._c or self._fresh()).bundle

    @property
    def pid(self) -> int:
        """The init's pid on the host (0 before it exists)."""
        return (self._c or self._fresh()).pid

    def _fresh(self) -> _Container:
        if self._just_loaded and self._c is not None:
            self._just_loaded = False
            return self._c
        from pyrunc.container import Container as _C

        self._c = _C.load(self._store, self._id)
        return self._c

    def state(self) -> dict[str, Any]:
        """The runtime-spec state: ociVersion, id, status ("created",
        "running", "paused", "stopped", "creating"), pid, bundle, and runc's
        rootfs, created and owner; what `pyrunc state` prints."""
        return self._fresh().state_json()

    @property
    def status(self) -> str:
        return self._fresh().status()

    def config(self) -> dict[str, Any]:
        """The config.json the container was created from (validated)."""
        return self._fresh().config()

    def start(self) -> None:
        """Run the user process of a created container."""
        self._fresh().start()

    def kill(self, sig: int | str = "SIGTERM", all: bool = False) -> None:
        """Send `sig` (a number, or a name: "KILL", "SIGKILL", "SIGRTMIN+3")
        to the init; with `all`, to every process of the container."""
        self._fresh().kill(_signal_number(sig), all)

    def delete(self, force: bool = False, *, hooks_cwd: str | None = None) -> None:
        """Remove a stopped (or created) container: its state and cgroup,
        then the poststop hooks.  `force` kills a running one first."""
        from pyrunc.container import Container as _C

        try:
            c = _C.load(self._store, self.id)
        except ContainerNotFound:
            if force:
                _remove_leftover(self._store, self.id)
                return
            raise
        c.delete(force, hooks_cwd=hooks_cwd)

    def pause(self) -> None:
        from pyrunc.cgroups import ops

        ops.pause(self.runtime.root, self.id)

    def resume(self) -> None:
        from pyrunc.cgroups import ops

        ops.resume(self.runtime.root, self.id)

    def exec(self, process: dict[str, Any] | Sequence[str], *, tty: bool | None = None, detach: bool = False,
             console_socket: str | None = None, pid_file: str | None = None, preserve_fds: int = 0,
             cgroup: Sequence[str] = (), ignore_paused: bool = False, stdin: Stdio = None,
             stdout: Stdio = None, stderr: Stdio = None) -> int:
        """Start another process in the running container.  `process` is a
        runtime-spec process object (validated like `exec --process`), or
        just its args: the container's own process with these args.  In the
        foreground: its exit status (128+N after signal N); `detach`: its
        pid.  A terminal needs `console_socket`."""
        from pyrunc.exec import ExecOptions, execute

        if isinstance(process, dict):
            from pyrunc.spec import semantic
            from pyrunc.spec.load import _validate

            proc = _validate("PROCESS", process, "process", ("process",))
            semantic.check_exec_process(proc)
        else:
            proc = dict(self.config().get("process") or {}, args=list(process))
        if tty is not None:
            proc["terminal"] = tty
        if proc.get("terminal") and console_socket is None:
            raise PyruncError("exec: a terminal needs console_socket (an AF_UNIX socket receiving the pty master)")
        import tempfile

        # Detached, the process is not ours to reap (a zombie of ours in the
        # container's pid namespace would keep its init from ever exiting):
        # like `pyrunc exec -d`, it is left to the nearest subreaper or pid 1.
        with tempfile.TemporaryDirectory(prefix="pyrunc-exec-") as tmp, \
                (_NoSubreaper() if detach else _Subreaper()):
            ours = os.path.join(tmp, "pid")
            execute(self._store, self.id, proc, ExecOptions(
                detach=True, console_socket=console_socket, pid_file=ours, preserve_fds=preserve_fds,
                cgroup=list(cgroup), ignore_paused=ignore_paused, rootless=self.runtime.rootless,
                stdio=_stdio(stdin, stdout, stderr)))
            with open(ours) as f:
                pid = int(f.read())
            if pid_file:
                from pyrunc.store import write_atomic

                write_atomic(os.path.abspath(pid_file), str(pid).encode(), 0o644, what="writing pid file")
            if detach:
                return pid
            return _wait(pid)

    def update(self, resources: dict[str, Any]) -> dict[str, Any]:
        """Change the cgroup limits of a running container: a runtime-spec
        `linux.resources` object, or part of one.  Returns the resources now
        in force (also recorded in the state)."""
        from pyrunc.cgroups import ops

        return ops.update(self.runtime.root, self.id, resources)

    def stats(self) -> dict[str, Any]:
        """runc's stats of the container's cgroup (cpu, memory, pids, blkio,
        hugetlb...), as `pyrunc events --stats` prints under "data"."""
        events: list[dict[str, Any]] = []
        from pyrunc.cgroups import ops

        ops.events(self.runtime.root, self.id, True, 0.0, events.append)
        return events[0]["data"]

    def events(self, interval: float = 5.0) -> Iterator[dict[str, Any]]:
        """Yield {"type": "stats"|"oom", "id", "data"?} events until the
        container stops: stats every `interval` seconds, oom kills as they
        happen (what `pyrunc events` prints, one per line)."""
        import queue
        import threading

        if interval <= 0:
            raise PyruncError("events: interval must be greater than 0")
        from pyrunc.cgroups import events as ev
        from pyrunc.cgroups.ops import _cgroup

        c = self._fresh()
        if c.status() == "stopped":
            raise NotRunning(self.id, f"container with id {self.id} is not running")
        mgr = _cgroup(c)
        q: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()
        stop = threading.Event()

        def alive() -> bool:
            try:
                return not stop.is_set() and c.status() != "stopped" and mgr.exists()
            except Exception:
                return False

        def pump() -> None:
            try:
                ev.stream(self.id, mgr, interval, q.put, alive)
            except BaseException as e:  # handed to the consumer
                q.put(e)
            q.put(None)

        t = threading.Thread(target=pump, name=f"pyrunc-events-{self.id}", daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def ps(self) -> list[int]:
        """Host pids of the container's processes."""
        from pyrunc.cgroups.ops import _cgroup

        return _cgroup(self._fresh()).pids()


def _remove_leftover(store: Store, cid: str) -> None:
    """A state dir without state.json: a create killed before it wrote
    anything (it records the cgroup before making it, so nothing else
    exists yet).  delete(force=True) removes the dir."""
    from pyrunc.store import STATE_FILE

    with store.lock(cid, missing_ok=True) as present:
        if present and not os.path.exists(store.path(cid, STATE_FILE)):
            store.remove(cid)
