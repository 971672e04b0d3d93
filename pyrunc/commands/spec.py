import json
import os

import click

from pyrunc.errors import PyruncError


@click.command(help="create a new specification file (config.json)")
@click.option("-b", "--bundle", default=".", help="path to the root of the bundle directory")
@click.option("--rootless", is_flag=True, help="generate a configuration for a rootless container")
def command(bundle: str, rootless: bool) -> None:
    from pyrunc.spec.default import default_spec

    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise PyruncError(f"File {path} exists. Remove it first")
    with open(path, "w") as f:
        json.dump(default_spec(rootless), f, indent="\t")
