import sys

import click

from pyrunc.create import CreateOptions
from pyrunc.runner import run


@click.command(help="create and run a container")
@click.option("-b", "--bundle", default=".", help="path to the root of the bundle directory")
@click.option("--console-socket", default=None, help="AF_UNIX socket receiving the pty master")
@click.option("-d", "--detach", is_flag=True, help="detach from the container's process")
@click.option("--pid-file", default=None, help="file to write the process id to")
@click.option("--keep", is_flag=True, help="do not delete the container after it exits")
@click.option("--no-subreaper", is_flag=True, help="disable the use of the subreaper to reap reparented processes")
@click.option("--no-pivot", is_flag=True, help="do not use pivot_root (MS_MOVE + chroot)")
@click.option("--no-new-keyring", is_flag=True, help="do not create a new session keyring")
@click.option("--preserve-fds", default=0, type=click.IntRange(min=0), help="pass N additional fds (from 3)")
@click.argument("container_id")
@click.pass_obj
def command(g, bundle, console_socket, detach, pid_file, keep, no_subreaper, no_pivot, no_new_keyring,
            preserve_fds, container_id) -> None:
    if detach and keep:
        raise click.UsageError("--detach and --keep cannot be used together")
    code = run(g.store(), container_id, CreateOptions(
        bundle=bundle, pid_file=pid_file, console_socket=console_socket, no_pivot=no_pivot,
        no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, rootless=g.rootless,
        systemd_cgroup=g.systemd_cgroup), detach=detach, keep=keep, subreaper=not no_subreaper)
    sys.exit(code)
