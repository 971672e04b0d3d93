"""pyrunc update [flags] [--resources FILE|-] ID: change cgroup limits of a
running container (runc's flags) and record them in its state."""
from __future__ import annotations

import click

_FLAGS = [
    ("--blkio-weight", "Specifies per cgroup weight, range is from 10 to 1000"),
    ("--cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
    ("--cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("--cpu-burst", "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"),
    ("--cpu-share", "CPU shares (relative weight vs. other containers)"),
    ("--cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
    ("--cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"),
    ("--cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("--cpuset-cpus", "CPU(s) to use"),
    ("--cpuset-mems", "Memory node(s) to use"),
    ("--kernel-memory", "(obsoleted; do not use)"),
    ("--kernel-memory-tcp", "(obsoleted; do not use)"),
    ("--memory", "Memory limit (in bytes)"),
    ("--memory-reservation", "Memory reservation or soft_limit (in bytes)"),
    ("--memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
    ("--pids-limit", "Maximum number of pids allowed in the container"),
    ("--l3-cache-schema", "The string of Intel RDT/CAT L3 cache schema"),
    ("--mem-bw-schema", "The string of Intel RDT/MBA memory bandwidth schema"),
]


def _options(f):
    for flag, help_ in reversed(_FLAGS):
        f = click.option(flag, default=None, help=help_)(f)
    return f


@click.command("update", short_help="update container resource constraints")
@click.option("-r", "--resources", default=None, help="path to the file containing the resources to update or '-' to read from the standard input")
@_options
@click.argument("container_id", metavar="<container-id>")
@click.pass_context
def command(ctx: click.Context, resources: str | None, container_id: str, **flags: str | None) -> None:
    from pyrunc.cgroups import ops
    from pyrunc.cgroups.update import delta_from_flags, read_resources

    from pyrunc import log

    delta = read_resources(resources) if resources else delta_from_flags(flags)
    log.debug(f"update {container_id}: resources {delta}")
    merged = ops.update(ctx.obj.root, container_id, delta)
    log.debug(f"update {container_id}: written; now in force: {merged}")
