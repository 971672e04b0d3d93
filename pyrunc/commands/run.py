import sys
from typing import Any

import click

from pyrunc import actions
from pyrunc.commands.create import create_options


@click.command(help="create and run a container")
@create_options
@click.option("-d", "--detach", is_flag=True, help="detach from the container's process")
@click.option("--keep", is_flag=True, help="do not delete the container after it exits")
@click.option("--no-subreaper", is_flag=True, help="disable the use of the subreaper to reap reparented processes")
@click.argument("container_id")
@click.pass_obj
def command(g: Any, container_id: str, detach: bool, keep: bool, no_subreaper: bool, **kw: Any) -> None:
    if detach and keep:
        raise click.UsageError("--detach and --keep cannot be used together")
    sys.exit(actions.run(g, container_id, detach=detach, keep=keep, no_subreaper=no_subreaper, **kw))
