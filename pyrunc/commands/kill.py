import click

from pyrunc import actions


@click.command(help="send a signal (default SIGTERM) to the container's init process")
@click.option("-a", "--all", "all_", is_flag=True, help="send the signal to all processes in the container")
@click.argument("container_id")
@click.argument("signal", default="SIGTERM")
@click.pass_obj
def command(g, all_: bool, container_id: str, signal: str) -> None:
    actions.kill(g, container_id, signal, all_)
