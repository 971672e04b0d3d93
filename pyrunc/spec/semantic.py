"""The checks the runtime makes at create, beyond what the JSON schema says.

Each check looks at the schema-validated config (a JSON-shaped dict with the
spec's field names) and yields `Problem`s naming the JSON path of the field.
`check()` raises the first error as ConfigError and logs the warnings;
`problems()` returns them all (for `pyrunc validate`).

The rules follow runtime-spec v1.3.0 (config.md, config-linux.md) and, where
the spec leaves the choice to the runtime, what runc does, so that a config
runc refuses is refused here too, with the same reason.

No third-party imports: this module is cheap to import.
"""
from __future__ import annotations

import fcntl
import os
import stat
from collections import namedtuple

from pyrunc.errors import ConfigError
from pyrunc.spec.names import CAPABILITIES, IPC_SYSCTLS, NAMESPACE_FILES, RLIMITS, last_cap

TYPE_CHECKING = False  # `typing` costs ~3 ms of every create; annotations are strings
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Config = dict[str, Any]
    Check = Callable[[Config, str], Iterator["Problem"]]


class Problem(namedtuple("Problem", "field message warning", defaults=(False,))):
    """One finding of the create-time checks.  (A namedtuple: dataclasses
    costs ~7 ms to import on every create, typing.NamedTuple ~3 ms.)

    field: str     JSON path of the offending field
    message: str
    warning: bool  a warning rather than an error (default False)"""

    __slots__ = ()

    def __str__(self) -> str:
        prefix = "warning: " if self.warning else ""
        return f"{prefix}{self.field}: {self.message}"


# ioctl(NS_GET_NSTYPE) answers with the CLONE_NEW* flag of a namespace file.
_NS_GET_NSTYPE = 0xB703
_CLONE_FLAGS = {
    "mount": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "user": 0x10000000,
    "pid": 0x20000000, "network": 0x40000000, "cgroup": 0x02000000, "time": 0x00000080,
}  # fmt: skip


def _linux(config: Config) -> dict[str, Any]:
    linux = config.get("linux")
    return linux if isinstance(linux, dict) else {}


def _namespaces(config: Config) -> dict[str, dict[str, Any]]:
    """Namespace type -> its entry (the first one, if duplicated)."""
    found: dict[str, dict[str, Any]] = {}
    for ns in _linux(config).get("namespaces") or []:
        if isinstance(ns, dict) and isinstance(ns.get("type"), str):
            found.setdefault(ns["type"], ns)
    return found


def _err(field: str, message: str) -> Problem:
    return Problem(field, message)


def _warn(field: str, message: str) -> Problem:
    return Problem(field, message, warning=True)


# --- root and process ---------------------------------------------------------


def check_root(config: Config, bundle: str) -> Iterator[Problem]:
    root = config.get("root")
    if not isinstance(root, dict):
        yield _err("root", "required to create a container")
        return
    path = root.get("path")
    if not isinstance(path, str) or not path:
        yield _err("root.path", "must name the container's root filesystem")
        return
    full = path if os.path.isabs(path) else os.path.join(bundle, path)
    try:
        st = os.stat(full)
    except OSError as e:
        yield _err("root.path", f"{full}: {e.strerror}")
        return
    if not stat.S_ISDIR(st.st_mode):
        yield _err("root.path", f"{full}: not a directory")


def check_process(config: Config, bundle: str) -> Iterator[Problem]:
    yield from process_problems(config.get("process"), "process")


