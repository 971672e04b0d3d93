"""The init plan: a validated config turned into the flat list of steps the C
init (csrc/init) runs, in order, with every flag, path and mask resolved.

Pure: it reads nothing but what `PlanContext.probe` tells it about host paths,
so the order of operations is unit-tested without root.  The order follows
runc where the spec is silent (see docs/design.md)."""
from __future__ import annotations

import os
import posixpath

from pyrunc.errors import ConfigError, UnsupportedError
from pyrunc.linux import ops as o
from pyrunc.linux.devices import DEFAULT_DEVICES, DEFAULT_SYMLINKS, Device, from_config
from pyrunc.linux.mounts import (MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_SLAVE, parse_options,
                                 propagation_flags)
from pyrunc.linux.namespaces import CLONE_NEWTIME, JOIN_ORDER, NAMESPACES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# plain classes: dataclasses costs ~6 ms to import on every create
class CgroupMount:
    """One hierarchy to show at a `cgroup` mount's destination.

    `name` is the subdirectory ("" for a pure v2 host, where the destination
    itself is the mount), `fstype`/`data` what to mount with a cgroup
    namespace, `host_path` the container's cgroup dir to bind without one."""

    __slots__ = ("name", "fstype", "data", "host_path")

    def __init__(self, name: str, fstype: str, data: str, host_path: str) -> None:
        self.name = name
        self.fstype = fstype
        self.data = data
        self.host_path = host_path


def _no_warn(msg: str) -> None:
    pass


