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
            remove_leftover(store, container_id)
            return
        raise
    c.delete(force)


def remove_leftover(store, cid: str) -> None:
    """A state dir without state.json: a create killed before it wrote
    anything (it records the cgroup before making it, so nothing else
    exists yet).  --force removes the dir."""
    import os

    from pyrunc.store import STATE_FILE

    with store.lock(cid, missing_ok=True) as present:
        if present and not os.path.exists(store.path(cid, STATE_FILE)):
            store.remove(cid)
