"""Running runtime-spec hooks in the runtime's namespaces (prestart,
createRuntime, poststart, poststop): the state JSON on stdin, the hook's own
args, killed at its timeout (with everything it started: each hook runs in
its own process group).

Environment and working directory as runc: a hook with an `env` list gets
exactly that list (`[]` is an empty environment); without one it inherits
the runtime's own environment (Go's exec.Cmd with a nil Env).  runc's
`create` and `run` change into the bundle directory, so prestart,
createRuntime and poststart hooks run there; poststop runs where `delete`
was called (in the bundle under `run`).  The callers pass that `cwd`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

from pyrunc.errors import HookError


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()


def hook_env(hook: dict[str, Any]) -> dict[str, str] | None:
    """The hook's environment for Popen: without `env`, the one pyrunc was
    started with (None: inherit, unless pyrunc added variables of its own)."""
    env = hook.get("env")
    if env is None:
        added = getattr(sys.modules.get("pyrunc.spec.load"), "ADDED_ENV", ())
        return {k: v for k, v in os.environ.items() if k not in added} if added else None
    return {k: v for k, _, v in (e.partition("=") for e in env)}


def run_hook(kind: str, hook: dict[str, Any], state: dict[str, Any], cwd: str | None = None) -> None:
    path = hook["path"]
    args = hook.get("args") or [path]
    timeout = hook.get("timeout")
    # Files, not pipes: a hook that does not read its stdin, or leftover
    # children holding a pipe open, cannot make us wait past the timeout.
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile() as out:
        inp.write(json.dumps(state).encode())
        inp.seek(0)
        try:
            proc = subprocess.Popen(
                args,
                executable=path,
                stdin=inp,
                stdout=out,
                stderr=out,
                env=hook_env(hook),
                cwd=cwd,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as e:
            what = e.strerror or str(e)
            if cwd is not None and not os.path.isdir(cwd):
                what = f"working directory {cwd}: {what}"
            raise HookError(kind, path, what) from None
        try:
            rc = proc.wait(timeout=timeout if timeout else None)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise HookError(kind, path, f"did not finish within its timeout of {timeout}s and was killed") from None
        except BaseException:
            _kill_group(proc)
            raise
        if rc != 0:
            why = f"exited with status {rc}" if rc > 0 else f"killed by signal {-rc}"
            out.seek(0)
            lines = out.read(1 << 16).decode(errors="replace").strip().splitlines()
            if lines:
                why += f": {lines[-1]}"
            raise HookError(kind, path, why)


def run_hooks(kind: str, hooks: list[dict[str, Any]] | None, state: dict[str, Any], cwd: str | None = None) -> None:
    for hook in hooks or []:
        run_hook(kind, hook, state, cwd)