def _probe(path: str) -> str | None:
    """'dir', 'file' or None for a host path."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    import stat

    return "dir" if stat.S_ISDIR(st.st_mode) else "file"


class PlanContext:
    __slots__ = ("config", "bundle", "container_id", "fifo_fds", "caller_umask", "seccomp_cache_root",
                 "cgroup_procs", "cgroup_mounts", "console_fd", "preserve_fds", "no_pivot", "no_new_keyring",
                 "hooks_sync", "rootless", "warn", "probe", "host_has_kcore")

    def __init__(
        self,
        config: dict,
        bundle: str,
        container_id: str,
        fifo_fds: tuple[int, int] | None = None,  # exec.fifo, exec.reply opened O_RDWR; None: no start gate
        caller_umask: int = 0o022,  # process.user.umask unset: keep the caller's
        seccomp_cache_root: str | None = None,  # the state root: compiled profiles are cached there
        cgroup_procs: list[str] | None = None,
        cgroup_mounts: list[CgroupMount] | None = None,
        console_fd: int | None = None,
        preserve_fds: int = 0,
        no_pivot: bool = False,
        no_new_keyring: bool = False,
        hooks_sync: bool = True,  # stop after mounts so pyrunc runs prestart/createRuntime hooks
        rootless: bool = False,
        warn: Callable[[str], None] = _no_warn,
        probe: Callable[[str], str | None] = _probe,
        host_has_kcore: bool = True,
    ) -> None:
        self.config = config
        self.bundle = bundle
        self.container_id = container_id
        self.fifo_fds = fifo_fds
        self.caller_umask = caller_umask
        self.seccomp_cache_root = seccomp_cache_root
        self.cgroup_procs = [] if cgroup_procs is None else cgroup_procs
        self.cgroup_mounts = [] if cgroup_mounts is None else cgroup_mounts
        self.console_fd = console_fd
        self.preserve_fds = preserve_fds
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.hooks_sync = hooks_sync
        self.rootless = rootless
        self.warn = warn
        self.probe = probe
        self.host_has_kcore = host_has_kcore


class Plan:
    __slots__ = ("ops", "seccomp_notify", "listener_path", "listener_metadata")

    def __init__(
        self,
        ops: list[tuple] | None = None,
        seccomp_notify: bool = False,
        listener_path: str | None = None,
        listener_metadata: str | None = None,
    ) -> None:
        self.ops = [] if ops is None else ops
        self.seccomp_notify = seccomp_notify
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata

    def add(self, *op: object) -> None:
        self.ops.append(op)

    def encode(self) -> bytes:
        return o.encode(self.ops)


def rootfs_path(config: dict, bundle: str) -> str:
    path = config["root"]["path"]
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(bundle, path))


def clean_destination(dest: str, field_: str) -> str:
    """An absolute, normalised destination; '..' may not climb out of '/'."""
    if not dest:
        raise ConfigError(field_, "must not be empty")
    depth = 0
    for part in dest.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise ConfigError(field_, f"{dest!r} escapes the container's root filesystem")
        elif part not in ("", "."):
            depth += 1
    return "/" + posixpath.normpath("/" + dest).lstrip("/")


def _id_map(maps: list[dict] | None) -> str:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps or [])


def _time_offsets(offsets: dict | None) -> str:
    lines = []
    for clock, off in (offsets or {}).items():
        lines.append(f"{clock} {off.get('secs', 0)} {off.get('nanosecs', 0)}\n")
    return "".join(lines)


def _namespaces(linux: dict) -> dict[str, dict]:
    return {ns["type"]: ns for ns in linux.get("namespaces") or []}


def _launcher(plan: Plan, ctx: PlanContext, nss: dict[str, dict], linux: dict, process: dict) -> int:
    """Steps of the launcher, before the clone.  Returns the clone flags."""
    aff = process.get("execCPUAffinity") or {}
    if aff.get("initial"):
        from pyrunc.linux.process_attrs import mask_to_id_list, resolve_exec_cpu_affinity

        a = resolve_exec_cpu_affinity(aff)
        if a and a.initial:
            plan.add(o.OP_CPU_AFFINITY, mask_to_id_list(a.initial))
    # Join the cgroup first: the clone's child is born inside it.
    for procs in ctx.cgroup_procs:
        plan.add(o.OP_CGROUP_JOIN, procs)
    flags = 0
    for kind in JOIN_ORDER:
        ns = nss.get(kind)
        if ns is None:
            continue
        flag, _ = NAMESPACES[kind]
        if ns.get("path"):
            plan.add(o.OP_SETNS, ns["path"], flag)
        elif kind == "time":
            # CLONE_NEWTIME cannot be passed to clone(): unshare it here and
            # set the offsets before any process lives in it.
            plan.add(o.OP_UNSHARE_TIME, _time_offsets(linux.get("timeOffsets")))
        else:
            flags |= flag
    return flags


# OP_MOUNT's extension bits (csrc/init/mount.c MX_*)
MX_COPYUP = 1  # tmpcopyup: the new tmpfs starts with a copy of the directory it covers
MX_DIR_MODE = 2  # a tmpfs without mode= takes the mode of the directory it covers (runc)
MX_RO_LATER = 4  # mounted writable, made read-only by OP_MOUNTS_RO once /dev and mount points are made
MX_PREOPENED = 8  # bind source opened by the launcher, as the host's root (user namespaces)
MX_IDMAP = 16  # idmapped (MOUNT_ATTR_IDMAP, by the launcher): args 13/14 are the uid_map/gid_map text
MX_RIDMAP = 32  # ... on every mount of the tree (ridmap: AT_RECURSIVE)
MX_IDMAP_PATH = 64  # ... with the mapping of the user namespace at the path in arg 13 (a joined one)


def _mount_ext(f: str, dest: str, mtype: str, opts, preopen: bool) -> int:
    """The extension bits of one (non-cgroup) mount."""
    ext = 0
    if opts.copyup:
        if opts.bind or mtype != "tmpfs":
            raise ConfigError(f"{f}.options", f"tmpcopyup applies to tmpfs mounts only, not to "
                                              f"{'a bind mount' if opts.bind else repr(mtype or 'no type')}")
        ext |= MX_COPYUP
    if opts.bind:
        return ext | (MX_PREOPENED if preopen else 0)
    if mtype == "tmpfs" and not any(d.startswith("mode=") for d in opts.data):
        ext |= MX_DIR_MODE
    if opts.flags & MS_RDONLY and (mtype == "tmpfs" or dest == "/dev"):
        ext |= MX_RO_LATER
    return ext


def _mounts(plan: Plan, ctx: PlanContext, nss: dict, userns: bool) -> bool:
    """Returns True when /dev is bind-mounted from the host (no device nodes then)."""
    from pyrunc.lsm import mount_label, with_mount_label

    dev_is_bind = False
    # runc opens bind sources on the host side when the container has a
    # user namespace (its root may not reach them): so does the launcher,
    # except rootless (no host privileges to use) or in a joined mount namespace
    preopen = userns and "mount" in nss and not nss["mount"].get("path") and not ctx.rootless
    has_cgroupns = "cgroup" in nss
    label = mount_label(ctx.config.get("linux") or {})
    for i, m in enumerate(ctx.config.get("mounts") or []):
        f = f"mounts[{i}]"
        dest = clean_destination(m.get("destination", ""), f"{f}.destination")
        opts = parse_options(m.get("options") or [])
        if opts.unsupported:
            raise UnsupportedError(f"{f}.options: mount option {opts.unsupported[0]!r}")
        idmap = _idmap(ctx, nss, m, opts, userns, f)
        mtype = m.get("type") or ""
        source = m.get("source") or ""
        if mtype == "bind":
            opts.bind = True
        if mtype in ("cgroup", "cgroup2") and not opts.bind:
            _cgroup_mount(plan, ctx, dest, opts, has_cgroupns)
            continue
        ext = _mount_ext(f, dest, mtype, opts, preopen)
        data = with_mount_label(",".join(opts.data), "bind" if opts.bind else mtype, label)
        prop = ",".join(f"{flag}:{int(rec)}" for flag, rec in opts.propagation)
        if opts.bind:
            if not os.path.isabs(source):
                source = os.path.join(ctx.bundle, source)
            kind = ctx.probe(source)
            if kind is None:
                raise ConfigError(f"{f}.source", f"bind source {source} does not exist")
            if dest == "/dev":
                dev_is_bind = True
            plan.add(o.OP_MOUNT, source, dest, "", 0, "", "rbind" if opts.recursive_bind else "bind",
                     kind, prop, f"{opts.attr_set:x}", f"{opts.attr_clr:x}",
                     f"{opts.rattr_set:x}", f"{opts.rattr_clr:x}", ext | idmap[0], *idmap[1:])
        else:
            plan.add(o.OP_MOUNT, source or mtype, dest, mtype, opts.flags, data, "fs", "dir", prop,
                     "0", "0", f"{opts.rattr_set:x}", f"{opts.rattr_clr:x}", ext)
    return dev_is_bind


def _idmap(ctx: PlanContext, nss: dict, m: dict, opts, userns: bool, f: str) -> tuple:
    """An idmapped bind (runtime-spec 1.2): () when the mount is not one,
    else (extension bits, uid_map or user namespace path, gid_map).  The
    launcher opens the bind with the host's credentials and idmaps it with a
    user namespace carrying the mount's own mappings (made for the purpose),
    or, for `idmap`/`ridmap` without mappings, the container's: its
    linux.uidMappings/gidMappings for a new user namespace, the joined one's
    path otherwise.  Without mappings of its own, the mapping applies to the
    top mount unless the option is `ridmap` (runc 1.2)."""
    from pyrunc.linux.mounts import idmap_problem

    bad = idmap_problem(m, opts, userns, f)
    if bad:
        raise ConfigError(*bad)
    uid, gid = m.get("uidMappings"), m.get("gidMappings")
    if not (uid or gid or opts.idmap):
        return (0,)
    if ctx.rootless:
        raise UnsupportedError(f"{f}: an idmapped mount in a rootless container (mount_setattr needs "
                               "CAP_SYS_ADMIN over the filesystem's user namespace)")
    if "mount" in nss and nss["mount"].get("path"):
        raise UnsupportedError(f"{f}: an idmapped mount in a joined mount namespace")
    ext = MX_PREOPENED | MX_IDMAP | (MX_RIDMAP if opts.ridmap else 0)
    if uid:
        return (ext, _id_map(uid), _id_map(gid))
    user = nss["user"]
    if user.get("path"):
        return (ext | MX_IDMAP_PATH, user["path"], "")
    linux = ctx.config.get("linux") or {}
    return (ext, _id_map(linux.get("uidMappings")), _id_map(linux.get("gidMappings")))


def _cgroup_mount(plan: Plan, ctx: PlanContext, dest: str, opts, has_cgroupns: bool) -> None:
    """A `cgroup` mount shows the container's own cgroups: with a cgroup
    namespace the hierarchies are mounted afresh, without one the
    container's cgroup dirs are bound from the host (as runc does)."""
    ro = f"{opts.attr_set:x}"
    base_flags = opts.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    pure_v2 = len(ctx.cgroup_mounts) == 1 and ctx.cgroup_mounts[0].name == ""
    if not pure_v2:
        plan.add(o.OP_MOUNT, "tmpfs", dest, "tmpfs", base_flags, "mode=755", "fs", "dir", "", "0", "0", "0", "0")
    for cm in ctx.cgroup_mounts:
        target = dest if not cm.name else posixpath.join(dest, cm.name)
        if has_cgroupns:
            plan.add(o.OP_MOUNT, cm.fstype, target, cm.fstype, opts.flags & ~(MS_BIND | MS_REC), cm.data,
                     "fs", "dir", "", "0", "0", "0", "0")
        else:
            plan.add(o.OP_MOUNT, cm.host_path, target, "", 0, "", "rbind", "dir", "", ro,
                     f"{opts.attr_clr:x}", "0", "0")


