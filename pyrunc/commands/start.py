import click

from pyrunc import actions


@click.command(help="executes the user defined process in a created container")
@click.argument("container_id")
@click.pass_obj
def command(g, container_id: str) -> None:
    actions.start(g, container_id)
