import click


@click.command(help="print the operations the init would perform for a bundle, in order, without creating anything")
@click.option("--bundle", "-b", default=".", help="path to the root of the bundle directory")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--id", "container_id", default="preview", show_default=True,
              help="the container id the plan is made for (it names the cgroup)")
@click.option("--preserve-fds", type=int, default=0, help="as for create")
@click.option("--no-pivot", is_flag=True, help="as for create")
@click.option("--no-new-keyring", is_flag=True, help="as for create")
@click.option("--console-socket", is_flag=True, help="plan as if create got a --console-socket")
@click.option("--as", "as_", type=click.Choice(["run", "create"]), default="run", show_default=True,
              help="plan as `run` in the foreground would (its own pty for a terminal), or as `create` "
                   "(which refuses a terminal without --console-socket)")
@click.pass_obj
def command(g, bundle: str, fmt: str, container_id: str, preserve_fds: int, no_pivot: bool,
            no_new_keyring: bool, console_socket: bool, as_: str) -> None:
    from pyrunc.linux.plan_view import describe, render_text
    from pyrunc.preview import preview_plan

    config, plan = preview_plan(bundle, container_id, preserve_fds=preserve_fds, no_pivot=no_pivot,
                                no_new_keyring=no_new_keyring, rootless=g.rootless,
                                systemd_cgroup=g.systemd_cgroup, console_socket=console_socket,
                                foreground=as_ == "run")
    records = describe(config, plan)
    if fmt == "json":
        from pyrunc import jsontext

        click.echo(jsontext.dumps({"ociVersion": config.get("ociVersion"), "ops": records}))
    else:
        click.echo(render_text(records))