def _devices(plan: Plan, ctx: PlanContext, linux: dict, userns: bool) -> None:
    devices: dict[str, Device] = {d.path: d for d in DEFAULT_DEVICES}
    for i, d in enumerate(linux.get("devices") or []):
        dev = from_config(d)
        path = clean_destination(dev.path, f"linux.devices[{i}].path")
        if path == "/dev/ptmx":
            # runc's setupPtmx replaces whatever is there with the pts/ptmx
            # link (podman --privileged lists the host's ptmx): a node would
            # open the host's devpts instance, not the container's
            continue
        # fileMode: the permission bits only (runc: `&^ S_IFMT`; podman
        # --privileged sends the host nodes' whole st_mode)
        devices[path] = Device(path, dev.type, dev.major, dev.minor, dev.mode, dev.uid, dev.gid)
    for dev in devices.values():
        plan.add(o.OP_MKNOD, dev.path, dev.type, dev.major, dev.minor, dev.mode & 0o7777, dev.uid, dev.gid,
                 int(userns))
    for target, link in DEFAULT_SYMLINKS:
        # /dev/ptmx: an existing file (an image's node) is replaced (runc's setupPtmx)
        plan.add(o.OP_SYMLINK, target, link, int(link == "/dev/ptmx"))
    if ctx.host_has_kcore:
        plan.add(o.OP_SYMLINK, "/proc/kcore", "/dev/core")


