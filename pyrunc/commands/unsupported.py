import click

from pyrunc.errors import UnsupportedError


def make(name: str) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   help=f"{name} (not supported: needs CRIU, which cannot run on this kernel)")
    @click.pass_context
    def command(ctx: click.Context) -> None:
        raise UnsupportedError(f"{name} (checkpoint/restore with CRIU)")

    return command
