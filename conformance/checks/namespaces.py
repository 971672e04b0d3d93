"""config-linux.md#namespaces and #user-namespace-mappings, #offset-for-time-namespace."""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..bundle import Bundle
from ..harness import NS_PROC_NAME, Ctx, Fail, Skip, check, expect, expect_eq

ALL = ["pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"]
MAPPING = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def require_traversable(path: Path) -> None:
    """A mapped container root is "other" on the host: every ancestor of the
    bundle must be searchable by others."""
    for d in [path, *path.parents]:
        if not d.stat().st_mode & 0o001:
            raise Skip(f"{d} is not searchable by other users, so a user-namespaced root cannot"
                       " reach the bundle; use --workdir in a world-searchable directory")


def _configure(ctx: Ctx, b: Bundle, t: str) -> None:
    """Make a bundle valid with namespace `t` added."""
    if t == "user":
        require_traversable(b.path)
        b.linux["uidMappings"] = list(MAPPING)
        b.linux["gidMappings"] = list(MAPPING)


def _new_ns_check(t: str) -> None:
    since = "1.1.0" if t == "time" else None

    @check("config-linux.md#namespaces", f"a {t} namespace listed without path is newly created", since=since)
    def new_ns(ctx: Ctx) -> None:
        ctx.require_namespace(t)
        b = ctx.bundle()
        if b.namespace(t) is None:
            b.linux["namespaces"].append({"type": t})
        _configure(ctx, b, t)
        out = ctx.probe(b, ["ns"])
        name = NS_PROC_NAME[t]
        got = out.need(f"ns.{name}")
        expect(got != ctx.suite.host_ns[t], f"container {name} namespace is the runtime's ({got})")


def _inherit_check(t: str) -> None:
    @check("config-linux.md#namespaces", f"a {t} namespace not listed is inherited from the runtime")
    def inherit(ctx: Ctx) -> None:
        b = ctx.bundle()
        b.linux["namespaces"] = [ns for ns in b.linux["namespaces"] if ns["type"] != t]
        if t == "uts":
            b.config.pop("hostname", None)
        out = ctx.probe(b, ["ns"])
        name = NS_PROC_NAME[t]
        expect_eq(out.need(f"ns.{name}"), ctx.suite.host_ns[t], f"container {name} namespace")


for _t in ALL:
    _new_ns_check(_t)
for _t in ("pid", "network", "ipc", "uts", "cgroup"):
    _inherit_check(_t)


def _holder(ctx: Ctx, flags: list[str], fork: bool = False) -> int:
    """A host process sitting in fresh namespaces; returns the pid to use."""
    argv = ["unshare", *flags, *(["--fork"] if fork else []), "sleep", "600"]
    proc = ctx.suite.spawn_helper(argv)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Skip(f"`{' '.join(argv)}` failed on this host")
        pid = proc.pid
        if fork:
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            if not kids:
                time.sleep(0.01)
                continue
            pid = int(kids[0])
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "sleep":
                return pid
        except OSError:
            pass
        time.sleep(0.01)
    raise Skip("namespace holder process did not start")


@check("config-linux.md#namespaces", "network, ipc, uts and cgroup namespaces given by path are joined")
def join_by_path(ctx: Ctx) -> None:
    pid = _holder(ctx, ["--net", "--ipc", "--uts", "--cgroup"])
    b = ctx.bundle()
    types = ["network", "ipc", "uts", "cgroup"]
    b.linux["namespaces"] = [ns for ns in b.linux["namespaces"] if ns["type"] not in types]
    want = {}
    for t in types:
        path = f"/proc/{pid}/ns/{NS_PROC_NAME[t]}"
        b.linux["namespaces"].append({"type": t, "path": path})
        want[t] = os.readlink(path)
    out = ctx.probe(b, ["ns"])
    for t in types:
        expect_eq(out.need(f"ns.{NS_PROC_NAME[t]}"), want[t], f"{t} namespace")


@check("config-linux.md#namespaces", "a pid namespace given by path is joined")
def join_pid_by_path(ctx: Ctx) -> None:
    pid = _holder(ctx, ["--pid"], fork=True)
    b = ctx.bundle()
    path = f"/proc/{pid}/ns/pid"
    b.namespace("pid")["path"] = path  # type: ignore[index]
    out = ctx.probe(b, ["ns"], ["ids"])
    expect_eq(out.need("ns.pid"), os.readlink(path), "pid namespace")
    expect(out.need("pid") != "1", "the container process is pid 1 in a namespace that already has an init")