def _hook_args(kind: str, hook: dict, default_env: list[str] | None, cwd: str = "") -> tuple:
    """A hook without `env` gets `default_env` (None: filled in later by
    _fill_hook_env, once the process's final env is known)."""
    args = hook.get("args") or [hook["path"]]
    env = hook.get("env")
    if env is None:
        env = default_env
    return (o.OP_HOOK, kind, hook["path"], o.nul_list(args), None if env is None else o.nul_list(env),
            hook.get("timeout") or 0, cwd)


def _fill_hook_env(plan: Plan, env: list[str], home_from_passwd: bool = False) -> None:
    """runc 1.1 runs createContainer/startContainer hooks from its init,
    whose environment is the container process's by then: hooks without an
    `env` of their own get that (startContainer's with HOME filled in; the
    last arg, 1: the init appends the HOME it read from /etc/passwd)."""
    for i, op in enumerate(plan.ops):
        if op[0] == o.OP_HOOK and op[4] is None:
            plan.ops[i] = (*op[:4], o.nul_list(env), *op[5:], int(home_from_passwd))


def _env_value(env: list[str], name: str) -> str | None:
    for e in env:
        k, _, v = e.partition("=")
        if k == name:
            return v
    return None


def home_from_passwd(env: list[str]) -> tuple[list[str], bool]:
    """runc sets HOME from the container's /etc/passwd entry for the uid
    ("/" without one) when the process env has no HOME or an empty one (the
    last entry counts, as with runc's setenv of each).  The init reads it
    after pivot_root (OP_HOME), so mounts over /etc count.  Returns the env
    without its empty HOME entries, and whether OP_HOME is needed."""
    home = None
    for e in env:
        k, _, v = e.partition("=")
        if k == "HOME":
            home = v
    if home:
        return env, False
    return [e for e in env if e.partition("=")[0] != "HOME"], True


