import click

from pyrunc.container import Container
from pyrunc.errors import ContainerNotFound


@click.command(help="delete any resources held by the container")
@click.option("-f", "--force", is_flag=True, help="forcibly delete the container if it is still running (uses SIGKILL)")
@click.argument("container_id")
@click.pass_obj
def command(g, force: bool, container_id: str) -> None:
    store = g.store()
    try:
        c = Container.load(store, container_id)
    except ContainerNotFound:
        if force:
            return
        raise
    c.delete(force)
