"""The create operation: load the bundle, claim the id, make the cgroup,
build the plan, start the init and wait until it sits at the start gate.
Anything that fails tears down everything made so far."""
from __future__ import annotations

import _signal as signal  # not `signal`: it imports enum
import os
import posixpath
import time

from pyrunc import jsontext, log
from pyrunc.container import CREATED, Container, wait_gone
from pyrunc.errors import InitError, PyruncError
from pyrunc.store import CONFIG_FILE, FIFO_FILE, REPLY_FILE, Store, validate_id, write_atomic

# Imports on this path are paid by every container (containerd runs `create`
# in a fresh interpreter): no dataclasses, typing, json, socket, datetime here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CreateOptions:
    """The flags of `create` (and `run`), plus what `run` adds internally:
    `gate` False runs the init straight on (no exec fifo), `console_fd` is an
    already connected console socket, `extra_pass_fds` more fds to pass."""

    def __init__(self, bundle: str = ".", pid_file: str | None = None, console_socket: str | None = None,
                 no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0,
                 rootless: bool = False, systemd_cgroup: bool = False, gate: bool = True,
                 console_fd: int | None = None, extra_pass_fds: tuple[int, ...] = (),
                 stdio: tuple[int, int, int] | None = None, pidfd_socket: str | None = None) -> None:
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds
        self.rootless = rootless
        self.systemd_cgroup = systemd_cgroup
        self.gate = gate
        self.console_fd = console_fd
        self.extra_pass_fds = extra_pass_fds
        self.stdio = stdio  # the init's fds 0, 1, 2 (None: the caller's own; the Python API sets them)
        self.pidfd_socket = pidfd_socket  # AF_UNIX socket receiving a pidfd of the init (runc 1.2)

    def __repr__(self) -> str:
        return f"CreateOptions({vars(self)!r})"


def _clock() -> float:
    return time.perf_counter()


def _ms(t0: float) -> str:
    return f"{(_clock() - t0) * 1000:.1f} ms"


def _now() -> str:
    """RFC 3339 UTC with microseconds, like runc's `created`."""
    sec, usec = divmod(time.time_ns() // 1000, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{usec:06d}Z"


def _owner() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def cgroup_mounts(mgr, layout) -> list:
    """The hierarchies a `cgroup` mount shows inside the container."""
    from pyrunc.linux.plan import CgroupMount

    if layout.mode == "v2":
        return [CgroupMount("", "cgroup2", "", mgr.dir)]
    by_mp: dict[str, list[str]] = {}
    for ctrl, mp in layout.v1.items():
        by_mp.setdefault(mp, []).append(ctrl)
    out = []
    for mp, ctrls in sorted(by_mp.items()):
        host = next((mgr.paths[c] for c in ctrls if c in mgr.paths), None)
        if host is None:
            continue
        data = ",".join(c if not c.startswith("name=") else f"none,{c}" for c in ctrls)
        out.append(CgroupMount(posixpath.basename(mp), "cgroup", data, host))
    # On a hybrid host the unified hierarchy is not shown, as runc does.
    return out


def _freezer_file(mgr) -> str | None:
    """The file whose content says frozen: v1 freezer.state, v2 cgroup.freeze."""
    d = getattr(mgr, "dir", None)
    if d:
        return os.path.join(d, "cgroup.freeze")
    d = getattr(mgr, "paths", {}).get("freezer")
    return os.path.join(d, "freezer.state") if d else None


def _make_gate(store: Store, cid: str, lowest_fd: int) -> tuple[int, int]:
    """exec.fifo and exec.reply, opened read-write for the init (above the
    preserved fds, so they never land on one)."""
    import fcntl

    fds = []
    for name in (FIFO_FILE, REPLY_FILE):
        path = store.path(cid, name)
        os.mkfifo(path, 0o600)
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest_fd)
        os.close(fd)
        fds.append(high)
    return fds[0], fds[1]


def _caller_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _connect_console(path: str) -> int:
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        from pyrunc.errors import FileError

        raise FileError(path, "--console-socket", e) from None
    return s.detach()


