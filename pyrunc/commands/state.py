import click

from pyrunc import actions


@click.command(help="output the state of a container")
@click.argument("container_id")
@click.pass_obj
def command(g, container_id: str) -> None:
    click.echo(actions.state(g, container_id))
