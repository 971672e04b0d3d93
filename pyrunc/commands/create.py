import click

from pyrunc.create import CreateOptions, create


@click.command(help="create a container")
@click.option("-b", "--bundle", default=".", help="path to the root of the bundle directory")
@click.option("--pid-file", default=None, help="file to write the process id to")
@click.option("--console-socket", default=None, help="AF_UNIX socket receiving the pty master")
@click.option("--no-pivot", is_flag=True, help="do not use pivot_root (MS_MOVE + chroot)")
@click.option("--no-new-keyring", is_flag=True, help="do not create a new session keyring")
@click.option("--preserve-fds", default=0, type=click.IntRange(min=0), help="pass N additional fds (from 3)")
@click.argument("container_id")
@click.pass_obj
def command(g, bundle, pid_file, console_socket, no_pivot, no_new_keyring, preserve_fds, container_id) -> None:
    create(g.store(), container_id, CreateOptions(
        bundle=bundle, pid_file=pid_file, console_socket=console_socket, no_pivot=no_pivot,
        no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, rootless=g.rootless,
        systemd_cgroup=g.systemd_cgroup))
