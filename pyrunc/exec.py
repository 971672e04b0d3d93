"""`exec`: run a new process inside an existing container.

The process is started by pyrunc-init with an exec plan (linux/exec_plan.py):
it joins the container's cgroup and every namespace, forks into the pid
namespace and gets the process spec's identity and confinement.  In the
foreground pyrunc is the process's subreaper, forwards signals (or proxies
its pty) and returns its exit status."""
from __future__ import annotations

import copy
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from pyrunc import log
from pyrunc.container import CREATED, PAUSED, RUNNING, STOPPED, Container
from pyrunc.errors import ConfigError, InitError, PyruncError, StateError
from pyrunc.store import Store, write_atomic

@dataclass
class ExecOptions:
    detach: bool = False
    console_socket: str | None = None
    pid_file: str | None = None
    preserve_fds: int = 0
    cgroup: list[str] = field(default_factory=list)  # --cgroup [controller:]path
    ignore_paused: bool = False
    subreaper: bool = True
    rootless: bool = False
    stdio: tuple[int, int, int] | None = None  # the process's fds 0, 1, 2 (None: the caller's)
    pidfd_socket: str | None = None  # AF_UNIX socket receiving a pidfd of the process (runc 1.2)


@dataclass
class ProcessOverrides:
    """runc exec's flags that edit the container's process spec."""

    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    cwd: str | None = None
    tty: bool = False
    user: str | None = None  # UID[:GID]
    additional_gids: list[int] = field(default_factory=list)
    process_label: str | None = None
    apparmor: str | None = None
    no_new_privs: bool | None = None
    caps: list[str] = field(default_factory=list)


def process_from_flags(base: dict[str, Any], o: ProcessOverrides) -> dict[str, Any]:
    """The container's process spec edited by exec's flags (runc's getProcess)."""
    p = copy.deepcopy(base)
    if not o.args:
        raise PyruncError("exec args cannot be empty")
    p["args"] = list(o.args)
    for e in o.env:
        if "=" not in e or e.startswith("="):
            raise ConfigError("--env", f"{e!r} is not NAME=VALUE")
    p["env"] = _merge_env(p.get("env") or [], o.env)
    if o.cwd:
        p["cwd"] = o.cwd
    p["terminal"] = o.tty
    if o.apparmor is not None:
        p["apparmorProfile"] = o.apparmor
    if o.process_label is not None:
        p["selinuxLabel"] = o.process_label
    if o.no_new_privs is not None:
        p["noNewPrivileges"] = o.no_new_privs
    user = p.setdefault("user", {"uid": 0, "gid": 0})
    if o.user:
        uid_s, _, gid_s = o.user.partition(":")
        try:
            user["uid"] = int(uid_s)
            if gid_s:
                user["gid"] = int(gid_s)
        except ValueError:
            raise ConfigError("--user", f"{o.user!r} is not UID[:GID] (numbers)") from None
    if o.additional_gids:
        user["additionalGids"] = list(user.get("additionalGids") or []) + list(o.additional_gids)
    if o.caps:
        caps = p.setdefault("capabilities", {})
        for c in o.caps:
            c = c.upper() if c.upper().startswith("CAP_") else "CAP_" + c.upper()
            for kind in ("bounding", "effective", "permitted"):
                caps.setdefault(kind, [])
                if c not in caps[kind]:
                    caps[kind].append(c)
            # ambient needs the cap in inheritable: --cap never adds to
            # inheritable (CVE-2022-29162), so only caps already there
            if c in (caps.get("inheritable") or []) and c not in caps.setdefault("ambient", []):
                caps["ambient"].append(c)
    return p


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    """Later NAME=VALUE entries replace earlier ones of the same name."""
    out: dict[str, str] = {}
    for e in [*base, *extra]:
        out[e.partition("=")[0]] = e
    return list(out.values())


