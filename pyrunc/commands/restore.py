import sys
from typing import Any

import click


@click.command(help="restore a container from a previous checkpoint (CRIU)")
@click.option("--console-socket", default=None, help="AF_UNIX socket receiving the pty master")
@click.option("--image-path", default="", help="path to criu image files for restoring")
@click.option("--work-path", default="", help="path for saving work files and logs")
@click.option("--tcp-established", is_flag=True, help="allow open tcp connections")
@click.option("--ext-unix-sk", is_flag=True, help="allow external unix sockets")
@click.option("--shell-job", is_flag=True, help="allow shell jobs")
@click.option("--file-locks", is_flag=True, help="handle file locks, for safety")
@click.option("--manage-cgroups-mode", default="", help="cgroups mode: soft|full|strict|ignore (default: soft)")
@click.option("-b", "--bundle", default=".", help="path to the root of the bundle directory")
@click.option("-d", "--detach", is_flag=True, help="detach from the container's process")
@click.option("--pid-file", default=None, help="file to write the process id to")
@click.option("--no-subreaper", is_flag=True, help="disable the use of the subreaper to reap reparented processes")
@click.option("--no-pivot", is_flag=True, help="do not use pivot root to jail process inside rootfs")
@click.option("--empty-ns", multiple=True, help="create a namespace, but don't restore its properties")
@click.option("--auto-dedup", is_flag=True, help="enable auto deduplication of memory images")
@click.option("--lazy-pages", is_flag=True, help="use userfaultfd to lazily restore memory pages")
@click.argument("container_id")
@click.pass_context
def command(ctx: click.Context, container_id: str, console_socket: Any, bundle: str, detach: bool,
            pid_file: Any, no_subreaper: bool, no_pivot: bool, **kw: Any) -> None:
    from pyrunc.checkpoint import CheckpointOptions, RestoreOptions, restore

    g = ctx.obj
    criu = (ctx.parent.params.get("criu") if ctx.parent else None) or "criu"
    r = RestoreOptions(bundle=bundle, console_socket=console_socket, detach=detach, pid_file=pid_file,
                       no_subreaper=no_subreaper, no_pivot=no_pivot, rootless=g.rootless)
    sys.exit(restore(g.store(), container_id, CheckpointOptions(criu=criu, **kw), r))