def process_problems(proc: Any, field: str) -> Iterator[Problem]:
    """The checks of one process object (config.json's, or exec's process.json)."""
    if not isinstance(proc, dict):
        yield _err(field, "required to create a container")
        return
    cwd = proc.get("cwd")
    if isinstance(cwd, str) and not cwd.startswith("/"):
        yield _err(f"{field}.cwd", f"must be an absolute path, got {cwd!r}")
    args = proc.get("args")
    if not args:
        yield _err(f"{field}.args", "must not be empty")
    for i, entry in enumerate(proc.get("env") or []):
        if isinstance(entry, str) and "=" not in entry:
            yield _err(f"{field}.env[{i}]", f"must be KEY=VALUE, got {entry!r}")
        elif isinstance(entry, str) and entry.startswith("="):
            yield _err(f"{field}.env[{i}]", f"variable name must not be empty, got {entry!r}")
    yield from _check_rlimits(proc, field)
    yield from _check_capabilities(proc, field)
    oom = proc.get("oomScoreAdj")
    if isinstance(oom, int) and not -1000 <= oom <= 1000:
        yield _err(f"{field}.oomScoreAdj", f"must be between -1000 and 1000, got {oom}")
    io = proc.get("ioPriority")
    if isinstance(io, dict):
        prio = io.get("priority", 0)
        if isinstance(prio, int) and not 0 <= prio <= 7:
            yield _err(f"{field}.ioPriority.priority", f"must be between 0 and 7, got {prio}")
    yield from _check_scheduler(proc, field)


def _check_rlimits(proc: dict[str, Any], field: str) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, rl in enumerate(proc.get("rlimits") or []):
        kind = rl.get("type")
        where = f"{field}.rlimits[{i}]"
        if kind not in RLIMITS:
            yield _err(f"{where}.type", f"unknown rlimit {kind!r}")
        elif kind in seen:
            yield _err(f"{where}.type", f"duplicate rlimit {kind}")
        seen.add(kind)
        soft, hard = rl.get("soft"), rl.get("hard")
        if isinstance(soft, int) and isinstance(hard, int) and soft > hard:
            yield _err(f"{where}.soft", f"soft limit {soft} is above the hard limit {hard}")


def _check_capabilities(proc: dict[str, Any], field: str) -> Iterator[Problem]:
    caps = proc.get("capabilities")
    if not isinstance(caps, dict):
        return
    top = last_cap()
    for kind in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for i, name in enumerate(caps.get(kind) or []):
            where = f"{field}.capabilities.{kind}[{i}]"
            if name not in CAPABILITIES:
                yield _err(where, f"unknown capability {name!r}")
            elif CAPABILITIES[name] > top:
                # dropped at create, as runc does, so one config works across kernels
                yield _warn(where, f"{name} is unknown to the running kernel and will be ignored")
    # The kernel raises an ambient capability only if it is both permitted and
    # inheritable.  runc warns and runs without it (the default config of
    # runc 1.1's `runc spec` has ambient caps and no inheritable set): so do we.
    both = set(caps.get("permitted") or []) & set(caps.get("inheritable") or [])
    for i, name in enumerate(caps.get("ambient") or []):
        if name in CAPABILITIES and name not in both:
            yield _warn(
                f"{field}.capabilities.ambient[{i}]",
                f"{name} is not in both the permitted and inheritable sets: it cannot be ambient and is skipped",
            )


def _check_scheduler(proc: dict[str, Any], field: str) -> Iterator[Problem]:
    s = proc.get("scheduler")
    if not isinstance(s, dict):
        return
    policy = s.get("policy")
    nice = s.get("nice", 0)
    if isinstance(nice, int) and not -20 <= nice <= 19:
        yield _err(f"{field}.scheduler.nice", f"must be between -20 and 19, got {nice}")
    if s.get("priority", 0) and policy not in ("SCHED_FIFO", "SCHED_RR"):
        yield _err(f"{field}.scheduler.priority", "only SCHED_FIFO and SCHED_RR take a priority")
    if policy != "SCHED_DEADLINE":
        for key in ("runtime", "deadline", "period"):
            if s.get(key, 0):
                yield _err(f"{field}.scheduler.{key}", "only SCHED_DEADLINE takes runtime/deadline/period")


# --- hooks and mounts ---------------------------------------------------------