def precheck(config: dict, opts: CreateOptions) -> None:
    """What create refuses before it makes anything (`pyrunc plan` too)."""
    process = config.get("process") or {}
    if process.get("terminal") and opts.console_socket is None and opts.console_fd is None:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    if not process.get("terminal") and opts.console_socket is not None:
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")
    from pyrunc.linux.process_attrs import check_rlimits_against_caller, resolve_rlimits

    check_rlimits_against_caller(resolve_rlimits(process.get("rlimits")))
    if opts.rootless:
        from pyrunc.rootless import check_mappings

        check_mappings(config.get("linux") or {})
        if (config.get("linux") or {}).get("netDevices"):  # runc refuses them too
            from pyrunc.errors import ConfigError

            raise ConfigError("linux.netDevices", "not supported for rootless containers")


def create(store: Store, cid: str, opts: CreateOptions) -> Container:
    validate_id(cid)
    from pyrunc.spec.load import load_config

    bundle = os.path.abspath(opts.bundle)
    t0 = _clock()
    config = load_config(bundle)
    log.get().debug(f"create {cid}: config loaded and validated in {_ms(t0)}")
    precheck(config, opts)

    store.create_dir(cid)
    made: dict[str, Any] = {}
    try:
        return _create(store, cid, opts, bundle, config, made)
    except BaseException as e:
        # a failure of any kind (a cgroup file, the state file) once `delete
        # --force` removed the container under us is that race, said so
        deleted = isinstance(e, (OSError, PyruncError)) and not os.path.isdir(store.path(cid))
        _teardown(store, cid, made)
        if deleted:  # `delete --force` won a race against this create
            raise PyruncError(f"container {cid} was deleted while it was being created") from None
        raise


def _start_attach_grace_period(procs: str) -> int:
    """Start, in a throwaway child, the wait the init's first cgroup join
    would otherwise pay, while this process goes on building the plan.

    Moving a process into a cgroup takes the kernel's global
    cgroup_threadgroup_rwsem for writing; unless the host mounts cgroups
    with `favordynmods`, the first writer after a quiet spell waits for an
    RCU grace period (~11 ms on this VM; runc pays it too), and writers
    that follow within about a grace period do not.  The child joins the
    container's own new cgroup (the first one the init will join; on v1 one
    hierarchy, without memory or pids accounting) and exits at once; it is
    reaped before the init starts, so the cgroup holds no stray process.
    Measured: `run` of /bin/true 3-7 ms faster.  Failure is harmless."""
    pid = os.fork()
    if pid == 0:  # the child: no Python-level state is touched
        try:
            fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
            os.write(fd, b"0")
        except BaseException:
            pass
        os._exit(0)
    return pid


def _reap_warmer(made: dict[str, Any]) -> None:
    from pyrunc.proc import reap

    pid = made.pop("warmer", None)
    if pid:
        reap(pid)


def _teardown(store: Store, cid: str, made: dict[str, Any]) -> None:
    if made.get("pidfd_sock") is not None:
        os.close(made.pop("pidfd_sock"))
    if made.get("netdevs"):  # moved into the container: back to the host while its namespace lives
        from pyrunc.linux.netlink import restore

        for problem in restore(made["netdevs"], made["netns_fd"]):
            log.warn(f"linux.netDevices: {problem}")
    if made.get("netns_fd") is not None:
        os.close(made.pop("netns_fd"))
    pid = made.get("pid")
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            wait_gone(pid, made.get("pid_start"), timeout=5)
        except PyruncError:
            pass
    _reap_warmer(made)
    mgr = made.get("cgroup")
    if mgr is not None:
        from pyrunc.proc import Ownership

        own = Ownership(made.get("foreign"))
        try:
            mgr.kill_all(signal.SIGKILL, None if own.trivial else own.owns)
            if own.trivial or all(own.owns(p) for p in mgr.pids()):
                mgr.destroy()  # else: processes that predate the container still use it
        except (PyruncError, OSError) as e:
            log.warn(f"cleaning up the cgroup: {e}")
    if made.get("host_mount"):
        from pyrunc.linux.hostmount import detach

        try:
            detach(*made["host_mount"])
        except PyruncError as e:
            log.warn(str(e))
    store.remove(cid)


