"""pyrunc pause ID: freeze every process of the container."""
from __future__ import annotations

import click


@click.command("pause", short_help="pause suspends all processes inside the container")
@click.argument("container_id", metavar="<container-id>")
@click.pass_context
def command(ctx: click.Context, container_id: str) -> None:
    from pyrunc.cgroups import ops

    ops.pause(ctx.obj.root, container_id)