def check_hooks(config: Config, bundle: str) -> Iterator[Problem]:
    hooks = config.get("hooks")
    if not isinstance(hooks, dict):
        return
    for kind, entries in hooks.items():
        if not isinstance(entries, list):
            continue
        for i, hook in enumerate(entries):
            path = hook.get("path") if isinstance(hook, dict) else None
            if isinstance(path, str) and not path.startswith("/"):
                yield _err(f"hooks.{kind}[{i}].path", f"must be an absolute path, got {path!r}")


def check_mounts(config: Config, bundle: str) -> Iterator[Problem]:
    userns = "user" in _namespaces(config)
    for i, m in enumerate(config.get("mounts") or []):
        dest = m.get("destination")
        if isinstance(dest, str) and not dest.startswith("/"):
            yield _warn(
                f"mounts[{i}].destination",
                f"relative destination {dest!r} is deprecated, it is taken as relative to /",
            )
        if m.get("uidMappings") or m.get("gidMappings") or {"idmap", "ridmap"} & set(m.get("options") or []):
            from pyrunc.linux.mounts import idmap_problem, parse_options

            bad = idmap_problem(m, parse_options(list(m.get("options") or [])), userns, f"mounts[{i}]")
            if bad:
                yield _err(*bad)
        opts = m.get("options") or []
        if "tmpcopyup" in opts:
            bind = m.get("type") == "bind" or "bind" in opts or "rbind" in opts
            if bind or m.get("type") != "tmpfs":
                what = "a bind mount" if bind else repr(m.get("type") or "no type")
                yield _err(f"mounts[{i}].options", f"tmpcopyup applies to tmpfs mounts only, not to {what}")


# --- linux ---------------------------------------------------------------------


def check_namespaces(config: Config, bundle: str) -> Iterator[Problem]:
    linux = _linux(config)
    seen: set[str] = set()
    for i, ns in enumerate(linux.get("namespaces") or []):
        kind = ns.get("type")
        where = f"linux.namespaces[{i}]"
        if kind not in NAMESPACE_FILES:
            yield _err(f"{where}.type", f"unknown namespace type {kind!r}")
            continue
        if kind in seen:
            yield _err(f"{where}.type", f"duplicate namespace {kind!r}")
        seen.add(kind)
        path = ns.get("path")
        if path:
            yield from _check_ns_path(f"{where}.path", kind, path)
        elif not os.path.exists(f"/proc/self/ns/{NAMESPACE_FILES[kind]}"):
            yield _err(f"{where}.type", f"{kind} namespaces are not enabled in this kernel")
    if "mount" not in seen:
        # runtime-spec: an absent namespace is the runtime's.  runc then makes
        # the mounts in its own namespace and chroots; it refuses masks there.
        for key in ("maskedPaths", "readonlyPaths"):
            if linux.get(key):
                yield _err(f"linux.{key}", "cannot be applied without a mount namespace of the container's "
                                          "own (runc: unable to restrict sys entries without a private MNT namespace)")
        if linux.get("rootfsPropagation"):
            yield _warn("linux.rootfsPropagation", "ignored without a mount namespace of the container's own")
    yield from _check_user_ns(linux, seen, _namespaces(config).get("user"))
    if linux.get("timeOffsets") and "time" not in seen:
        yield _err("linux.timeOffsets", "needs a time namespace")
    for key in ("hostname", "domainname"):
        if config.get(key) and "uts" not in seen:
            yield _err(key, "cannot be set without a UTS namespace")
    if linux.get("netDevices") and "network" not in seen:
        yield _err("linux.netDevices", "needs a network namespace")
    elif linux.get("netDevices") and _is_host_netns(_namespaces(config).get("network", {}).get("path")):
        yield _err("linux.netDevices", "needs a network namespace other than the runtime's own")


