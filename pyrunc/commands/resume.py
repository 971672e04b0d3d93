"""pyrunc resume ID: thaw a paused container."""
from __future__ import annotations

import click


@click.command("resume", short_help="resumes all processes that have been previously paused")
@click.argument("container_id", metavar="<container-id>")
@click.pass_context
def command(ctx: click.Context, container_id: str) -> None:
    from pyrunc.cgroups import ops

    ops.resume(ctx.obj.root, container_id)
