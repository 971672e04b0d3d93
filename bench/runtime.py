"""A runtime under test: a name, a command (possibly several words) and a
private state directory passed as the global `--root` option.

Every runtime is driven through its runc-compatible command line only, so the
same code measures runc, crun and pyrunc.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field

from . import proc


@dataclass
class Runtime:
    name: str
    command: list[str]
    root: str = ""
    stderr_path: str = ""
    ids: set[str] = field(default_factory=set)

    def argv(self, *args: str) -> list[str]:
        return [*self.command, "--root", self.root, *args]

    def run(self, *args: str) -> proc.Result:
        """Run a subcommand, raise BenchError if it fails."""
        return proc.check(self.argv(*args), self.stderr_path)

    def try_run(self, *args: str) -> proc.Result:
        """Run a subcommand, whatever its exit code (for cleanup)."""
        return proc.run(self.argv(*args), self.stderr_path)

    def version(self) -> str:
        try:
            out = subprocess.run(
                [*self.command, "--version"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unknown ({exc})"
        text = (out.stdout or out.stderr).strip()
        return " ".join(text.splitlines()[:1]) or f"unknown (exit {out.returncode})"

    def list_ids(self) -> list[str]:
        """Container ids in the store: `list -q`, else the first column of `list`."""
        for args, skip in ((("list", "-q"), 0), (("list",), 1)):
            try:
                out = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired):
                return []
            if out.returncode == 0:
                lines = out.stdout.splitlines()[skip:]
                return [line.split()[0] for line in lines if line.strip()]
        return []

    def forget(self, cid: str) -> None:
        self.ids.discard(cid)

    def cleanup(self) -> None:
        """Force-delete every container this runtime created (and any left in its root)."""
        for cid in sorted(self.ids | set(self.list_ids())):
            self.try_run("delete", "--force", cid)
        self.ids.clear()
        proc.reap()


def parse_spec(spec: str) -> Runtime:
    """`NAME=COMMAND` (COMMAND may be several words, e.g. "python3 -m pyrunc"),
    or just COMMAND (the name is then the basename of its first word)."""
    name, sep, cmd = spec.partition("=")
    if not sep:
        name, cmd = "", spec
    words = shlex.split(cmd)
    if not words:
        raise ValueError(f"--runtime {spec!r}: empty command")
    if not name:
        name = os.path.basename(words[0])
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"--runtime {spec!r}: name {name!r} must be alphanumeric")
    if shutil.which(words[0]) is None:
        raise ValueError(f"--runtime {spec!r}: {words[0]} not found or not executable")
    return Runtime(name=name, command=words)