def _is_host_netns(path: str | None) -> bool:
    """The network namespace at `path` is the one pyrunc runs in (runc's isHostNetNS)."""
    if not path:
        return False
    try:
        a, b = os.stat("/proc/self/ns/net"), os.stat(path)
    except OSError:
        return False  # reported by the namespace path check
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _check_ns_path(field: str, kind: str, path: str) -> Iterator[Problem]:
    if not path.startswith("/"):
        yield _err(field, f"must be an absolute path, got {path!r}")
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        yield _err(field, f"{path}: {e.strerror}")
        return
    try:
        actual = fcntl.ioctl(fd, _NS_GET_NSTYPE)
    except OSError:
        yield _err(field, f"{path}: not a namespace file")
        return
    finally:
        os.close(fd)
    if actual != _CLONE_FLAGS[kind]:
        other = next((k for k, v in _CLONE_FLAGS.items() if v == actual), hex(actual))
        yield _err(field, f"{path}: is a {other} namespace, not {kind}")


def _check_user_ns(
    linux: dict[str, Any], seen: set[str], userns: dict[str, Any] | None
) -> Iterator[Problem]:
    uid, gid = linux.get("uidMappings"), linux.get("gidMappings")
    if "user" not in seen:
        if uid:
            yield _err("linux.uidMappings", "needs a user namespace")
        if gid:
            yield _err("linux.gidMappings", "needs a user namespace")
        return
    if userns is not None and not userns.get("path"):
        if not uid:
            yield _err("linux.uidMappings", "a new user namespace needs uid mappings")
        if not gid:
            yield _err("linux.gidMappings", "a new user namespace needs gid mappings")


def _sysctl_dotted(name: str) -> str:
    """`net/ipv4/conf/eth0.100/rp_filter` -> `net.ipv4.conf.eth0/100.rp_filter` (sysctl.d(5))."""
    first = next((c for c in name if c in "./"), ".")
    if first == ".":
        return name
    return name.translate(str.maketrans("./", "/."))


def check_sysctl(config: Config, bundle: str) -> Iterator[Problem]:
    sysctl = _linux(config).get("sysctl") or {}
    ns = _namespaces(config)
    for key in sysctl:
        name = _sysctl_dotted(key)
        where = f"linux.sysctl.{key}"
        if name in IPC_SYSCTLS or name.startswith("fs.mqueue."):
            if "ipc" not in ns:
                yield _err(where, "not allowed in the host's IPC namespace")
        elif name.startswith("net."):
            net = ns.get("network")
            if net is None:
                yield _err(where, "not allowed in the host's network namespace")
            elif net.get("path") and _same_file(net["path"], "/proc/self/ns/net"):
                yield _err(where, "not allowed in the host's network namespace")
        elif name == "kernel.domainname" and "uts" in ns:
            continue
        elif name == "kernel.hostname" and "uts" in ns:
            yield _err(where, "conflicts with the hostname field, set hostname instead")
        else:
            yield _err(where, "not in a namespace the container has its own of")


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_devices(config: Config, bundle: str) -> Iterator[Problem]:
    for i, dev in enumerate(_linux(config).get("devices") or []):
        where = f"linux.devices[{i}]"
        path = dev.get("path", "")
        if not path.startswith("/"):
            yield _err(f"{where}.path", f"must be an absolute path, got {path!r}")
        if dev.get("type") in ("c", "b", "u"):
            for key in ("major", "minor"):
                if key not in dev:
                    yield _err(f"{where}.{key}", f"required for a {dev['type']!r} device")


