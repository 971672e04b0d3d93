"""Prepare the ways a user can get a `pyrunc` command, in one fresh venv of
one interpreter, for `python3 -m bench --only state`:

    python3 -m bench.entrypoints DIR [--python PY]

* DIR/venv/bin/pyrunc: what `pip install pyrunc-*.whl` gives (the wheel's
  lean script; runs `site`);
* DIR/launcher: `python -m pyrunc.launcher` in that venv (-I -S, module
  path frozen; what .ci/install writes);
* DIR/console-script: pip's console-script template for
  `pyrunc.__main__:main` (what a `[project.scripts]` entry would give:
  imports `re`).

The wheel is built from this checkout with `pip wheel` (build requirements
from build/wheelhouse when present, else the package index) and installed
with its dependencies the same way.  Prints the bench command line."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEELHOUSE = os.path.join(REPO, "build", "wheelhouse")

# pip's template (pip/_vendor/distlib/scripts.py SCRIPT_TEMPLATE), as pip 26 writes it
CONSOLE_TEMPLATE = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from pyrunc.__main__ import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def _pip(python: str, *args: str) -> None:
    env = dict(os.environ)
    if os.path.isdir(WHEELHOUSE):
        env["PIP_FIND_LINKS"] = WHEELHOUSE
    subprocess.run([python, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True, env=env)


def prepare(dest: str, python: str) -> dict[str, str]:
    venv = os.path.join(dest, "venv")
    subprocess.run([python, "-m", "venv", venv], check=True)
    vpy = os.path.join(venv, "bin", "python")
    wheels = os.path.join(dest, "wheels")
    _pip(vpy, "wheel", "--no-deps", "-w", wheels, REPO)
    wheel = [w for w in os.listdir(wheels) if w.startswith("pyrunc-")][0]
    _pip(vpy, "install", os.path.join(wheels, wheel))
    launcher = os.path.join(dest, "launcher")
    subprocess.run([vpy, "-m", "pyrunc.launcher", launcher], check=True, cwd="/")
    console = os.path.join(dest, "console-script")
    with open(console, "w") as f:
        f.write(CONSOLE_TEMPLATE.format(python=vpy))
    os.chmod(console, 0o755)
    return {"launcher": launcher, "wheel-script": os.path.join(venv, "bin", "pyrunc"), "console-script": console}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m bench.entrypoints", description=__doc__.split("\n\n")[0])
    p.add_argument("dest")
    p.add_argument("--python", default=getattr(sys, "_base_executable", sys.executable),
                   help="the interpreter of the venv (default: this one's base interpreter)")
    args = p.parse_args(argv)
    os.makedirs(args.dest, exist_ok=True)
    commands = prepare(os.path.abspath(args.dest), args.python)
    runtimes = " ".join(f"--runtime {name}={path}" for name, path in commands.items())
    print(f"python3 -m bench --only state --baseline launcher {runtimes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