@check("config-linux.md#namespaces", "a namespace path of the wrong type is an error")
def join_wrong_type(ctx: Ctx) -> None:
    pid = _holder(ctx, ["--ipc"])
    b = ctx.bundle()
    b.namespace("uts")["path"] = f"/proc/{pid}/ns/ipc"  # type: ignore[index]
    ctx.expect_create_error(b, "uts namespace path points at an ipc namespace")


@check("config-linux.md#namespaces", "duplicate namespace types are an error")
def duplicate_ns(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "ipc"})
    ctx.expect_create_error(b, "ipc namespace listed twice")


@check("config-linux.md#namespaces", "in a new pid namespace the process is pid 1")
def pid_ns_init(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, ["ids"])
    expect_eq(out.need("pid"), "1", "getpid() in the new pid namespace")


@check("config-linux.md#namespaces", "a new network namespace has only the loopback interface")
def net_ns_lo(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, ["list", "/sys/class/net"])
    expect_eq(out.need("list./sys/class/net").split(), ["lo"], "network interfaces")


@check("config-linux.md#namespaces", "in a new cgroup namespace the process sees its cgroup as /")
def cgroup_ns_root(ctx: Ctx) -> None:
    ctx.require_namespace("cgroup")
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "cgroup"})
    out = ctx.probe(b, ["file", "/proc/self/cgroup"])
    lines = [ln for ln in out.need("file./proc/self/cgroup").splitlines() if ln]
    bad = [ln for ln in lines if ln.split(":", 2)[2] != "/"]
    expect(not bad, f"cgroup paths other than / inside the cgroup namespace: {bad}")


@check("config-linux.md#user-namespace-mappings", "uidMappings and gidMappings are written to uid_map and gid_map")
def userns_mappings(ctx: Ctx) -> None:
    ctx.require_namespace("user")
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "user"})
    require_traversable(b.path)
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000},
                              {"containerID": 1000, "hostID": 200000, "size": 10}]
    b.linux["gidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 2000}]
    out = ctx.probe(b, ["file", "/proc/self/uid_map"], ["file", "/proc/self/gid_map"], ["status"])
    uid = sorted(tuple(ln.split()) for ln in out.need("file./proc/self/uid_map").splitlines() if ln.strip())
    gid = sorted(tuple(ln.split()) for ln in out.need("file./proc/self/gid_map").splitlines() if ln.strip())
    expect_eq(uid, [("0", "100000", "1000"), ("1000", "200000", "10")], "uid_map")
    expect_eq(gid, [("0", "300000", "2000")], "gid_map")
    expect_eq(out.need("status.Uid"), "0 0 0 0", "Uid inside the user namespace")


@check("config-linux.md#user-namespace-mappings", "the runtime does not chown the rootfs to realise the mapping (SHOULD NOT)")
def userns_no_chown(ctx: Ctx) -> None:
    ctx.require_namespace("user")
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "user"})
    require_traversable(b.path)
    b.linux["uidMappings"] = list(MAPPING)
    b.linux["gidMappings"] = list(MAPPING)
    out = ctx.probe(b, ["stat", "/conformance-rootfs"])
    st = (b.rootfs / "conformance-rootfs").stat()
    expect_eq((st.st_uid, st.st_gid), (0, 0), "host owner of a rootfs file after the run")
    expect(" uid=65534 gid=65534 " in out.need("stat./conformance-rootfs"),
           f"unmapped host root should appear as the overflow id: {out['stat./conformance-rootfs']}")


@check("config-linux.md#offset-for-time-namespace", "timeOffsets shift the container's monotonic clock", since="1.1.0")
def time_offsets(ctx: Ctx) -> None:
    ctx.require_namespace("time")
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "time"})
    b.linux["timeOffsets"] = {"monotonic": {"secs": 864000, "nanosecs": 0}}
    before = time.clock_gettime(time.CLOCK_MONOTONIC)
    out = ctx.probe(b, ["clock"])
    got = int(out.need("clock.monotonic"))
    if got < before + 864000 - 5:
        raise Fail(f"monotonic clock inside {got}s, host {before:.0f}s: offset 864000s not applied")
