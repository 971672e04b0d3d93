"""The exec plan's order, checked without running it: cgroup before any
namespace, user namespace first, mount last, a flagless fork, the process
spec's identity and the late cgroup join for a paused container."""
from __future__ import annotations

from pyrunc.linux import ops as o
from pyrunc.linux.exec_plan import ExecContext, build_exec_plan
from pyrunc.linux.namespaces import CLONE_NEWNS, CLONE_NEWUSER


def config(*kinds: str) -> dict:
    return {"ociVersion": "1.3.0", "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": k} for k in kinds]}}


def process(**kw) -> dict:
    p = {"args": ["sh", "-c", "true"], "env": ["PATH=/bin"], "cwd": "/work", "user": {"uid": 5, "gid": 6}}
    p.update(kw)
    return p


def codes(plan) -> list[int]:
    return [op[0] for op in plan.ops]


def test_launcher_joins_cgroup_then_user_first_then_mount_last_then_forks():
    ctx = ExecContext(config=config("pid", "mount", "network", "user", "time", "cgroup"), process=process(),
                      init_pid=4242, container_id="c", cgroup_procs=["/sys/fs/cgroup/x/cgroup.procs"])
    ops = build_exec_plan(ctx).ops
    clone = codes(build_exec_plan(ctx)).index(o.OP_CLONE)
    launcher = ops[:clone]
    assert launcher[0] == (o.OP_CGROUP_JOIN, "/sys/fs/cgroup/x/cgroup.procs")
    setns = [op for op in launcher if op[0] == o.OP_SETNS]
    assert setns[0] == (o.OP_SETNS, "/proc/4242/ns/user", CLONE_NEWUSER)
    assert setns[-1] == (o.OP_SETNS, "/proc/4242/ns/mnt", CLONE_NEWNS)
    assert {op[1] for op in setns} == {f"/proc/4242/ns/{n}" for n in ("user", "pid", "net", "time", "cgroup", "mnt")}
    assert ops[clone] == (o.OP_CLONE, 0, "", "", "", 0)


def test_child_gets_identity_cwd_and_execs_last():
    plan = build_exec_plan(ExecContext(config=config("pid"), process=process(), init_pid=1, container_id="c",
                                       preserve_fds=2))
    c = codes(plan)
    # process.cwd: tried as root before the identity switch, again after it (runc)
    assert c.index(o.OP_CWD) < c.index(o.OP_SETGID) < c.index(o.OP_SETUID) < len(c) - 1 - c[::-1].index(o.OP_CWD) < c.index(o.OP_READY)
    assert (o.OP_SETUID, 5) in plan.ops and (o.OP_SETGID, 6) in plan.ops and (o.OP_CWD, "/work") in plan.ops
    assert (o.OP_CWD, "/work", 1) in plan.ops
    assert (o.OP_CLOSE_FDS, 5) in plan.ops
    assert c[-1] == o.OP_EXEC
    env = plan.ops[-1][2].split(b"\0")
    # no HOME: the init reads the user's from the container's /etc/passwd (runc), "/" without an entry
    assert not any(e.startswith(b"HOME=") for e in env) and (o.OP_HOME, 5) in plan.ops


def test_paused_container_joins_the_cgroup_after_ready():
    ctx = ExecContext(config=config("pid"), process=process(), init_pid=1, container_id="c",
                      cgroup_procs=["/a/cgroup.procs", "/b/cgroup.procs"], late_cgroup=True)
    plan = build_exec_plan(ctx)
    c = codes(plan)
    assert o.OP_CGROUP_JOIN not in c
    late = [op for op in plan.ops if op[0] == o.OP_CGROUP_JOIN_LATE]
    assert [op[1] for op in late] == ["/a/cgroup.procs", "/b/cgroup.procs"]
    assert c.index(o.OP_READY) < c.index(o.OP_CGROUP_JOIN_LATE) < c.index(o.OP_EXEC)


def test_console_is_set_up_only_with_a_terminal():
    base = dict(config=config("pid"), init_pid=1, container_id="c", console_fd=9)
    with_tty = build_exec_plan(ExecContext(process=process(terminal=True, consoleSize={"height": 3, "width": 4}),
                                           **base))
    assert (o.OP_CONSOLE, 9, 3, 4, 0) in with_tty.ops  # 0: exec does not rebind /dev/console
    assert o.OP_CONSOLE not in codes(build_exec_plan(ExecContext(process=process(), **base)))
