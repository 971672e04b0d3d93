"""pyrunc resume ID: thaw a paused container."""
from __future__ import annotations

import click

from pyrunc import actions


@click.command("resume", short_help="resumes all processes that have been previously paused")
@click.argument("container_id", metavar="<container-id>")
@click.pass_obj
def command(g, container_id: str) -> None:
    actions.resume(g, container_id)
