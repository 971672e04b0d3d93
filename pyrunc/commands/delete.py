import click

from pyrunc import actions


@click.command(help="delete any resources held by the container")
@click.option("-f", "--force", is_flag=True, help="forcibly delete the container if it is still running (uses SIGKILL)")
@click.argument("container_id")
@click.pass_obj
def command(g, force: bool, container_id: str) -> None:
    actions.delete(g, container_id, force)
