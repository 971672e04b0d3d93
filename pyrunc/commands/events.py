"""pyrunc events [--stats] [--interval D] ID: runc's JSON event stream."""
from __future__ import annotations

import json
import sys

import click


@click.command("events", short_help="display container events such as OOM notifications, cpu, memory, and IO usage statistics")
@click.option("--interval", default="5s", show_default=True, help="set the stats collection interval")
@click.option("--stats", "stats_only", is_flag=True, help="display the container's stats then exit")
@click.argument("container_id", metavar="<container-id>")
@click.pass_context
def command(ctx: click.Context, interval: str, stats_only: bool, container_id: str) -> None:
    from pyrunc.cgroups import ops
    from pyrunc.cgroups.units import go_duration
    from pyrunc.errors import ConfigError

    secs = go_duration(interval, "--interval")
    if secs <= 0:
        raise ConfigError("--interval", "duration interval must be greater than 0")

    def emit(ev: dict) -> None:
        sys.stdout.write(json.dumps(ev, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    from pyrunc import log

    log.debug(f"events {container_id}: " + ("stats once" if stats_only else f"every {secs} s until it stops"))
    ops.events(ctx.obj.root, container_id, stats_only, secs, emit)