def sub_cgroup_procs(mgr, specs: list[str]) -> list[str]:
    """cgroup.procs files for --cgroup [controllers:]path (a sub-cgroup of
    the container's, which must exist; `/` is the container's own, as in
    runc); the container's own for the rest."""
    if mgr is None:
        if specs:
            raise PyruncError("--cgroup: the container has no cgroup")
        return []
    base = mgr.procs_files()
    if not specs:
        return base
    by_dir = {os.path.dirname(f): f for f in base}
    paths = getattr(mgr, "paths", None)
    chosen: dict[str, str] = {}  # container cgroup dir -> sub path
    for spec in specs:
        ctrls, sep, sub = spec.rpartition(":")
        sub = sub.strip("/")
        if (not sub and not spec.endswith("/")) or ".." in sub.split("/"):
            raise ConfigError("--cgroup", f"{spec!r}: invalid sub-cgroup path")
        if not sep:
            for d in by_dir:
                chosen.setdefault(d, sub)
            continue
        if paths is None:  # cgroup v2: one hierarchy, no controller names
            raise ConfigError("--cgroup", f"{spec!r}: controller names are only for cgroup v1")
        for c in ctrls.split(","):
            d = paths.get(c)
            if d is None:
                raise ConfigError("--cgroup", f"{spec!r}: the container has no {c} cgroup")
            chosen[d] = sub
    out = []
    for d, f in by_dir.items():
        if chosen.get(d):
            target = posixpath.join(d, chosen[d])
            if not os.path.isdir(target):
                raise ConfigError("--cgroup", f"sub-cgroup {target} does not exist")
            out.append(posixpath.join(target, "cgroup.procs"))
        else:
            out.append(f)
    return out


