from typing import Any, Callable

import click

from pyrunc import actions

_OPTIONS = [
    click.option("-b", "--bundle", default=".", help="path to the root of the bundle directory"),
    click.option("--console-socket", default=None, help="AF_UNIX socket receiving the pty master"),
    click.option("--pidfd-socket", default=None, help="AF_UNIX socket receiving a pidfd of the container's init"),
    click.option("--pid-file", default=None, help="file to write the process id to"),
    click.option("--no-pivot", is_flag=True, help="do not use pivot_root (MS_MOVE + chroot)"),
    click.option("--no-new-keyring", is_flag=True, help="do not create a new session keyring"),
    click.option("--preserve-fds", default=0, type=click.IntRange(min=0), help="pass N additional fds (from 3)"),
]


def create_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options `create` and `run` share."""
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


@click.command(help="create a container")
@create_options
@click.argument("container_id")
@click.pass_obj
def command(g: Any, container_id: str, **kw: Any) -> None:
    actions.create(g, container_id, **kw)
