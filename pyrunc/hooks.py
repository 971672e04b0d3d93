"""Running runtime-spec hooks in the runtime's namespaces (prestart,
createRuntime, poststart, poststop): the state JSON on stdin, the hook's own
args and env, killed at its timeout (with everything it started: each hook
runs in its own process group)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
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


def run_hook(kind: str, hook: dict[str, Any], state: dict[str, Any]) -> None:
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
                env={k: v for k, _, v in (e.partition("=") for e in hook.get("env") or [])},
                close_fds=True,
                start_new_session=True,
            )
        except OSError as e:
            raise HookError(kind, path, e.strerror or str(e)) from None
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


def run_hooks(kind: str, hooks: list[dict[str, Any]] | None, state: dict[str, Any]) -> None:
    for hook in hooks or []:
        run_hook(kind, hook, state)
