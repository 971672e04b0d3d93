import json

import click


@click.command(help="show the runtime-spec features document of this runtime (features.md)")
def command() -> None:
    from pyrunc.features import features

    click.echo(json.dumps(features(), indent=4))
