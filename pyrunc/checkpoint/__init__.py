"""checkpoint and restore with CRIU, through its RPC (pyrunc.checkpoint.rpc).

Checkpoint dumps the container's process tree (CRIU freezes it through the
container's cgroup), with every bind mount, device node and masked file
declared external so the image holds no host paths, and writes next to the
CRIU images what restore needs: `descriptors.json` (the init's stdio, as
runc writes it, so either runtime can restore the other's images) and
`pyrunc.json` (the config, the bundle, the rootfs, the cgroup).  Unless
--leave-running or --pre-dump, the container is then deleted, as runc does.

Restore makes a pyrunc container around CRIU: claims the id, creates the
cgroup with the config's limits and moves CRIU into it (the restored tree
lands there: cg_root), bind-mounts the rootfs at a private mount point
CRIU can use as root, maps each external bind mount to its source in the
config, hands the caller's stdio to the restored init for the pipes it had,
runs prestart/createRuntime hooks when CRIU has set up the namespaces, and
records the restored init as a running container (no exec fifo).  Any
failure kills what was restored and removes the cgroup, mount and state."""
from __future__ import annotations

import json
import os
import re
from typing import Any

from pyrunc import log
from pyrunc.checkpoint import rpc
from pyrunc.errors import PyruncError

DESCRIPTORS = "descriptors.json"
META = "pyrunc.json"
DUMP_LOG = "dump.log"
RESTORE_LOG = "restore.log"
CHECK_LOG = "check.log"
EMPTY_NS = {"network": 0x40000000}  # CLONE_NEWNET: the only one runc accepts
_ERROR_LINE = re.compile(r"^\([0-9. ]+\)\s+Error \([^)]*\):\s*(.*)$")


