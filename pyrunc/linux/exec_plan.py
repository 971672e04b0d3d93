"""The plan for `exec`: a new process inside a running container.

The launcher joins the container's cgroup (or a sub-cgroup), then every
namespace of the container through /proc/<init>/ns/* (user first, so it
grants the rights to join the rest; mount last, since it changes path
resolution), and forks (OP_CLONE with no flags): the child is born in the
joined pid and time namespaces.  The child then gets the process spec's
attributes, identity, capabilities, seccomp filter and cwd, like the init
does in `plan.build_plan`, and execs.

Pure like plan.py: everything it needs comes in through `ExecContext`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from pyrunc.errors import ConfigError
from pyrunc.linux import ops as o
from pyrunc.linux.namespaces import JOIN_ORDER, NAMESPACES
from pyrunc.linux.plan import (
    DEFAULT_PATH,
    Plan,
    PlanContext,
    _env_value,
    _identity,
    _namespaces,
    _no_warn,
    _process_attrs,
    _seccomp,
    _user_files,
    home_from_passwd,
)


@dataclass
class ExecContext:
    config: dict  # the container's config (as stored at create)
    process: dict  # the runtime-spec process to run
    init_pid: int  # host pid of the container's init
    container_id: str
    cgroup_procs: list[str] = field(default_factory=list)
    console_fd: int | None = None
    preserve_fds: int = 0  # fds 3.. 3+N-1 stay open in the process
    late_cgroup: bool = False  # the cgroup is frozen: join it last, after "ready"
    rootless: bool = False
    warn: Callable[[str], None] = _no_warn


def namespace_paths(config: dict, init_pid: int) -> list[tuple[str, int]]:
    """(path, clone flag) of every namespace to join, in join order."""
    linux = config.get("linux") or {}
    nss = _namespaces(linux)
    out = []
    for kind in JOIN_ORDER:
        if kind not in nss:
            continue
        flag, name = NAMESPACES[kind]
        out.append((f"/proc/{init_pid}/ns/{name}", flag))
    return out


def build_exec_plan(ctx: ExecContext) -> Plan:
    config = ctx.config
    linux = config.get("linux") or {}
    process = ctx.process
    plan = Plan()

    args = process.get("args") or []
    if not args:
        raise ConfigError("process.args", "must not be empty")

    # --- launcher: cgroup first (paths are host paths: before the mount
    # namespace is joined), then the namespaces, then fork.
    aff = process.get("execCPUAffinity") or {}
    if aff.get("initial"):
        from pyrunc.linux.process_attrs import mask_to_id_list, resolve_exec_cpu_affinity

        a = resolve_exec_cpu_affinity(aff)
        if a and a.initial:
            plan.add(o.OP_CPU_AFFINITY, mask_to_id_list(a.initial))
    if not ctx.late_cgroup:
        for procs in ctx.cgroup_procs:
            plan.add(o.OP_CGROUP_JOIN, procs)
    for path, flag in namespace_paths(config, ctx.init_pid):
        plan.add(o.OP_SETNS, path, flag)
    plan.add(o.OP_CLONE, 0, "", "", "", 0)

    # --- the child, inside the container
    plan.add(o.OP_SETSID)
    from pyrunc.linux.process_attrs import resolve_rlimits

    for rl in resolve_rlimits(process.get("rlimits")):
        plan.add(o.OP_RLIMIT, rl.resource, rl.soft, rl.hard)
    oom = process.get("oomScoreAdj")
    if oom is not None:
        plan.add(o.OP_OOM_SCORE_ADJ, oom)
    if process.get("terminal") and ctx.console_fd is not None:
        size = process.get("consoleSize") or {}
        plan.add(o.OP_CONSOLE, ctx.console_fd, size.get("height", 0), size.get("width", 0), 0)

    pctx = PlanContext(config=config, bundle="", container_id=ctx.container_id, rootless=ctx.rootless,
                       warn=ctx.warn)
    _process_attrs(plan, pctx, process, linux)
    _user_files(plan, process)
    nnp = bool(process.get("noNewPrivileges"))
    seccomp_op = _seccomp(plan, pctx, linux)
    if seccomp_op and not nnp:
        plan.add(*seccomp_op)
    userns = "user" in _namespaces(linux)
    # A rootless container's user namespace denies setgroups.
    _identity(plan, pctx, process, ctx.rootless and userns)
    if nnp:
        plan.add(o.OP_NO_NEW_PRIVS)
    user = process.get("user") or {}
    if user.get("umask") is not None:
        plan.add(o.OP_UMASK, f"{user['umask']:o}")
    else:
        plan.add(o.OP_UMASK, "22")
    plan.add(o.OP_CWD, process.get("cwd") or "/")
    env = list(process.get("env") or [])
    plan.add(o.OP_FIND_EXEC, args[0], _env_value(env, "PATH") or DEFAULT_PATH)
    if seccomp_op and nnp:
        plan.add(*seccomp_op)
    plan.add(o.OP_READY)
    if ctx.late_cgroup:
        for procs in ctx.cgroup_procs:
            plan.add(o.OP_CGROUP_JOIN_LATE, procs)
    if aff.get("final"):
        from pyrunc.linux.process_attrs import mask_to_id_list, resolve_exec_cpu_affinity

        a = resolve_exec_cpu_affinity(aff)
        if a and a.final:
            plan.add(o.OP_CPU_AFFINITY, mask_to_id_list(a.final))
    plan.add(o.OP_CLOSE_FDS, 3 + ctx.preserve_fds)
    env, _ = home_from_passwd(env)  # _identity planned OP_HOME when needed (runc, also for exec)
    plan.add(o.OP_EXEC, o.nul_list(args), o.nul_list(env))
    return plan