def _await_late_join(pid: int, last_procs: str, timeout: float = 2.0) -> None:
    """In a paused container the process joins the frozen cgroup after it
    reported "ready" (a frozen process can report nothing): wait until it is
    listed in the last cgroup it joins, so `exec` returns with the process
    where it belongs."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(last_procs) as f:
                if str(pid) in f.read().split():
                    return
            os.kill(pid, 0)
        except OSError:
            return  # the cgroup or the process is gone: nothing to wait for
        time.sleep(0.001)


def _terminate(pid: int) -> None:
    """SIGKILL the exec'd process (through a pidfd: never a recycled pid) and
    reap it if it is ours."""
    import _signal

    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        _signal.pidfd_send_signal(pidfd, _signal.SIGKILL)
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def check_status(container: Container, ignore_paused: bool) -> str:
    st = container.status()
    if st == STOPPED:
        raise StateError(container.id, "cannot exec in a stopped container")
    if st == PAUSED and not ignore_paused:
        raise StateError(container.id, "cannot exec in a paused container (use --ignore-paused to override)")
    if st not in (CREATED, RUNNING, PAUSED):
        raise StateError(container.id, f"cannot exec in a {st} container")
    return st


def execute(store: Store, cid: str, process: dict[str, Any], opts: ExecOptions) -> int:
    """Start `process` in container `cid`; in the foreground wait for it and
    return its exit status (128+N after signal N)."""
    from pyrunc.initproc import InitHandlers, run_init
    from pyrunc.linux.exec_plan import ExecContext, build_exec_plan
    from pyrunc.listen_fds import add_listen_env, listen_fds

    container = Container.load(store, cid)
    paused = check_status(container, opts.ignore_paused) == PAUSED
    terminal = bool(process.get("terminal"))
    if terminal and opts.detach and opts.console_socket is None:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    if not terminal and opts.console_socket is not None:
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")
    from pyrunc.lsm import exec_labels

    exec_labels(process)  # refused here when the LSM is not enabled (applied by the plan)
    from pyrunc.linux.process_attrs import check_rlimits_against_caller, resolve_rlimits

    check_rlimits_against_caller(resolve_rlimits(process.get("rlimits")))

    nlisten = listen_fds()
    if nlisten:
        process = dict(process, env=add_listen_env(list(process.get("env") or []), nlisten))
    npreserve = nlisten + opts.preserve_fds

    config = container.config()
    mgr = container.cgroup()
    cgroup_procs = sub_cgroup_procs(mgr, opts.cgroup)
    if paused:
        # The process stops once it is in the frozen cgroup: the freezer last.
        freezer = (getattr(mgr, "paths", None) or {}).get("freezer")
        if freezer:
            cgroup_procs.sort(key=lambda f: f.startswith(freezer.rstrip("/") + "/"))

    forwarder = None
    if not opts.detach:
        if opts.subreaper:
            import prctl

            prctl.set_child_subreaper(1)
        from pyrunc.runner import SignalForwarder

        forwarder = SignalForwarder()
        forwarder.install()

    console_fd: int | None = None
    ours = None
    if terminal:
        if opts.console_socket is not None:
            from pyrunc.create import _connect_console

            console_fd = _connect_console(opts.console_socket)
        else:
            from pyrunc.console import console_pair

            ours, console_fd = console_pair()
    relay = None
    stdio = opts.stdio
    if not terminal and not opts.detach and stdio is None:
        # runc: pipes of our own between the caller's stdio and the process
        from pyrunc.stdio_relay import Relay

        relay = Relay()
        stdio = relay.container
    pidfd_sock = None
    if opts.pidfd_socket is not None:
        from pyrunc import pidfd_socket

        pidfd_sock = pidfd_socket.connect(opts.pidfd_socket)

    plan = build_exec_plan(ExecContext(
        config=config, process=process, init_pid=container.pid, container_id=cid,
        cgroup_procs=cgroup_procs, late_cgroup=paused, console_fd=console_fd, preserve_fds=npreserve,
        rootless=opts.rootless, warn=log.warn,
    ))

    def on_seccomp_fd(fd: int) -> None:
        from pyrunc.linux.seccomp import send_to_listener

        if plan.listener_path:
            send_to_listener(plan.listener_path, fd, container.state_json(), plan.listener_metadata)

    pass_fds = tuple(range(3, 3 + npreserve))
    if console_fd is not None:
        pass_fds += (console_fd,)
    trace_fd = None
    if log.get().debug_enabled:  # the init's own timeline (pyrunc.trace)
        from pyrunc.trace import attach_memfd

        trace_fd = attach_memfd(plan, 3 + npreserve)
        pass_fds += (trace_fd,)
    try:
        result = run_init(plan.encode(), InitHandlers(on_seccomp_fd=on_seccomp_fd), pass_fds=pass_fds,
                          stdio=stdio)
    except InitError as e:  # name the process field the failing step came from
        if ours is not None:
            ours.close()
        if relay is not None:
            relay.close()
        from pyrunc.linux.plan_view import locate_error

        raise locate_error(dict(config, process=process), plan.ops, e) from None
    except BaseException:
        if ours is not None:
            ours.close()
        if relay is not None:
            relay.close()
        raise
    finally:
        if trace_fd is not None:
            from pyrunc.linux.plan_view import describe
            from pyrunc.trace import log_memfd

            log_memfd(trace_fd, describe(dict(config, process=process), plan), f"exec {cid}")
        if console_fd is not None:
            os.close(console_fd)
    pid = result.pid
    if relay is not None:
        relay.started()
    if pidfd_sock is not None:
        from pyrunc import pidfd_socket

        try:
            pidfd_socket.send(pidfd_sock, opts.pidfd_socket, pid, pidfd_socket.EXEC)
        except PyruncError:
            _terminate(pid)  # runc: the process never runs without its pidfd sent
            raise
    if paused and cgroup_procs:
        _await_late_join(pid, cgroup_procs[-1])
    if opts.pid_file:
        try:
            write_atomic(os.path.abspath(opts.pid_file), str(pid).encode(), 0o644, what="writing pid file")
        except PyruncError:
            _terminate(pid)  # runc: no pid file, no process
            raise
    if forwarder is None:
        return 0
    forwarder.target(pid)

    proxy = None
    if ours is not None:
        from pyrunc.console import Proxy, recv_master

        try:
            master, _path = recv_master(ours)
        finally:
            ours.close()
        proxy = Proxy(master)
        proxy.start()
    try:
        from pyrunc.runner import wait_foreground

        if relay is not None:
            relay.pump(pid)
        return wait_foreground(pid)
    finally:
        if proxy is not None:
            proxy.finish()
        if relay is not None:
            relay.close()
