"""Drive a runtime binary through the runtime-spec operations (runtime.md#operations).

Uses the runc-compatible command line shared by runc, crun and pyrunc:
``RUNTIME --root DIR create --bundle B [--pid-file F] ID``, ``start ID``,
``state ID``, ``kill ID SIGNAL``, ``delete [--force] ID``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

OP_TIMEOUT = 30.0


class RuntimeTimeout(Exception):
    """An operation did not finish within its timeout."""


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe(self) -> str:
        msg = (self.stderr.strip() or self.stdout.strip()).splitlines()
        tail = msg[-1] if msg else ""
        i = self.argv.index("--root") + 2 if "--root" in self.argv else 1
        op = self.argv[i:i + 1] + tuple(a for a in self.argv[i + 1:] if not a.startswith("/"))
        return f"`{' '.join(op)}` exited {self.rc}" + (f": {tail}" if tail else "")


class Runtime:
    """One runtime binary with a private state directory (``--root``)."""

    def __init__(self, path: str, root: Path, global_args: Sequence[str] = ()) -> None:
        self.path = path
        self.root = root
        self.global_args = list(global_args)
        self.features: dict[str, Any] | None = None

    def argv(self, *args: str) -> list[str]:
        return [self.path, *self.global_args, "--root", str(self.root), *args]

    def call(self, *args: str, timeout: float = OP_TIMEOUT, stdout: Any = subprocess.PIPE,
             stderr: Any = subprocess.PIPE, umask: int = -1, pass_fds: Sequence[int] = ()) -> Result:
        """Run one operation.  Pipes are only safe for operations that do not
        hand their stdio to a container (everything except create/run)."""
        argv = self.argv(*args)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                text=True, start_new_session=True, umask=umask,
                                pass_fds=tuple(pass_fds))
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise RuntimeTimeout(f"`{' '.join(argv)}` did not finish in {timeout:.0f}s")
        except BaseException:
            _kill_group(proc)
            raise
        return Result(tuple(argv), proc.returncode, out or "", err or "")

    # -- the runtime-spec operations ----------------------------------------

    def create(self, cid: str, bundle: Path, stdio_dir: Path, pid_file: Path | None = None,
               umask: int = -1, pass_fds: Sequence[int] = (), timeout: float = OP_TIMEOUT) -> Result:
        """create; the container's stdout/stderr go to files in stdio_dir (a
        pipe would stay open as long as the container lives)."""
        args = ["create", "--bundle", str(bundle)]
        if pid_file is not None:
            args += ["--pid-file", str(pid_file)]
        args.append(cid)
        with open(stdio_dir / "stdout", "ab") as out, open(stdio_dir / "stderr", "ab") as err:
            res = self.call(*args, stdout=out, stderr=err, umask=umask, pass_fds=pass_fds,
                            timeout=timeout)
        return Result(res.argv, res.rc, "", _tail(stdio_dir / "stderr"))

    def run(self, cid: str, bundle: Path, stdio_dir: Path) -> Result:
        """runc-compatible ``run`` (create+start+wait), for exit statuses."""
        with open(stdio_dir / "stdout", "ab") as out, open(stdio_dir / "stderr", "ab") as err:
            res = self.call("run", "--bundle", str(bundle), cid, stdout=out, stderr=err)
        return Result(res.argv, res.rc, "", _tail(stdio_dir / "stderr"))

    def start(self, cid: str) -> Result:
        return self.call("start", cid)

    def state(self, cid: str) -> Result:
        return self.call("state", cid)

    def state_json(self, cid: str) -> dict[str, Any]:
        res = self.state(cid)
        if not res.ok:
            raise OperationFailed(res)
        try:
            doc = json.loads(res.stdout)
        except ValueError as exc:
            raise OperationFailed(res, f"state output is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise OperationFailed(res, "state output is not a JSON object")
        return doc

    def kill(self, cid: str, sig: str) -> Result:
        return self.call("kill", cid, sig)

    def delete(self, cid: str, force: bool = False) -> Result:
        return self.call("delete", *(["--force"] if force else []), cid)

    def wait_status(self, cid: str, want: str, timeout: float = 15.0) -> dict[str, Any]:
        """Poll state until status == want; returns the last state."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            st = self.state_json(cid)
            if st.get("status") == want:
                return st
            if time.monotonic() > deadline:
                raise RuntimeTimeout(f"container {cid} still {st.get('status')!r} after {timeout:.0f}s,"
                                     f" expected {want!r}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def load_features(self) -> dict[str, Any] | None:
        """features operation (features.md); None when the runtime lacks it."""
        try:
            res = self.call("features", timeout=10)
        except RuntimeTimeout:
            return None
        if not res.ok:
            return None
        try:
            doc = json.loads(res.stdout)
        except ValueError:
            return None
        self.features = doc if isinstance(doc, dict) else None
        return self.features


class OperationFailed(Exception):
    def __init__(self, res: Result, why: str = "") -> None:
        super().__init__(why or res.describe())
        self.result = res


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        data = path.read_bytes()[-limit:]
    except OSError:
        return ""
    return data.decode(errors="replace")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError):
        pass
