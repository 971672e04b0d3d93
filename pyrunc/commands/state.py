import json

import click

from pyrunc.container import Container


@click.command(help="output the state of a container")
@click.argument("container_id")
@click.pass_obj
def command(g, container_id: str) -> None:
    c = Container.load(g.store(), container_id)
    click.echo(json.dumps(c.state_json(), indent=2))
