import click

from pyrunc.container import Container


@click.command(help="executes the user defined process in a created container")
@click.argument("container_id")
@click.pass_obj
def command(g, container_id: str) -> None:
    Container.load(g.store(), container_id).start()