def _user_files(plan: Plan, process: dict) -> None:
    """What runc's setupUser does with files before the identity switch:
    stdio handed to the user (OP_FIX_STDIO), HOME read from the container's
    /etc/passwd when the env has none (OP_HOME).  Planned before any seccomp
    filter is loaded, so a profile cannot turn them into failures."""
    uid = (process.get("user") or {}).get("uid", 0)
    plan.add(o.OP_FIX_STDIO, uid)
    if home_from_passwd(list(process.get("env") or []))[1]:
        plan.add(o.OP_HOME, uid)


def _identity(plan: Plan, ctx: PlanContext, process: dict, userns_setgroups_denied: bool) -> None:
    """Supplementary groups, gid, uid and the capability sets, in the order
    that keeps the capabilities across setuid, after a first chdir to
    process.cwd while still root, as runc's finalizeNamespace does (a
    directory only root can enter; OP_CWD after the switch retries one only
    the user can enter)."""
    from pyrunc.linux.capabilities import resolve_capabilities

    user = process.get("user") or {}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    plan.add(o.OP_CWD, process.get("cwd") or "/", 1)
    caps_cfg = process.get("capabilities")
    # names the kernel lacks are dropped here; the create-time checks
    # (pyrunc.spec.semantic) already warned about each of them
    caps = resolve_capabilities(caps_cfg, "process.capabilities") if caps_cfg is not None else None
    if caps is not None:
        plan.add(o.OP_KEEPCAPS)
        plan.add(o.OP_CAPBSET, f"{caps.bounding:x}")
    if not userns_setgroups_denied:
        plan.add(o.OP_SETGROUPS, ",".join(str(g) for g in user.get("additionalGids") or []))
    plan.add(o.OP_SETGID, gid)
    plan.add(o.OP_SETUID, uid)
    if caps is not None:
        plan.add(o.OP_CAPS, f"{caps.effective:x}", f"{caps.permitted:x}", f"{caps.inheritable:x}",
                 f"{caps.ambient:x}")


def _process_attrs(plan: Plan, ctx: PlanContext, process: dict, linux: dict) -> None:
    from pyrunc.linux import process_attrs as pa

    from pyrunc.lsm import exec_labels

    for lbl in exec_labels(process):
        plan.add(o.OP_LSM_EXEC, o.nul_list(list(lbl.attrs)), lbl.value, lbl.field)
    pers = pa.resolve_personality(linux.get("personality"))
    if pers is not None:
        plan.add(o.OP_PERSONALITY, pers)
    sched = pa.resolve_scheduler(process.get("scheduler"))
    if sched is not None:
        plan.add(o.OP_SCHEDULER, sched.policy, sched.nice, sched.priority, sched.flags, sched.runtime,
                 sched.deadline, sched.period)
    ioprio = pa.resolve_io_priority(process.get("ioPriority"))
    if ioprio is not None:
        plan.add(o.OP_IOPRIO, ioprio)
    mp = pa.resolve_memory_policy(linux.get("memoryPolicy"))
    if mp is not None:
        plan.add(o.OP_MEMPOLICY, mp.mode, 0, mp.node_list)


def _seccomp(plan: Plan, ctx: PlanContext, linux: dict) -> tuple | None:
    if not linux.get("seccomp"):
        return None
    if ctx.seccomp_cache_root:
        from pyrunc.linux.seccomp_cache import compile_cached

        prog = compile_cached(linux["seccomp"], ctx.seccomp_cache_root, "linux.seccomp", ctx.warn)
    else:
        from pyrunc.linux.seccomp import compile_seccomp

        prog = compile_seccomp(linux["seccomp"], "linux.seccomp", ctx.warn)
    if prog is None:
        return None
    plan.seccomp_notify = prog.notify
    plan.listener_path = prog.listener_path
    plan.listener_metadata = prog.listener_metadata
    return (o.OP_SECCOMP, prog.bpf, prog.flags, int(prog.notify))