class CheckpointError(PyruncError):
    """CRIU failed or is missing: one line naming what, and the log.
    `unavailable`: CRIU cannot work on this host at all (`criu check`)."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


class CheckpointOptions:
    """The flags of `checkpoint` and `restore` (runc's names)."""

    def __init__(self, image_path: str = "", work_path: str = "", parent_path: str = "",
                 leave_running: bool = False, tcp_established: bool = False, ext_unix_sk: bool = False,
                 shell_job: bool = False, lazy_pages: bool = False, status_fd: int = -1,
                 page_server: str = "", file_locks: bool = False, pre_dump: bool = False,
                 manage_cgroups_mode: str = "", empty_ns: tuple[str, ...] = (), auto_dedup: bool = False,
                 criu: str = "criu") -> None:
        self.image_path = image_path or os.path.join(os.getcwd(), "checkpoint")
        self.work_path = work_path
        self.parent_path = parent_path
        self.leave_running = leave_running
        self.tcp_established = tcp_established
        self.ext_unix_sk = ext_unix_sk
        self.shell_job = shell_job
        self.lazy_pages = lazy_pages
        self.status_fd = status_fd
        self.page_server = page_server
        self.file_locks = file_locks
        self.pre_dump = pre_dump
        self.manage_cgroups_mode = manage_cgroups_mode
        self.empty_ns = tuple(empty_ns)
        self.auto_dedup = auto_dedup
        self.criu = criu


def cg_mode(mode: str) -> int:
    try:
        return rpc.CG_MODES[mode]
    except KeyError:
        raise PyruncError(f"invalid --manage-cgroups-mode value {mode!r} "
                          "(one of soft, full, strict, ignore)") from None


def empty_ns_mask(names: tuple[str, ...]) -> int:
    """CRIU's empty_ns from --empty-ns.  Departure from runc, which always
    adds network ("runc doesn't manage network devices"): pyrunc dumps and
    restores a netns of the container's own (lo up, its addresses), so an
    established connection on loopback restores; runc restores that netns
    empty and fails with "Network is unreachable" (tests/test_vm_criu.py,
    tcp).  --empty-ns network gives runc's behaviour."""
    mask = 0
    for name in names:
        if name not in EMPTY_NS:
            raise PyruncError(f"--empty-ns: unknown namespace {name!r} (only network)")
        mask |= EMPTY_NS[name]
    return mask


def page_server(value: str) -> dict[str, Any] | None:
    if not value:
        return None
    addr, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not addr:
        raise PyruncError(f"--page-server {value!r}: want ADDRESS:PORT")
    return {"address": addr, "port": int(port)}


def common_opts(o: CheckpointOptions) -> dict[str, Any]:
    """criu_opts fields both directions take from the flags."""
    return {
        "log_level": 4,
        "manage_cgroups": True,
        "manage_cgroups_mode": cg_mode(o.manage_cgroups_mode),
        "notify_scripts": True,
        "shell_job": o.shell_job,
        "tcp_established": o.tcp_established,
        "ext_unix_sk": o.ext_unix_sk,
        "file_locks": o.file_locks,
        "empty_ns": empty_ns_mask(o.empty_ns),
        "orphan_pts_master": True,
        "auto_dedup": o.auto_dedup,
        "lazy_pages": o.lazy_pages,
    }


def config_file_opt(config: dict[str, Any]) -> str | None:
    """runc's `org.criu.config` annotation: a CRIU config file for this
    container; empty means none; absent means /etc/criu/runc.conf (the same
    file, so one site configuration serves both runtimes)."""
    ann = config.get("annotations") or {}
    if "org.criu.config" in ann:
        return ann["org.criu.config"] or None
    return "/etc/criu/runc.conf"


def log_errors(path: str, limit: int = 3) -> list[str]:
    """The `Error (...)` lines of a CRIU log, without their prefix."""
    out: list[str] = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = _ERROR_LINE.match(line.rstrip("\n"))
                if m and m.group(1) not in out:
                    out.append(m.group(1))
    except OSError:
        return []
    return out[-limit:]


def _fail(what: str, resp: dict[str, Any] | None, log_path: str, detail: str = "",
          criu: str = "criu") -> CheckpointError:
    why = check(criu)
    if why:  # CRIU cannot work on this host at all: say what is missing
        return CheckpointError(f"{what}: checkpoint/restore is not available here: {why}", unavailable=True)
    errs = log_errors(log_path)
    parts = [f"criu {what} failed"]
    if resp and resp.get("cr_errmsg") and not errs:  # the log's last error, as CRIU quotes it
        parts.append(re.sub(r"^Error \([^)]*\):\s*", "", resp["cr_errmsg"].strip()))
    if errs:
        parts.append("; ".join(errs))
    elif detail:
        parts.append(detail)
    elif resp and resp.get("cr_errno"):
        parts.append(os.strerror(resp["cr_errno"]))
    return CheckpointError(": ".join(parts) + f" (log: {log_path})")


# ---------------------------------------------------------------- check


def check(criu: str = "criu") -> str | None:
    """None when `criu check` passes on this host, else why not (one line)."""
    import shutil
    import tempfile

    if shutil.which(criu) is None:
        return f"criu check: {criu} not found (install criu)"
    d = tempfile.mkdtemp(prefix="pyrunc-criu-check-")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        resp = rpc.swrk({"type": rpc.CHECK, "opts": {"images_dir_fd": fd, "log_file": CHECK_LOG,
                                                     "log_level": 4}},
                        criu=criu, pass_fds=(fd,), stdio=False)
        if resp.get("success"):
            return None
        errs = log_errors(os.path.join(d, CHECK_LOG))
        return "criu check: " + ("; ".join(errs) if errs else "failed")
    except (rpc.CriuError, OSError) as e:
        return f"criu check: {e}"
    finally:
        os.close(fd)
        shutil.rmtree(d, ignore_errors=True)


def _open_dir(path: str, what: str, create: bool) -> int:
    from pyrunc.errors import FileError

    if create:
        try:
            os.makedirs(path, 0o700, exist_ok=True)
        except OSError as e:
            raise FileError(path, what, e) from None
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise FileError(path, what, e) from None


def _external_ns(config: dict[str, Any], kind: str) -> str | None:
    for ns in (config.get("linux") or {}).get("namespaces") or []:
        if ns.get("type") == kind and ns.get("path"):
            return ns["path"]
    return None


_NS_KEY = {"network": ("net", "extRootNetNS"), "pid": ("pid", "extRootPidNS")}


def _mount_dest(config: dict[str, Any], dest: str) -> str:
    import posixpath

    return posixpath.normpath("/" + dest.lstrip("/"))


def _is_bind(m: dict[str, Any]) -> bool:
    opts = m.get("options") or []
    return m.get("type") == "bind" or "bind" in opts or "rbind" in opts


# ---------------------------------------------------------------- checkpoint


def checkpoint(store, cid: str, o: CheckpointOptions) -> None:
    from pyrunc.container import PAUSED, RUNNING, Container

    c = Container.load(store, cid)
    st = c.status()
    if st not in (RUNNING, PAUSED):
        from pyrunc.errors import StateError

        raise StateError(cid, f"cannot checkpoint a container that is {st}")
    config = c.config()
    rootfs = c.state.get("rootfs") or ""
    opts = common_opts(o)
    images = os.path.abspath(o.image_path)
    work = os.path.abspath(o.work_path) if o.work_path else ""
    made_dirs = [d for d in (images, work) if d and not os.path.exists(d)]
    img_fd = _open_dir(images, "--image-path", create=True)
    work_fd = -1
    log_dir = images
    fds = [img_fd]
    try:
        if o.work_path:
            work_fd = _open_dir(work, "--work-path", create=True)
            fds.append(work_fd)
            log_dir = os.path.abspath(o.work_path)
        opts.update({
            "images_dir_fd": img_fd, "work_dir_fd": work_fd if work_fd >= 0 else None,
            "log_file": DUMP_LOG, "root": rootfs, "pid": c.pid, "leave_running": o.leave_running,
            "config_file": config_file_opt(config), "ps": page_server(o.page_server),
        })
        cg = c.cgroup()
        if cg is not None:
            freezer = cg.path("freezer") or cg.path("")
            if freezer:
                opts["freeze_cgroup"] = freezer
        external = []
        for kind in ("network", "pid"):
            path = _external_ns(config, kind)
            if path:
                name, key = _NS_KEY[kind]
                external.append(f"{name}[{os.stat(path).st_ino}]:{key}")
        opts["external"] = external or None
        if o.parent_path:
            opts["parent_img"] = o.parent_path
            opts["track_mem"] = True
        if o.status_fd >= 0:
            opts["status_fd"] = o.status_fd
            fds.append(o.status_fd)
        if o.pre_dump or o.lazy_pages:
            _require_features(o, {"mem_track": True} if o.pre_dump else {"lazy_pages": True})
        if not o.pre_dump:
            opts["ext_mnt"] = dump_ext_mounts(config, c.pid) or None
            _write_json(os.path.join(images, DESCRIPTORS), stdio_descriptors(c.pid))
            _write_json(os.path.join(images, META), {
                "version": 1, "id": cid, "bundle": c.bundle, "rootfs": rootfs, "config": config,
                "cgroup": c.state.get("cgroup"),
            })
        kind = rpc.PRE_DUMP if o.pre_dump else rpc.DUMP
        what = "pre-dump" if o.pre_dump else "dump"
        try:
            resp = rpc.swrk({"type": kind, "opts": opts}, criu=o.criu, pass_fds=tuple(fds), stdio=False)
        except rpc.CriuError as e:
            raise CheckpointError(str(e), unavailable=True) from None
        if not resp.get("success"):
            raise _fail(what, resp, os.path.join(log_dir, DUMP_LOG), criu=o.criu)
    except BaseException as e:
        # No half image: drop what we wrote; keep CRIU's log the error
        # names, unless CRIU cannot work here at all (then nothing stays).
        for name in (DESCRIPTORS, META):
            try:
                os.unlink(os.path.join(images, name))
            except OSError:
                pass
        if made_dirs and (not isinstance(e, CheckpointError) or e.unavailable):
            import shutil

            for d in made_dirs:
                shutil.rmtree(d, ignore_errors=True)
        raise
    finally:
        for fd in (img_fd, work_fd):
            if fd >= 0:
                os.close(fd)
    if not o.leave_running and not o.pre_dump:
        # runc destroys a checkpointed container: its processes are gone,
        # its cgroup and state removed, poststop hooks run.
        c.delete(force=True)


def _require_features(o: CheckpointOptions, want: dict[str, bool]) -> None:
    try:
        resp = rpc.swrk({"type": rpc.FEATURE_CHECK, "features": want}, criu=o.criu, stdio=False)
    except rpc.CriuError as e:
        raise CheckpointError(str(e)) from None
    have = resp.get("features") or {}
    missing = [k for k in want if not have.get(k)]
    if missing or not resp.get("success"):
        raise CheckpointError(f"criu is missing features: {', '.join(missing) or 'feature check failed'}")


def dump_ext_mounts(config: dict[str, Any], pid: int) -> list[dict[str, str]]:
    """Mounts whose source is outside the container, by their destination:
    bind mounts, device nodes (bind-mounted when rootless), masked files
    (/dev/null over them)."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(key: str, val: str) -> None:
        if key not in seen:
            seen.add(key)
            out.append({"key": key, "val": val})

    for m in config.get("mounts") or []:
        if _is_bind(m):
            d = _mount_dest(config, m["destination"])
            add(d, d)
    for p in (config.get("linux") or {}).get("maskedPaths") or []:
        try:
            st_isdir = os.path.isdir(f"/proc/{pid}/root{p}")
            exists = os.path.lexists(f"/proc/{pid}/root{p}")
        except OSError:
            continue
        if exists and not st_isdir:
            add(p, "/dev/null")
    for dev in (config.get("linux") or {}).get("devices") or []:
        add(dev["path"], dev["path"])
    return out


def restore_ext_mounts(config: dict[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for m in config.get("mounts") or []:
        if _is_bind(m):
            out.append({"key": _mount_dest(config, m["destination"]), "val": m.get("source", "")})
    if (config.get("linux") or {}).get("maskedPaths"):
        out.append({"key": "/dev/null", "val": "/dev/null"})
    for dev in (config.get("linux") or {}).get("devices") or []:
        out.append({"key": dev["path"], "val": dev["path"]})
    return out


def stdio_descriptors(pid: int) -> list[str]:
    """What the init's fds 0-2 are (runc's descriptors.json)."""
    out = []
    for fd in range(3):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            out.append("/dev/null")
    return out


def _write_json(path: str, data: Any) -> None:
    from pyrunc.store import write_atomic

    write_atomic(path, json.dumps(data).encode(), 0o600, what="writing")


# ---------------------------------------------------------------- restore


class RestoreOptions:
    def __init__(self, bundle: str = ".", console_socket: str | None = None, detach: bool = False,
                 pid_file: str | None = None, no_subreaper: bool = False, no_pivot: bool = False,
                 rootless: bool = False) -> None:
        self.bundle = bundle
        self.console_socket = console_socket
        self.detach = detach
        self.pid_file = pid_file
        self.no_subreaper = no_subreaper
        self.no_pivot = no_pivot
        self.rootless = rootless


def restore(store, cid: str, o: CheckpointOptions, r: RestoreOptions) -> int:
    """Restore `cid` from o.image_path; the container's exit status in the
    foreground, 0 with --detach."""
    from pyrunc.store import validate_id

    validate_id(cid)
    images = os.path.abspath(o.image_path)
    if not os.path.isfile(os.path.join(images, "inventory.img")):
        why = "does not exist" if not os.path.isdir(images) else "holds no CRIU checkpoint (no inventory.img)"
        raise CheckpointError(f"--image-path {images}: {why}")
    try:
        with open(os.path.join(images, DESCRIPTORS), "rb") as f:
            descriptors = json.loads(f.read())
        if not isinstance(descriptors, list) or not all(isinstance(s, str) for s in descriptors):
            raise ValueError("not a list of strings")
    except FileNotFoundError:
        descriptors = []
    except (OSError, ValueError) as e:
        raise CheckpointError(f"--image-path {images}: unreadable {DESCRIPTORS}: {e}") from None
    if store.exists(cid):
        from pyrunc.errors import ContainerExists

        raise ContainerExists(cid)
    from pyrunc.spec.load import load_config

    bundle = os.path.abspath(r.bundle)
    config = load_config(bundle)
    if (config.get("process") or {}).get("terminal") and r.console_socket is None and r.detach:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    cg_mode(o.manage_cgroups_mode)  # bad flags fail before anything is made
    empty_ns_mask(o.empty_ns)
    if not r.detach and not r.no_subreaper:
        import prctl

        prctl.set_child_subreaper(1)
    store.create_dir(cid)
    made: dict[str, Any] = {}
    try:
        container = _restore(store, cid, o, r, bundle, config, descriptors, made)
    except BaseException:
        _teardown(store, cid, made)
        raise
    if r.detach:
        return 0
    from pyrunc.runner import SignalForwarder, wait_foreground

    forwarder = SignalForwarder()
    forwarder.install()
    forwarder.target(container.pid)
    status = wait_foreground(container.pid)
    container.delete(force=True, hooks_cwd=bundle)
    return status


def _teardown(store, cid: str, made: dict[str, Any]) -> None:
    """Undo a failed restore: the restored tree, the CRIU root mount, the
    cgroup (never a process that was in it before), the state."""
    from pyrunc.create import _teardown as teardown_create

    root = made.pop("criu_root", None)
    if root:
        _umount(root)
    teardown_create(store, cid, made)


_MS_BIND, _MS_REC, _MS_PRIVATE, _MNT_DETACH = 0x1000, 0x4000, 1 << 18, 2


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _bind(src: str, dst: str) -> None:
    """mount --rbind src dst, then make it private (nothing propagates out)."""
    import ctypes

    libc = _libc()
    for source, flags in ((src.encode(), _MS_BIND | _MS_REC), (None, _MS_PRIVATE | _MS_REC)):
        if libc.mount(source, dst.encode(), None, flags, None) != 0:
            e = ctypes.get_errno()
            from pyrunc.errors import FileError

            raise FileError(dst, f"bind-mounting the rootfs {src} for CRIU at", OSError(e, os.strerror(e)))


def _umount(path: str) -> None:
    _libc().umount2(path.encode(), _MNT_DETACH)


def _cg_roots(pid: int) -> list[dict[str, str]]:
    """cg_root entries: the cgroups CRIU runs in (so the tree lands there)."""
    out: list[dict[str, str]] = []
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        _hid, ctrls, path = line.split(":", 2)
        if not ctrls:
            out.append({"path": path})  # cgroup v2: every controller
            continue
        for ctrl in ctrls.split(","):
            out.append({"ctrl": ctrl, "path": path})
    return out


def _send_console(path: str, master: int) -> None:
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        # the name is informational; ttyname() fails on a master (ENOTTY),
        # runc sends its os.File's name, "orphan-pts-master"
        socket.send_fds(s, [b"orphan-pts-master"], [master])
    except OSError as e:
        from pyrunc.errors import FileError

        raise FileError(path, "--console-socket", e) from None
    finally:
        s.close()


def _make_mountpoints(config: dict[str, Any], rootfs: str) -> None:
    """Create missing bind-mount targets in the rootfs, as create does (not
    below a tmpfs: CRIU restores its content), never through a symlink."""
    import stat

    mounts = config.get("mounts") or []
    tmpfs = [_mount_dest(config, m["destination"]) for m in mounts if m.get("type") == "tmpfs"]
    for m in mounts:
        if not _is_bind(m):
            continue
        dest = _mount_dest(config, m["destination"])
        if any(dest.startswith(t.rstrip("/") + "/") for t in tmpfs):
            continue
        try:
            is_dir = stat.S_ISDIR(os.stat(m.get("source", "")).st_mode)
        except OSError:
            continue
        parts = [p for p in dest.split("/") if p]
        fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                try:
                    nxt = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if last and not is_dir:
                        os.close(os.open(part, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                                         dir_fd=fd))
                        break
                    os.mkdir(part, 0o755, dir_fd=fd)
                    nxt = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = nxt
                if not last and not stat.S_ISDIR(os.fstat(fd).st_mode):
                    break  # a symlink or a file on the way: leave it to CRIU
        except OSError as e:
            log.warn(f"restore: cannot create mount point {dest} in {rootfs}: {e}")
        finally:
            os.close(fd)


def _restore(store, cid: str, o: CheckpointOptions, r: RestoreOptions, bundle: str, config: dict[str, Any],
             descriptors: list[str], made: dict[str, Any]):
    from pyrunc import cgroups, jsontext, proc
    from pyrunc.container import Container
    from pyrunc.create import _freezer_file, _now, _owner
    from pyrunc.linux.plan import rootfs_path
    from pyrunc.store import CONFIG_FILE, write_atomic

    linux = config.get("linux") or {}
    rootfs = rootfs_path(config, bundle)
    mgr = cgroups.manager_for(linux.get("cgroupsPath"), cid, rootless=r.rootless)
    state: dict[str, Any] = {"ociVersion": config.get("ociVersion", "1.3.0"), "id": cid, "pid": 0,
                             "bundle": bundle, "rootfs": rootfs, "created": _now(), "owner": _owner(),
                             "annotations": config.get("annotations") or {}, "cgroup": mgr.to_dict(),
                             "freezer_file": _freezer_file(mgr), "hooks": config.get("hooks") or {},
                             "rootless": r.rootless}
    store.write_state(cid, state)
    mgr.create()
    made["cgroup"] = mgr
    foreign = mgr.pids()
    if foreign:  # as create: warn, and never treat them as the container's
        log.warn(f"container's cgroup is not empty: {len(foreign)} process(es) found")
        made["foreign"] = state["foreign_pids"] = [[p, proc.start_time(p)] for p in foreign]
        store.write_state(cid, state)
    resources = linux.get("resources")
    if resources:
        mgr.set(resources, spec_device_paths=[d["path"] for d in linux.get("devices") or []])
    write_atomic(store.path(cid, CONFIG_FILE), jsontext.dumps(config).encode(), what="writing")

    images = os.path.abspath(o.image_path)
    log_dir = images
    fds: list[int] = []
    try:
        img_fd = _open_dir(images, "--image-path", create=False)
        fds.append(img_fd)
        opts = common_opts(o)
        opts.update({"images_dir_fd": img_fd, "log_file": RESTORE_LOG, "evasive_devices": True,
                     "rst_sibling": True, "config_file": config_file_opt(config)})
        if o.work_path:
            work_fd = _open_dir(os.path.abspath(o.work_path), "--work-path", create=True)
            fds.append(work_fd)
            opts["work_dir_fd"] = work_fd
            log_dir = os.path.abspath(o.work_path)
        # CRIU's root must be a mount point whose parent is not overmounted:
        # the rootfs, bind-mounted (recursively) into the state directory.
        root = store.path(cid, "criu-root")
        os.mkdir(root, 0o755)
        _bind(rootfs, root)
        made["criu_root"] = root
        opts["root"] = root
        _make_mountpoints(config, rootfs)
        inherit: list[dict[str, Any]] = []
        join: list[dict[str, str]] = []
        for ns in linux.get("namespaces") or []:
            path = ns.get("path")
            if not path:
                continue
            if ns["type"] in _NS_KEY:
                try:
                    nsfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as e:
                    from pyrunc.errors import FileError

                    raise FileError(path, f"linux.namespaces[{ns['type']}].path", e) from None
                fds.append(nsfd)
                inherit.append({"key": _NS_KEY[ns["type"]][1], "fd": nsfd})
            elif ns["type"] == "cgroup":
                raise CheckpointError("restore: joining an existing cgroup namespace is not supported by CRIU")
            else:
                join.append({"ns": {"network": "net", "mount": "mnt"}.get(ns["type"], ns["type"]),
                             "ns_file": path})
        for i, desc in enumerate(descriptors[:3]):
            if "pipe:" in desc:
                inherit.append({"key": desc, "fd": i})
        opts["inherit_fd"] = inherit or None
        opts["join_ns"] = join or None
        opts["ext_mnt"] = restore_ext_mounts(config) or None
        hooks = config.get("hooks") or {}
        container = Container(store, cid, state)
        own_pidns = any(ns.get("type") == "pid" and not ns.get("path") for ns in linux.get("namespaces") or [])

        def on_start(criu_pid: int) -> None:
            # CRIU restores the tree into the cgroups it runs in (cg_root).
            mgr.apply(criu_pid)
            opts["cg_root"] = _cg_roots(criu_pid) or None

        def on_notify(notify: dict[str, Any], nfds: list[int]) -> None:
            script = notify.get("script", "")
            try:
                if script == "setup-namespaces" and (hooks.get("prestart") or hooks.get("createRuntime")):
                    from pyrunc.hooks import run_hooks

                    st = dict(container.state_json("creating"), pid=notify.get("pid", 0))
                    run_hooks("prestart", hooks.get("prestart"), st, cwd=bundle)
                    run_hooks("createRuntime", hooks.get("createRuntime"), st, cwd=bundle)
                elif script == "post-restore":
                    pid = int(notify.get("pid") or 0)
                    made["pid"] = pid
                    state["pid"] = pid
                    state["pid_start"] = made["pid_start"] = proc.start_time(pid)
                    if own_pidns:
                        state["pidns"] = proc.pidns_inode(pid)
                    store.write_state(cid, state)
                elif script == "orphan-pts-master" and nfds:
                    if r.console_socket is None:
                        raise CheckpointError("restore: the container has a terminal: --console-socket is needed")
                    _send_console(r.console_socket, nfds[0])
            finally:
                for fd in nfds:
                    os.close(fd)

        req = {"type": rpc.RESTORE, "opts": opts}

        def start(criu_pid: int) -> None:
            on_start(criu_pid)

        try:
            resp = rpc.swrk(req, criu=o.criu, pass_fds=tuple(fds), on_notify=on_notify, on_start=start)
        except rpc.CriuError as e:
            raise CheckpointError(str(e)) from None
        if not resp.get("success"):
            raise _fail("restore", resp, os.path.join(log_dir, RESTORE_LOG), criu=o.criu)
        pid = int((resp.get("restore") or {}).get("pid") or made.get("pid") or 0)
        if not pid:
            raise CheckpointError("criu restore: no pid in CRIU's answer")
        if pid != state["pid"]:
            made["pid"] = pid
            state["pid"] = pid
            state["pid_start"] = made["pid_start"] = proc.start_time(pid)
        store.write_state(cid, state)
    finally:
        for fd in fds:
            os.close(fd)
        root = made.pop("criu_root", None)
        if root:
            _umount(root)
            try:
                os.rmdir(root)
            except OSError:
                pass
    if r.pid_file:
        write_atomic(os.path.abspath(r.pid_file), str(state["pid"]).encode(), 0o644, what="writing pid file")
    return container
