"""The command line: a click group with runc's global flags that loads each
command's module only when that command runs (so `state` never imports
what `create` needs).  Commands parse, call the library, print."""
from __future__ import annotations

import os
import sys

import click

from pyrunc import SPEC_VERSION, __version__

COMMANDS: dict[str, str] = {
    "checkpoint": "checkpoint",
    "create": "create",
    "delete": "delete",
    "events": "events",
    "exec": "exec",
    "features": "features",
    "kill": "kill",
    "list": "list",
    "pause": "pause",
    "plan": "plan",
    "ps": "ps",
    "restore": "restore",
    "resume": "resume",
    "run": "run",
    "spec": "spec",
    "start": "start",
    "state": "state",
    "update": "update",
    "validate": "validate",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        mod = COMMANDS.get(name)
        if mod is None:
            return None
        import importlib

        module = importlib.import_module(f"pyrunc.commands.{mod}")
        if mod == "unsupported":
            return module.make(name)
        return module.command

    def invoke(self, ctx: click.Context):
        from pyrunc.invocation import guarded

        return guarded(lambda: super(LazyGroup, self).invoke(ctx),
                       (click.exceptions.Exit, click.exceptions.Abort, click.ClickException))


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"pyrunc version {__version__}\nspec: {SPEC_VERSION}")
    try:
        from pyrunc.linux.seccomp import libseccomp_version

        click.echo(f"libseccomp: {libseccomp_version()}")
    except Exception:
        pass
    ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=None, help="root directory for container state (default /run/pyrunc)")
@click.option("--log", "log_file", default=None, help="log file (default stderr)")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text")
@click.option("--debug", is_flag=True, help="debug logging")
@click.option("--systemd-cgroup", is_flag=True, help="use the systemd cgroup driver (a transient scope unit per container)")
@click.option("--rootless", type=click.Choice(["true", "false", "auto"]), default="auto")
@click.option("--criu", default=None, hidden=True)
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_version)
@click.pass_context
def main(ctx: click.Context, root: str | None, log_file: str | None, log_format: str, debug: bool,
         systemd_cgroup: bool, rootless: str, criu: str | None) -> None:
    """pyrunc: an OCI runtime-spec v1.3.0 container runtime (runc-compatible CLI)."""
    from pyrunc.invocation import make_globals

    ctx.obj = make_globals(root, log_file, log_format, debug, rootless, systemd_cgroup, ctx.invoked_subcommand)
