"""Running runtime-spec hooks in the runtime's namespaces (prestart,
createRuntime, poststart, poststop): the state JSON on stdin, the hook's own
args and env, killed at its timeout."""
from __future__ import annotations

import json
import subprocess
from typing import Any

from pyrunc.errors import HookError


def run_hook(kind: str, hook: dict[str, Any], state: dict[str, Any]) -> None:
    path = hook["path"]
    args = hook.get("args") or [path]
    timeout = hook.get("timeout")
    try:
        proc = subprocess.run(
            args,
            executable=path,
            input=json.dumps(state).encode(),
            env={k: v for k, _, v in (e.partition("=") for e in hook.get("env") or [])},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout if timeout else None,
            close_fds=True,
        )
    except subprocess.TimeoutExpired:
        raise HookError(kind, path, f"did not finish within its timeout of {timeout}s and was killed") from None
    except OSError as e:
        raise HookError(kind, path, e.strerror or str(e)) from None
    if proc.returncode != 0:
        why = f"exited with status {proc.returncode}" if proc.returncode > 0 else f"killed by signal {-proc.returncode}"
        out = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        if out:
            why += f": {out[-1]}"
        raise HookError(kind, path, why)


def run_hooks(kind: str, hooks: list[dict[str, Any]] | None, state: dict[str, Any]) -> None:
    for hook in hooks or []:
        run_hook(kind, hook, state)