def check_seccomp(config: Config, bundle: str) -> Iterator[Problem]:
    sc = _linux(config).get("seccomp")
    if not isinstance(sc, dict):
        return
    if sc.get("defaultAction") == "SCMP_ACT_NOTIFY":
        yield _err("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    notify = False
    for i, rule in enumerate(sc.get("syscalls") or []):
        if rule.get("action") == "SCMP_ACT_NOTIFY":
            notify = True
            if "write" in (rule.get("names") or []):
                yield _err(
                    f"linux.seccomp.syscalls[{i}].names",
                    "SCMP_ACT_NOTIFY on write would block the runtime",
                )
    if notify and not sc.get("listenerPath"):
        yield _err("linux.seccomp.listenerPath", "required when an action is SCMP_ACT_NOTIFY")


def check_misc(config: Config, bundle: str) -> Iterator[Problem]:
    linux = _linux(config)
    rdt = linux.get("intelRdt")
    if isinstance(rdt, dict):
        clos = rdt.get("closID", "")
        if clos in (".", "..") or "/" in clos:
            yield _err("linux.intelRdt.closID", f"invalid CLOS name {clos!r}")
    for host, dev in (linux.get("netDevices") or {}).items():
        for where, name in ((f"linux.netDevices.{host}", host),
                            (f"linux.netDevices.{host}.name", dev.get("name"))):  # fmt: skip
            if name is None:
                continue
            if not name or len(name) > 15 or name in (".", "..") or any(
                c in name for c in "/: \t\n"
            ):
                yield _err(where, f"invalid network interface name {name!r}")
    yield from _check_net_devices(linux.get("netDevices") or {})


def _check_net_devices(devices: dict[str, Any]) -> Iterator[Problem]:
    """Each device exists in the runtime's network namespace, and no two
    get the same name in the container's (the move checks the container's
    namespace itself: pyrunc.linux.netlink)."""
    if not devices:
        return
    import socket  # only with netDevices: `socket` (and enum) cost every create ~3 ms

    targets: dict[str, str] = {}
    for host, dev in devices.items():
        new = (dev or {}).get("name") or host
        if new in targets and "%d" not in new:
            yield _err(f"linux.netDevices.{host}", f"{targets[new]} is also to be named {new} in the container")
        targets.setdefault(new, host)
        try:
            socket.if_nametoindex(host)
        except OSError:
            yield _err(f"linux.netDevices.{host}", f"no network device named {host} in the runtime's network namespace")


CHECKS: list[Check] = [
    check_root,
    check_process,
    check_hooks,
    check_mounts,
    check_namespaces,
    check_sysctl,
    check_devices,
    check_seccomp,
    check_misc,
]


_SCHEMA_PROPAGATION = ("private", "shared", "slave", "unbindable")


def schema_extensions(config: Config) -> Iterator[Problem]:
    """Values pyrunc accepts as runc does although the runtime-spec schema
    does not (`pyrunc validate` lists them; create is silent)."""
    prop = _linux(config).get("rootfsPropagation")
    if isinstance(prop, str) and prop not in _SCHEMA_PROPAGATION:
        yield _warn("linux.rootfsPropagation", f"{prop!r} is outside the runtime-spec schema "
                                               f"({', '.join(_SCHEMA_PROPAGATION)}); runc and crun accept it")
    for i, dev in enumerate(_linux(config).get("devices") or []):
        mode = dev.get("fileMode") if isinstance(dev, dict) else None
        if isinstance(mode, int) and not isinstance(mode, bool) and mode > 0o777:
            yield _warn(f"linux.devices[{i}].fileMode", f"{mode} ({mode:#o}) is outside the runtime-spec schema "
                                                        f"(0-511); as runc, its permission bits {mode & 0o7777:#o} "
                                                        "are used and the file type bits dropped")


def problems(config: Config, bundle: str) -> list[Problem]:
    """Every problem found, errors and warnings, in check order.

    Robust against a config that failed the schema: a check that trips over a
    field of the wrong type is skipped (the schema error already names it)."""
    found: list[Problem] = []
    for check_fn in CHECKS:
        try:
            found.extend(check_fn(config, bundle))
        except (TypeError, AttributeError, KeyError, ValueError):
            continue
    return found


def check(config: Config, bundle: str) -> None:
    """Raise ConfigError for the first error; log the warnings."""
    for problem in problems(config, bundle):
        if problem.warning:
            from pyrunc import log

            log.warn(str(problem))
        else:
            raise ConfigError(problem.field, problem.message)


def check_exec_process(process: dict[str, Any]) -> None:
    """The checks for `exec --process FILE`: the process object alone."""
    for problem in process_problems(process, "process"):
        if not problem.warning:
            raise ConfigError(problem.field, problem.message)
