"""`exec`: run a process in a running container (runc's flags)."""
from __future__ import annotations

import sys

import click

from pyrunc.errors import PyruncError


@click.command(
    help="execute new process inside the container",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("-p", "--process", "process_file", default=None, help="path to the process.json")
@click.option("--console-socket", default=None, help="AF_UNIX socket receiving the pty master")
@click.option("--pidfd-socket", default=None, help="AF_UNIX socket receiving a pidfd of the process")
@click.option("--cwd", default=None, help="current working directory in the container")
@click.option("-e", "--env", multiple=True, help="set environment variables (NAME=VALUE)")
@click.option("-t", "--tty", is_flag=True, help="allocate a pseudo-TTY")
@click.option("-u", "--user", default=None, help="UID (format: <uid>[:<gid>])")
@click.option("-g", "--additional-gids", multiple=True, type=click.IntRange(min=0), help="additional gids")
@click.option("-d", "--detach", is_flag=True, help="detach from the container's process")
@click.option("--pid-file", default=None, help="file to write the process id to")
@click.option("--process-label", default=None, help="set the asm process label for the process")
@click.option("--apparmor", default=None, help="set the apparmor profile for the process")
@click.option("--no-new-privs", is_flag=True, default=None, help="set the no new privileges value for the process")
@click.option("-c", "--cap", multiple=True, help="add a capability to the bounding set for the process")
@click.option("--preserve-fds", default=0, type=click.IntRange(min=0), help="pass N additional fds (from 3)")
@click.option("--cgroup", "cgroups", multiple=True, help="run in a sub-cgroup: [<controller>:]<path>")
@click.option("--ignore-paused", is_flag=True, help="allow exec in a paused container")
@click.argument("container_id")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def command(g, process_file, console_socket, pidfd_socket, cwd, env, tty, user, additional_gids, detach, pid_file,
            process_label, apparmor, no_new_privs, cap, preserve_fds, cgroups, ignore_paused,
            container_id, command) -> None:
    from pyrunc.exec import ExecOptions, ProcessOverrides, execute, process_from_flags

    try:
        store = g.store()
        if process_file:
            from pyrunc.spec.load import load_process

            process = load_process(process_file)
        else:
            from pyrunc.container import Container

            base = Container.load(store, container_id).config().get("process") or {}
            process = process_from_flags(base, ProcessOverrides(
                args=list(command), env=list(env), cwd=cwd, tty=tty, user=user,
                additional_gids=list(additional_gids), process_label=process_label, apparmor=apparmor,
                no_new_privs=no_new_privs, caps=list(cap)))
        from pyrunc import log

        log.debug(f"exec {container_id}: process {process.get('args')}, tty {bool(process.get('terminal'))}, "
                  f"detach {detach}")
        code = execute(store, container_id, process, ExecOptions(
            detach=detach, console_socket=console_socket, pid_file=pid_file, preserve_fds=preserve_fds,
            cgroup=list(cgroups), ignore_paused=ignore_paused, rootless=g.rootless, pidfd_socket=pidfd_socket))
    except PyruncError as e:
        e.exit_code = 255  # a runtime failure, not the process's status
        raise
    except OSError as e:  # one line naming the path, never an `internal error`
        from pyrunc.errors import describe_oserror

        err = PyruncError(f"exec failed: {describe_oserror(e)}")
        err.exit_code = 255
        raise err from None
    from pyrunc import log

    log.debug(f"exec {container_id}: " + ("started, detached" if detach else f"the process exited: status {code}"))
    sys.exit(code)
