import click

from pyrunc import actions


@click.command(name="list", help="lists containers started by pyrunc with the given root")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True, help="display only container IDs")
@click.pass_obj
def command(g, fmt: str, quiet: bool) -> None:
    click.echo(actions.list_(g, fmt, quiet), nl=False)
