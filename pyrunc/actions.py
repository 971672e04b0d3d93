"""What each lifecycle command does, without any command-line parsing: the
click commands (`pyrunc/commands/`) and the fast path (`pyrunc/fastcli.py`)
both parse their arguments and call these.  Each imports what it needs
when it runs, so `state` never loads what `create` needs."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyrunc.create import CreateOptions
    from pyrunc.invocation import Globals
    from pyrunc.store import Store


def _create_options(g: Globals, bundle: str = ".", console_socket: str | None = None, pid_file: str | None = None,
                    no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0) -> CreateOptions:
    """The flags `create` and `run` share, with the global ones."""
    from pyrunc.create import CreateOptions

    return CreateOptions(bundle=bundle, pid_file=pid_file, console_socket=console_socket, no_pivot=no_pivot,
                         no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, rootless=g.rootless,
                         systemd_cgroup=g.systemd_cgroup)


def create(g: Globals, container_id: str, **create_flags: object) -> None:
    from pyrunc.create import create as create_container

    create_container(g.store(), container_id, _create_options(g, **create_flags))


def run(g: Globals, container_id: str, detach: bool = False, keep: bool = False, no_subreaper: bool = False,
        **create_flags: object) -> int:
    """The container's exit code (128+N after signal N), or 0 with --detach."""
    from pyrunc.runner import run as run_container

    return run_container(g.store(), container_id, _create_options(g, **create_flags), detach=detach, keep=keep,
                         subreaper=not no_subreaper)


def start(g: Globals, container_id: str) -> None:
    from pyrunc.container import Container

    Container.load(g.store(), container_id).start()


def state(g: Globals, container_id: str) -> str:
    """The state JSON, indented like runc's."""
    from pyrunc import jsontext
    from pyrunc.container import Container

    return jsontext.dumps(Container.load(g.store(), container_id).state_json(), indent=2)


def kill(g: Globals, container_id: str, signal: str = "SIGTERM", all_: bool = False) -> None:
    from pyrunc.container import Container, parse_signal

    sig = parse_signal(signal)
    Container.load(g.store(), container_id).kill(sig, all_)


def delete(g: Globals, container_id: str, force: bool = False) -> None:
    from pyrunc.container import Container
    from pyrunc.errors import ContainerNotFound

    store = g.store()
    try:
        c = Container.load(store, container_id)
    except ContainerNotFound:
        if force:
            _remove_leftover(store, container_id)
            return
        raise
    c.delete(force)


def _remove_leftover(store: Store, cid: str) -> None:
    """A state dir without state.json: a create killed before it wrote
    anything (it records the cgroup before making it, so nothing else
    exists yet).  --force removes the dir."""
    import os

    from pyrunc.store import STATE_FILE

    with store.lock(cid, missing_ok=True) as present:
        if present and not os.path.exists(store.path(cid, STATE_FILE)):
            store.remove(cid)


def list_(g: Globals, fmt: str = "table", quiet: bool = False) -> str:
    """The text `list` prints (with its final newline, or empty)."""
    from pyrunc.container import list_containers

    containers = list_containers(g.store())
    if quiet:
        return "".join(f"{c.id}\n" for c in containers)
    rows = []
    for c in containers:
        st = c.state_json()
        rows.append({
            "ociVersion": st["ociVersion"], "id": c.id, "pid": st.get("pid", 0), "status": st["status"],
            "bundle": c.bundle, "rootfs": st["rootfs"], "created": st["created"], "owner": st["owner"],
            "annotations": st.get("annotations") or {},
        })
    if fmt == "json":
        from pyrunc import jsontext

        return jsontext.dumps(rows) + "\n"
    lines = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    for r in rows:
        lines.append((r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "".join("   ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() + "\n" for line in lines)


def pause(g: Globals, container_id: str) -> None:
    from pyrunc.cgroups import ops

    ops.pause(g.root, container_id)


def resume(g: Globals, container_id: str) -> None:
    from pyrunc.cgroups import ops

    ops.resume(g.root, container_id)


def ps(g: Globals, container_id: str, fmt: str = "table", ps_args: tuple[str, ...] = ()) -> str:
    from pyrunc.cgroups import ops

    return ops.ps(g.root, container_id, fmt, list(ps_args))
