"""What the commands a container manager calls on every container import.
Each heavy module here costs milliseconds of every container's start-up
(docs/benchmarks.md); this fails when one slips back onto the path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
HOT = ("click", "typing", "json", "re", "enum", "dataclasses", "inspect", "subprocess", "socket", "pathlib",
       "hashlib", "datetime", "contextlib", "pydantic", "pydantic_core", "cffi", "_cffi_backend")


def imported_by(args: list[str], cwd: Path) -> set[str]:
    # argv: -c OUT ARGS...; the module list is written at exit, whatever the exit path
    code = ("import sys, atexit\n"
            "out = sys.argv.pop(1)\n"
            "atexit.register(lambda: open(out, 'w').write('\\n'.join(sorted(sys.modules))))\n"
            "from pyrunc.__main__ import main\n"
            "main()\n")
    out = cwd / "modules.json"
    # stderr to a file: a created container's init inherits it (a pipe would never close)
    with open(cwd / "stderr", "w+") as err:
        subprocess.run([sys.executable, "-c", code, str(out), *args], cwd=REPO,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=60)
        err.seek(0)
        assert out.exists(), err.read()
    return {m.split(".")[0] for m in out.read_text().split()}


@pytest.mark.parametrize("args", [["state", "nope"], ["kill", "nope", "KILL"], ["delete", "--force", "nope"],
                                  ["list"], ["start", "nope"], ["pause", "nope"]])
def test_hot_commands_import_nothing_heavy(args, tmp_path):
    mods = imported_by(["--root", str(tmp_path / "root"), *args], tmp_path)
    assert mods & set(HOT) == set()
