import json
import os

import click

from pyrunc.container import list_containers


@click.command(name="list", help="lists containers started by pyrunc with the given root")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True, help="display only container IDs")
@click.pass_obj
def command(g, fmt: str, quiet: bool) -> None:
    containers = list_containers(g.store())
    if quiet:
        for c in containers:
            click.echo(c.id)
        return
    rows = []
    for c in containers:
        st = c.state_json()
        rows.append({
            "ociVersion": st["ociVersion"], "id": c.id, "pid": st.get("pid", 0), "status": st["status"],
            "bundle": c.bundle, "rootfs": st["rootfs"], "created": st["created"], "owner": st["owner"],
            "annotations": st.get("annotations") or {},
        })
    if fmt == "json":
        click.echo(json.dumps(rows))
        return
    lines = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    for r in rows:
        lines.append((r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]))
    widths = [max(len(l[i]) for l in lines) for i in range(len(lines[0]))]
    for l in lines:
        click.echo("   ".join(v.ljust(w) for v, w in zip(l, widths)).rstrip())
