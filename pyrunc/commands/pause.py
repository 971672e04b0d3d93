"""pyrunc pause ID: freeze every process of the container."""
from __future__ import annotations

import click

from pyrunc import actions


@click.command("pause", short_help="pause suspends all processes inside the container")
@click.argument("container_id", metavar="<container-id>")
@click.pass_obj
def command(g, container_id: str) -> None:
    actions.pause(g, container_id)
