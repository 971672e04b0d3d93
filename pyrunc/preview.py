"""The plan `create` would run for a bundle, built without creating
anything: no state dir, cgroup, fifo or process (`pyrunc plan`)."""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyrunc.linux.plan import Plan


def preview_plan(bundle: str, container_id: str = "preview", *, preserve_fds: int = 0, no_pivot: bool = False,
                 no_new_keyring: bool = False, rootless: bool = False, systemd_cgroup: bool = False,
                 console_socket: bool = False, gate: bool = True, foreground: bool = False) -> tuple[dict, "Plan"]:
    """(config, plan) as `create` would build them for this bundle on this
    host.  File descriptors are the numbers create would use: the exec
    fifos right above the preserved fds, the console socket after them.
    `foreground`: as `run` without -d, which makes its own pty for a
    terminal (so a terminal needs no console socket)."""
    from pyrunc import cgroups
    from pyrunc.cgroups.detect import detect
    from pyrunc.create import CreateOptions, _caller_umask, cgroup_mounts, precheck
    from pyrunc.linux.plan import PlanContext, build_plan
    from pyrunc.spec.load import load_config
    from pyrunc.store import validate_id

    validate_id(container_id)
    bundle = os.path.abspath(bundle)
    config = load_config(bundle)
    linux = config.get("linux") or {}
    process = config.get("process") or {}
    if foreground and process.get("terminal"):
        console_socket = True  # `run` makes its own pty
    precheck(config, CreateOptions(bundle, console_socket="<socket>" if console_socket else None,
                                   rootless=rootless, preserve_fds=preserve_fds))
    mgr = cgroups.manager_for(linux.get("cgroupsPath"), container_id, rootless=rootless, systemd=systemd_cgroup)
    first = 3 + preserve_fds
    fifo_fds = (first, first + 1) if gate else None
    console_fd = (first + 2 if gate else first) if process.get("terminal") and console_socket else None
    ctx = PlanContext(
        config=config, bundle=bundle, container_id=container_id, fifo_fds=fifo_fds,
        caller_umask=_caller_umask(), cgroup_procs=mgr.procs_files(), cgroup_mounts=cgroup_mounts(mgr, detect()),
        console_fd=console_fd, preserve_fds=preserve_fds, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
        rootless=rootless, host_has_kcore=os.path.exists("/proc/kcore"),
    )
    return config, build_plan(ctx)