def build_plan(ctx: PlanContext) -> Plan:
    """The complete plan for a container's init (create / run)."""
    config = ctx.config
    process = config.get("process") or {}
    linux = config.get("linux") or {}
    nss = _namespaces(linux)
    plan = Plan()
    if linux.get("intelRdt"):
        raise UnsupportedError("linux.intelRdt (Intel RDT resctrl groups)")

    # --- launcher: cgroup, joined namespaces, clone
    flags = _launcher(plan, ctx, nss, linux, process)
    userns = "user" in nss
    new_userns = userns and not nss["user"].get("path")
    # Rootless: newuidmap/newgidmap only when more than the caller's own ids
    # are mapped; without them the kernel wants setgroups denied first.
    from pyrunc.rootless import needs_mapping_tool

    helper = ctx.rootless and new_userns and needs_mapping_tool(linux)
    setgroups = "deny" if ctx.rootless and new_userns and not helper else ""
    plan.add(o.OP_CLONE, flags, _id_map(linux.get("uidMappings")) if new_userns else "",
             _id_map(linux.get("gidMappings")) if new_userns else "", setgroups, int(helper))

    # --- container init, before the root changes
    plan.add(o.OP_SETSID)
    if "network" in nss and not nss["network"].get("path"):
        plan.add(o.OP_LOOPBACK_UP)  # runc: lo up in a new network namespace, not in a joined one
    oom = process.get("oomScoreAdj")
    if oom is not None:
        plan.add(o.OP_OOM_SCORE_ADJ, oom)
    from pyrunc.linux.process_attrs import resolve_rlimits

    for rl in resolve_rlimits(process.get("rlimits")):
        plan.add(o.OP_RLIMIT, rl.resource, rl.soft, rl.hard)
    for key, value in (linux.get("sysctl") or {}).items():
        plan.add(o.OP_SYSCTL, key, value)
    if not ctx.no_new_keyring:
        plan.add(o.OP_KEYRING, f"_ses.{ctx.container_id}")

    if "mount" in nss:
        prop = linux.get("rootfsPropagation")
        # runbindable here would leave nothing to bind (runc fails so):
        # "/" alone now, the whole tree once it is made (below)
        plan.add(o.OP_ROOT_PROPAGATION, propagation_flags(prop, recursive=prop != "runbindable") if prop
                 else MS_SLAVE | MS_REC)
    # Without a mount namespace the container's mounts are made in the
    # caller's, under a private bind of the rootfs (pyrunc detaches it at delete)
    plan.add(o.OP_ROOTFS, rootfs_path(config, ctx.bundle), int("mount" not in nss))
    dev_is_bind = _mounts(plan, ctx, nss, userns)
    if not dev_is_bind:
        _devices(plan, ctx, linux, userns)

    hooks = config.get("hooks") or {}
    # The sync point: pyrunc runs prestart/createRuntime hooks and sends the
    # state the createContainer/startContainer hooks get.  Skipped (one
    # round trip less) when there are no such hooks.
    # linux.netDevices are moved there too (pyrunc.linux.netlink).
    if ctx.hooks_sync and (linux.get("netDevices") or any(hooks.get(k) for k in (
            "prestart", "createRuntime", "createContainer", "startContainer"))):
        plan.add(o.OP_HOOKS_SYNC)
    for h in hooks.get("createContainer") or []:
        # runc runs them from its init, chdir'd to the rootfs, with the process env
        plan.add(*_hook_args("createContainer", h, list(process.get("env") or []),
                             rootfs_path(config, ctx.bundle)))
    if ctx.fifo_fds:
        plan.add(o.OP_FIFO_OPEN, ctx.fifo_fds[0], ctx.fifo_fds[1])

    # --- the new root
    # runc: chroot, not pivot_root, without a mount namespace of its own
    plan.add(o.OP_PIVOT, 2 if "mount" not in nss else int(ctx.no_pivot))
    if "mount" in nss and linux.get("rootfsPropagation"):
        # the bound rootfs inherited its source's propagation: give "/" the
        # requested one, on "/" alone (rshared is shared here: the recursive
        # forms were applied before the binds, as runc does), so that the
        # propagation options of the mounts under it hold; runbindable is
        # applied to the whole tree only now
        prop = linux["rootfsPropagation"]
        plan.add(o.OP_ROOT_PROPAGATION, propagation_flags(prop, recursive=prop == "runbindable"))
    cwd = process.get("cwd") or "/"
    if cwd != "/":
        # runc: MkdirAll(cwd, 0755) under the caller's umask, in the new root
        plan.add(o.OP_MKCWD, cwd, f"{0o755 & ~ctx.caller_umask:o}")
    if process.get("terminal") and ctx.console_fd is not None:
        size = process.get("consoleSize") or {}
        plan.add(o.OP_CONSOLE, ctx.console_fd, size.get("height", 0), size.get("width", 0), 1)
    if any(op[0] == o.OP_MOUNT and len(op) > 13 and op[13] & MX_RO_LATER for op in plan.ops):
        # runc's finalizeRootfs: after the devices, the console and the
        # mount points under them exist
        plan.add(o.OP_MOUNTS_RO)
    if config.get("hostname") is not None and "uts" in nss:
        plan.add(o.OP_HOSTNAME, config["hostname"])
    if config.get("domainname") is not None and "uts" in nss:
        plan.add(o.OP_DOMAINNAME, config["domainname"])
    for p in linux.get("readonlyPaths") or []:
        plan.add(o.OP_READONLY_PATH, p)
    for p in linux.get("maskedPaths") or []:
        plan.add(o.OP_MASK_PATH, p)
    if config.get("root", {}).get("readonly"):
        plan.add(o.OP_ROOT_READONLY)

    # --- the process: attributes, identity, confinement
    _process_attrs(plan, ctx, process, linux)
    _user_files(plan, process)
    nnp = bool(process.get("noNewPrivileges"))
    seccomp_op = _seccomp(plan, ctx, linux)
    if seccomp_op and not nnp:
        # Without no_new_privs loading a filter needs CAP_SYS_ADMIN: before
        # the capabilities are dropped.
        plan.add(*seccomp_op)
    _identity(plan, ctx, process, setgroups == "deny")
    if nnp:
        plan.add(o.OP_NO_NEW_PRIVS)
    user = process.get("user") or {}
    plan.add(o.OP_UMASK, f"{user.get('umask', ctx.caller_umask):o}")
    plan.add(o.OP_CWD, process.get("cwd") or "/")
    args = process.get("args") or []
    if not args:
        raise ConfigError("process.args", "must not be empty")
    env = list(process.get("env") or [])
    plan.add(o.OP_FIND_EXEC, args[0], _env_value(env, "PATH") or DEFAULT_PATH)
    if seccomp_op and nnp:
        # As late as possible, but before the sync socket closes: a notify
        # listener fd travels over it.
        plan.add(*seccomp_op)
    plan.add(o.OP_READY)
    if ctx.fifo_fds:
        plan.add(o.OP_FIFO_WAIT)
    for h in hooks.get("startContainer") or []:
        plan.add(*_hook_args("startContainer", h, None))  # in process.cwd, where the init is
    aff = process.get("execCPUAffinity") or {}
    if aff.get("final"):
        from pyrunc.linux.process_attrs import mask_to_id_list, resolve_exec_cpu_affinity

        a = resolve_exec_cpu_affinity(aff)
        if a and a.final:
            plan.add(o.OP_CPU_AFFINITY, mask_to_id_list(a.final))
    if ctx.fifo_fds:
        plan.add(o.OP_FIFO_RELEASE)
    plan.add(o.OP_CLOSE_FDS, 3 + ctx.preserve_fds)
    env, passwd_home = home_from_passwd(env)
    _fill_hook_env(plan, env, passwd_home)
    plan.add(o.OP_EXEC, o.nul_list(args), o.nul_list(env))
    return plan
