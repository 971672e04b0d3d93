"""pyrunc ps [--format table|json] ID [ps options]."""
from __future__ import annotations

import click


@click.command(
    "ps",
    short_help="ps displays the processes running inside a container",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.argument("container_id", metavar="<container-id>")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def command(ctx: click.Context, fmt: str, container_id: str, ps_args: tuple[str, ...]) -> None:
    from pyrunc import actions

    click.echo(actions.ps(ctx.obj, container_id, fmt, ps_args), nl=False)