def _create(store: Store, cid: str, opts: CreateOptions, bundle: str, config: dict, made: dict) -> Container:
    from pyrunc import cgroups, proc
    from pyrunc.cgroups.detect import detect
    from pyrunc.linux.plan import PlanContext, build_plan, rootfs_path

    linux = config.get("linux") or {}
    process = config.get("process") or {}
    mgr = cgroups.manager_for(linux.get("cgroupsPath"), cid, rootless=opts.rootless, systemd=opts.systemd_cgroup)
    frozen = mgr.frozen_target()
    if frozen:  # the init would stop when it joins: fail now, before anything is made
        from pyrunc.errors import CgroupError

        raise CgroupError(frozen, "container's cgroup unexpectedly frozen")
    # Recorded before it exists: a create killed from here on leaves a
    # "creating" container that `delete --force` can find and clean.
    store.write_state(cid, {"ociVersion": config.get("ociVersion", "1.3.0"), "id": cid, "pid": 0,
                            "bundle": bundle, "created": _now(), "owner": _owner(), "cgroup": mgr.to_dict()})
    t0 = _clock()
    mgr.create()
    made["cgroup"] = mgr
    foreign = mgr.pids()
    if foreign:
        # runc warns and goes on; these processes are never the container's
        # (proc.Ownership): delete and kill --all leave them alone.
        log.warn(f"container's cgroup is not empty: {len(foreign)} process(es) found")
        made["foreign"] = [[p, proc.start_time(p)] for p in foreign]
        store.write_state(cid, {"ociVersion": config.get("ociVersion", "1.3.0"), "id": cid, "pid": 0,
                                "bundle": bundle, "created": _now(), "owner": _owner(), "cgroup": mgr.to_dict(),
                                "foreign_pids": made["foreign"]})
    procs = mgr.procs_files()
    if procs:
        made["warmer"] = _start_attach_grace_period(procs[0])
    resources = linux.get("resources")
    if resources:
        # runc drops a default device rule whose path the config redefines
        mgr.set(resources, spec_device_paths=[d["path"] for d in linux.get("devices") or []])

    fifo_fds = None
    if opts.gate:
        fifo_fds = _make_gate(store, cid, 3 + opts.preserve_fds)
        made["fifo_fds"] = fifo_fds
    if os.environ.get("NOTIFY_SOCKET"):
        from pyrunc.notify_socket import setup_spec

        setup_spec(config, store.path(cid))
    from pyrunc.listen_fds import add_listen_env, listen_fds

    nlisten = listen_fds()  # socket activation fds come first, then --preserve-fds
    if nlisten:
        process["env"] = add_listen_env(list(process.get("env") or []), nlisten)
    preserve = nlisten + opts.preserve_fds
    console_fd = opts.console_fd
    if opts.console_socket is not None:
        console_fd = _connect_console(opts.console_socket)
        made["console_fd"] = console_fd
    if opts.pidfd_socket is not None:
        from pyrunc import pidfd_socket

        made["pidfd_sock"] = pidfd_socket.connect(opts.pidfd_socket)
    ctx = PlanContext(
        config=config,
        bundle=bundle,
        container_id=cid,
        fifo_fds=fifo_fds,
        caller_umask=_caller_umask(),
        cgroup_procs=mgr.procs_files(),
        cgroup_mounts=cgroup_mounts(mgr, detect()),
        console_fd=console_fd,
        preserve_fds=preserve,
        no_pivot=opts.no_pivot,
        no_new_keyring=opts.no_new_keyring,
        rootless=opts.rootless,
        warn=log.warn,
        seccomp_cache_root=store.root,
        host_has_kcore=os.path.exists("/proc/kcore"),
    )
    log.get().debug(f"create {cid}: cgroup made and limits written in {_ms(t0)}")
    t0 = _clock()
    plan = build_plan(ctx)
    log.get().debug(f"create {cid}: plan of {len(plan.ops)} steps built in {_ms(t0)}")
    write_atomic(store.path(cid, CONFIG_FILE), jsontext.dumps(config).encode(), what="writing")

    state: dict[str, Any] = {
        "ociVersion": config.get("ociVersion", "1.3.0"),
        "id": cid,
        "pid": 0,
        "bundle": bundle,
        "rootfs": rootfs_path(config, bundle),
        "created": _now(),
        "owner": _owner(),
        "annotations": config.get("annotations") or {},
        "cgroup": mgr.to_dict(),
        "freezer_file": _freezer_file(mgr),
        "hooks": config.get("hooks") or {},
        "rootless": opts.rootless,
    }
    if made.get("foreign"):
        state["foreign_pids"] = made["foreign"]
    own_pidns = any(ns.get("type") == "pid" and not ns.get("path") for ns in linux.get("namespaces") or [])
    container = Container(store, cid, state)
    hooks = config.get("hooks") or {}

    def on_pid(pid: int) -> None:
        made["pid"] = pid
        made["pid_start"] = proc.start_time(pid)
        if hasattr(mgr, "release_holder"):  # systemd driver: the init is in the scope now
            mgr.release_holder()
        state["pid"] = pid
        state["pid_start"] = made["pid_start"]
        if own_pidns:  # its processes are those of this namespace (proc.Ownership)
            state["pidns"] = proc.pidns_inode(pid)
        state["creating"] = True  # until the init reports ready
        store.write_state(cid, state)

    def on_hooks() -> bytes:
        from pyrunc.hooks import run_hooks

        st = container.state_json("creating")
        if linux.get("netDevices"):  # before the hooks, as runc
            from pyrunc.linux.netlink import move_devices

            made["netns_fd"] = os.open(f"/proc/{state['pid']}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            made["netdevs"] = move_devices(linux["netDevices"], f"/proc/self/fd/{made['netns_fd']}")
        # in the bundle directory, where runc's create/run runs them
        run_hooks("prestart", hooks.get("prestart"), st, cwd=bundle)
        run_hooks("createRuntime", hooks.get("createRuntime"), st, cwd=bundle)
        # createContainer and startContainer hooks run in the container's
        # namespaces: they see the pid as the container sees it.
        inner = dict(st, pid=proc.ns_pid(st["pid"]))
        # startContainer hooks run at `start`, when the container is "created"
        return jsontext.dumps(inner).encode() + b"\0" + jsontext.dumps(dict(inner, status=CREATED)).encode()

    def on_seccomp_fd(fd: int) -> None:
        from pyrunc.linux.seccomp import send_to_listener

        if plan.listener_path:
            send_to_listener(plan.listener_path, fd, container.state_json("creating"), plan.listener_metadata)

    def on_host_mount(mnt_id: int) -> None:
        # no mount namespace: the rootfs bind in ours, detached at delete
        made["host_mount"] = state["host_mount"] = [state["rootfs"], mnt_id]
        store.write_state(cid, state)

    from pyrunc.initproc import InitHandlers, run_init

    _reap_warmer(made)
    pass_fds = tuple(range(3, 3 + preserve)) + opts.extra_pass_fds
    if console_fd is not None:
        pass_fds += (console_fd,)
    if fifo_fds:
        pass_fds += fifo_fds
    trace_fd = None
    if log.get().debug_enabled:  # the init's own timeline (pyrunc.trace)
        from pyrunc import trace
        from pyrunc.linux import ops as o
        from pyrunc.linux.plan_view import describe

        trace_fd = trace.open_trace(store.path(cid), 3 + preserve)
        plan.ops.insert(0, (o.OP_TRACE, trace_fd))
        trace.save_plan(store.path(cid), describe(config, plan))
        pass_fds += (trace_fd,)
    try:
        t0 = _clock()
        try:
            run_init(plan.encode(), InitHandlers(on_pid, on_hooks, on_seccomp_fd, on_host_mount), pass_fds=pass_fds, stdio=opts.stdio)
        except InitError as e:  # name the config field the failing step came from
            from pyrunc.linux.plan_view import locate_error

            raise locate_error(config, plan.ops, e) from None
        log.get().debug(f"create {cid}: init cloned, set up and at the start gate in {_ms(t0)}")
        if trace_fd is not None:
            from pyrunc.linux import ops as o

            ready = next(i for i, op in enumerate(plan.ops) if op[0] == o.OP_READY)
            for line in trace.timeline(store.path(cid), after=0, until=ready):
                log.get().debug(f"create {cid}: {line}")
    finally:
        if trace_fd is not None:
            os.close(trace_fd)
        if made.get("console_fd") is not None:
            os.close(made.pop("console_fd"))
        for fd in made.pop("fifo_fds", None) or ():
            os.close(fd)
    if made.get("netns_fd") is not None:
        os.close(made.pop("netns_fd"))
        made.pop("netdevs", None)
    state.pop("creating", None)
    store.write_state(cid, state)
    if made.get("pidfd_sock") is not None:
        from pyrunc import pidfd_socket

        pidfd_socket.send(made.pop("pidfd_sock"), opts.pidfd_socket, state["pid"], pidfd_socket.INIT,
                          state.get("pid_start"))
    if opts.pid_file:
        pid_path = os.path.abspath(opts.pid_file)
        write_atomic(pid_path, str(state["pid"]).encode(), 0o644, what="writing pid file")
    return container

