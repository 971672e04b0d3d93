"""`pyrunc validate [--bundle DIR]`: check a bundle without running it.

Prints one line per problem (schema errors with the JSON path of each, then
the create-time checks; warnings start with "warning: "), then a summary.
Exits 1 when there is an error, 0 otherwise (warnings alone do not fail).

`command` is the click command (the CLI loads it from pyrunc/commands/validate.py
with `from pyrunc.spec.validate import command`); `python3 -m pyrunc.spec.validate`
runs it standalone.
"""
from __future__ import annotations

import sys

import click


def report(bundle: str, quiet: bool = False) -> int:
    """Print the bundle's problems; return the exit status."""
    from pyrunc.spec.load import check_bundle

    found = check_bundle(bundle)
    errors = [p for p in found if not p.warning]
    for problem in found:
        click.echo(str(problem))
    if not quiet:
        warnings = len(found) - len(errors)
        if errors:
            click.echo(f"{bundle}: {len(errors)} error(s), {warnings} warning(s)")
        else:
            click.echo(f"{bundle}: valid ({warnings} warning(s))")
    return 1 if errors else 0


@click.command(name="validate", help="Check a bundle's config.json without creating a container.")
@click.option(
    "--bundle", "-b", default=".", show_default=True,
    help="path to the root of the bundle directory",
)  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="print the problems only, no summary line")
def command(bundle: str, quiet: bool) -> None:
    sys.exit(report(bundle, quiet))


if __name__ == "__main__":
    command()
