from typing import Any

import click


@click.command(help="checkpoint a running container (CRIU)")
@click.option("--image-path", default="", help="path for saving criu image files")
@click.option("--work-path", default="", help="path for saving work files and logs")
@click.option("--parent-path", default="", help="path for previous criu image files in pre-dump")
@click.option("--leave-running", is_flag=True, help="leave the process running after checkpointing")
@click.option("--tcp-established", is_flag=True, help="allow open tcp connections")
@click.option("--ext-unix-sk", is_flag=True, help="allow external unix sockets")
@click.option("--shell-job", is_flag=True, help="allow shell jobs")
@click.option("--lazy-pages", is_flag=True, help="use userfaultfd to lazily restore memory pages")
@click.option("--status-fd", default=-1, type=int, help="criu writes \\0 to this FD once lazy-pages is ready")
@click.option("--page-server", default="", help="ADDRESS:PORT of the page server")
@click.option("--file-locks", is_flag=True, help="handle file locks, for safety")
@click.option("--pre-dump", is_flag=True, help="dump container's memory information only, leave the container running")
@click.option("--manage-cgroups-mode", default="", help="cgroups mode: soft|full|strict|ignore (default: soft)")
@click.option("--empty-ns", multiple=True, help="create a namespace, but don't restore its properties")
@click.option("--auto-dedup", is_flag=True, help="enable auto deduplication of memory images")
@click.argument("container_id")
@click.pass_context
def command(ctx: click.Context, container_id: str, **kw: Any) -> None:
    from pyrunc.checkpoint import CheckpointOptions, checkpoint

    g = ctx.obj
    criu = (ctx.parent.params.get("criu") if ctx.parent else None) or "criu"
    checkpoint(g.store(), container_id, CheckpointOptions(criu=criu, **kw))
