"""Write a start-up-lean `pyrunc` executable.

pip's console script starts Python normally: `site` runs, the `.pth` files
of the venv are executed, and `PYTHON*` variables of whoever calls the
runtime are honoured.  A runtime is started four to six times per
container, as root, by a container manager, so the launcher written here
starts the interpreter isolated (`-I`: no PYTHONPATH, PYTHONSTARTUP, user
site or script directory on sys.path) and without `site` (`-S`), with the
module path of the interpreter that wrote it frozen in.  That saves the
`site` work (~1–2 ms per call here) and keeps the caller's environment out
of the runtime's imports.

    python -m pyrunc.launcher DEST     # e.g. .venv/bin/pyrunc (done by .ci/install)

Re-run it after changing what is installed in the venv (its sys.path is
frozen at writing time).

A wheel cannot carry such a launcher: pip rewrites a script's `#!python`
to the bare interpreter path and drops any flags, and it knows nothing of
the install location at build time.  So the wheel ships the next best thing,
`pip_script_source()` (written by setup.py as the package's `pyrunc`
script): it still runs `site`, but imports nothing beyond the fast path,
where pip's console-script template imports `re` (~3 ms) on every call.
`python3 -m bench --only entry` measures the two side by side."""
from __future__ import annotations

import os
import sys


def launcher_source(python: str, path: list[str]) -> str:
    # one shebang argument: Linux passes everything after the interpreter as one word
    return (f"#!{python} -IS\n"
            "# Written by `python -m pyrunc.launcher`: isolated, no site, module path frozen.\n"
            "import sys\n"
            f"sys.path[:] = {path!r}\n"
            "from pyrunc.__main__ import main\n"
            "main()\n")


def pip_script_source() -> str:
    """The `pyrunc` script a wheel installs (pip replaces `#!python` with its
    interpreter's path).  No `re`, unlike pip's console-script template; the
    script's own directory (bin/) leaves the module path."""
    return ("#!python\n"
            "# pyrunc's command, from the wheel: imports only the fast path.  For an isolated,\n"
            "# site-less one: python -m pyrunc.launcher PATH (docs/startup.md).\n"
            "import sys\n"
            "if not sys.flags.safe_path:\n"
            "    del sys.path[0]\n"
            "from pyrunc.__main__ import main\n"
            "main()\n")


def module_path(python: str) -> list[str]:
    """`python`'s module search path as an isolated start sees it: the
    stdlib, site-packages and what its .pth files add, and the directory
    pyrunc is imported from (an editable install may reach it through an
    import hook rather than sys.path); never the current or the script's
    directory."""
    import json
    import subprocess

    code = ("import json, os, sys, pyrunc; "
            "print(json.dumps([sys.path, os.path.dirname(os.path.dirname(os.path.abspath(pyrunc.__file__)))]))")
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True,
                         cwd="/").stdout
    path, home = json.loads(out)
    path = [p for p in path if p and os.path.isabs(p)]
    return path if home in path else [*path, home]


def write_launcher(dest: str, python: str | None = None) -> None:
    python = python or sys.executable
    if not python or len(python) > 120 or any(c.isspace() for c in python):
        raise SystemExit(f"pyrunc.launcher: unusable interpreter path for a shebang: {python!r}")
    tmp = f"{dest}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(launcher_source(python, module_path(python)))
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: python -m pyrunc.launcher DEST\n")
        return 2
    write_launcher(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
