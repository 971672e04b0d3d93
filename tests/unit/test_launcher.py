"""The lean launcher (pyrunc/launcher.py): an isolated, site-less
interpreter that still finds pyrunc and its dependencies, and ignores the
caller's PYTHONPATH."""
from __future__ import annotations

import os
import subprocess
import sys

from pyrunc.launcher import launcher_source, write_launcher


def test_source_has_one_shebang_word_and_the_frozen_path():
    src = launcher_source("/usr/bin/python3", ["/a", "/b"])
    first = src.splitlines()[0]
    assert first == "#!/usr/bin/python3 -IS"
    assert "sys.path[:] = ['/a', '/b']" in src


def test_written_launcher_runs_pyrunc_isolated(tmp_path):
    dest = tmp_path / "pyrunc"
    write_launcher(str(dest))
    assert os.access(dest, os.X_OK)
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "pyrunc").mkdir()
    (evil / "pyrunc" / "__init__.py").write_text("raise SystemExit('imported from PYTHONPATH')\n")
    env = {**os.environ, "PYTHONPATH": str(evil)}
    p = subprocess.run([str(dest), "--root", str(tmp_path / "state"), "list", "-q"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    p = subprocess.run([str(dest), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("pyrunc version"), p.stderr
    # the same with a plain interpreter would import the planted package
    p = subprocess.run([sys.executable, "-c", "import pyrunc"], env=env, capture_output=True, text=True,
                       cwd=tmp_path)
    assert "imported from PYTHONPATH" in p.stderr
