"""What each lifecycle command does, without any command-line parsing: the
click commands (`pyrunc/commands/`) and the fast path (`pyrunc/fastcli.py`)
both parse their arguments and call these, and these call the Python API
(`pyrunc.api`: Runtime, Container) and format its results as runc does.
`run` keeps its own loop (`pyrunc.runner`: signal forwarding, the terminal
proxy).  Each imports what it needs when it runs, so `state` never loads
what `create` needs."""
from __future__ import annotations

from pyrunc import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyrunc.api import Runtime
    from pyrunc.create import CreateOptions
    from pyrunc.invocation import Globals


def runtime(g: Globals) -> Runtime:
    """The API's Runtime for the global flags (root and rootless resolved)."""
    from pyrunc.api import Runtime

    return Runtime(g.root, rootless=g.rootless, systemd_cgroup=g.systemd_cgroup)


def _create_options(g: Globals, bundle: str = ".", console_socket: str | None = None, pid_file: str | None = None,
                    no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0,
                    pidfd_socket: str | None = None) -> CreateOptions:
    """The flags `create` and `run` share, with the global ones."""
    from pyrunc.create import CreateOptions

    return CreateOptions(bundle=bundle, pid_file=pid_file, console_socket=console_socket, no_pivot=no_pivot,
                         no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, rootless=g.rootless,
                         systemd_cgroup=g.systemd_cgroup, pidfd_socket=pidfd_socket)


def create(g: Globals, container_id: str, bundle: str = ".", console_socket: str | None = None,
           pid_file: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False,
           preserve_fds: int = 0, pidfd_socket: str | None = None) -> None:
    log.debug(f"create {container_id}: bundle {bundle}, root {g.root}")
    c = runtime(g).create(container_id, bundle, console_socket=console_socket, pid_file=pid_file,
                          preserve_fds=preserve_fds, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                          pidfd_socket=pidfd_socket)
    log.debug(f"create {container_id}: created, init pid {c.pid} waits at the start gate")


def run(g: Globals, container_id: str, detach: bool = False, keep: bool = False, no_subreaper: bool = False,
        **create_flags: object) -> int:
    """The container's exit code (128+N after signal N), or 0 with --detach."""
    from pyrunc.runner import run as run_container

    log.debug(f"run {container_id}: bundle {create_flags.get('bundle', '.')}, detach {detach}, keep {keep}")
    code = run_container(g.store(), container_id, _create_options(g, **create_flags), detach=detach, keep=keep,
                         subreaper=not no_subreaper)
    log.debug(f"run {container_id}: " + ("started, detached" if detach else f"the process exited: status {code}"))
    return code


def start(g: Globals, container_id: str) -> None:
    c = runtime(g).get(container_id)
    log.debug(f"start {container_id}: init pid {c.pid}: opening the start gate")
    c.start()
    log.debug(f"start {container_id}: the init exec'd the process")


def state(g: Globals, container_id: str) -> str:
    """The state JSON, indented like runc's."""
    from pyrunc import jsontext

    st = runtime(g).get(container_id).state()
    log.debug(f"state {container_id}: {st['status']}, pid {st.get('pid', 0)}")
    return jsontext.dumps(st, indent=2)


def kill(g: Globals, container_id: str, signal: str = "SIGTERM", all_: bool = False) -> None:
    from pyrunc.container import parse_signal

    sig = parse_signal(signal)  # a bad signal is an error before the container is looked up (runc)
    c = runtime(g).get(container_id)
    log.debug(f"kill {container_id}: signal {sig} to " + ("every process of the container" if all_ else f"init pid {c.pid}"))
    c.kill(sig, all_)
    log.debug(f"kill {container_id}: signal {sig} sent")


def delete(g: Globals, container_id: str, force: bool = False) -> None:
    from pyrunc.api import Container

    # (not runtime(g).get(): a --force delete of a half-made container has no state to load)
    log.debug(f"delete {container_id}: force {force}")
    Container.by_id(runtime(g), container_id).delete(force)
    log.debug(f"delete {container_id}: its processes are gone, cgroup and state removed")


def list_(g: Globals, fmt: str = "table", quiet: bool = False) -> str:
    """The text `list` prints (with its final newline, or empty)."""
    containers = runtime(g).list()
    log.debug(f"list: {len(containers)} container(s) under {g.root}")
    if quiet:
        return "".join(f"{c.id}\n" for c in containers)
    rows = []
    for c in containers:
        st = c.state()
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
    from pyrunc.api import Container

    log.debug(f"pause {container_id}: freezing its cgroup")
    Container.by_id(runtime(g), container_id).pause()
    log.debug(f"pause {container_id}: frozen")


def resume(g: Globals, container_id: str) -> None:
    from pyrunc.api import Container

    log.debug(f"resume {container_id}: thawing its cgroup")
    Container.by_id(runtime(g), container_id).resume()
    log.debug(f"resume {container_id}: thawed")


def ps(g: Globals, container_id: str, fmt: str = "table", ps_args: tuple[str, ...] = ()) -> str:
    from pyrunc.cgroups import ops

    log.debug(f"ps {container_id}: format {fmt}, ps arguments {list(ps_args)}")
    return ops.ps(g.root, container_id, fmt, list(ps_args))
